// The property keys the tiered store is configured by, with Alluxio's names and
// defaults, and the reading of them into a layout. The keys live here until the
// registry in actors/conf.ts takes them in; the registry cannot express
// "level{N}", so the three levels are spelled out.
import type { PropertyKey } from '../actors/conf.js';
import { parseBytes } from '../actors/conf.js';
import { ALLOCATOR_KINDS, type AllocatorKind } from './allocator.js';
import { LRFU_DEFAULT_ATTENUATION_FACTOR, LRFU_DEFAULT_STEP_FACTOR, type AnnotatorSpec } from './annotator.js';
import { TIER_ALIASES, type TierAlias } from './block-file.js';

const DEFAULT_DIRS: Record<TierAlias, string> = {
  MEM: '${strata.work.dir}/tiers/mem',
  SSD: '${strata.work.dir}/tiers/ssd',
  HDD: '${strata.work.dir}/tiers/hdd',
};
const DEFAULT_QUOTAS: Record<TierAlias, string> = { MEM: '${strata.worker.ramdisk.size}', SSD: '10GB', HDD: '100GB' };

function levelKeys(n: number): PropertyKey[] {
  const alias = TIER_ALIASES[n]!;
  const p = `strata.worker.tieredstore.level${n}`;
  return [
    { name: `${p}.alias`, type: 'enum', defaultValue: alias, scope: 'worker', description: `Alias of tier ${n} (0 is the top).`, values: TIER_ALIASES },
    {
      name: `${p}.dirs.path`,
      type: 'list',
      defaultValue: DEFAULT_DIRS[alias],
      scope: 'worker',
      description: `Comma-separated directories of tier ${n}${n === 0 ? ' (a tmpfs such as /dev/shm for MEM)' : ''}.`,
    },
    {
      name: `${p}.dirs.quota`,
      type: 'list',
      defaultValue: DEFAULT_QUOTAS[alias],
      scope: 'worker',
      description: `Comma-separated quotas of tier ${n}'s directories, in order; the last applies to any further directories.`,
    },
    {
      name: `${p}.dirs.mediumtype`,
      type: 'list',
      defaultValue: alias,
      scope: 'worker',
      description: `Comma-separated medium types of tier ${n}'s directories; the last applies to any further directories.`,
    },
  ];
}

/** Every key the tiered store reads, for the registry in actors/conf.ts. */
export const TIERED_STORE_PROPERTY_KEYS: readonly PropertyKey[] = [
  { name: 'strata.worker.tieredstore.levels', type: 'int', defaultValue: '1', scope: 'worker', description: 'Number of storage tiers on a worker (1 to 3).' },
  ...levelKeys(0),
  ...levelKeys(1),
  ...levelKeys(2),
  {
    name: 'strata.worker.allocator.class',
    type: 'enum',
    defaultValue: 'MaxFree',
    scope: 'worker',
    description: 'Chooses the directory of a tier for a new block: MaxFree (most free space), RoundRobin, or Greedy (first with room).',
    values: ALLOCATOR_KINDS,
  },
  {
    name: 'strata.worker.block.annotator.class',
    type: 'enum',
    defaultValue: 'LRU',
    scope: 'worker',
    description: 'Eviction order: LRU (least recently used) or LRFU (least recently/frequently used).',
    values: ['LRU', 'LRFU'],
  },
  {
    name: 'strata.worker.block.annotator.lrfu.step.factor',
    type: 'string',
    defaultValue: String(LRFU_DEFAULT_STEP_FACTOR),
    scope: 'worker',
    description: 'LRFU step factor in [0, 1]: smaller is closer to LFU, larger closer to LRU.',
  },
  {
    name: 'strata.worker.block.annotator.lrfu.attenuation.factor',
    type: 'string',
    defaultValue: String(LRFU_DEFAULT_ATTENUATION_FACTOR),
    scope: 'worker',
    description: 'LRFU attenuation factor, at least 2: how fast the weight of old accesses decays.',
  },
];

export interface TierDirLayout {
  readonly path: string;
  readonly quotaBytes: number;
  readonly mediumType: string;
}

export interface TieredStoreLayout {
  readonly levels: ReadonlyArray<{ readonly alias: TierAlias; readonly dirs: readonly TierDirLayout[] }>;
  readonly allocator: AllocatorKind;
  readonly annotator: AnnotatorSpec;
}

/**
 * Reads the keys above through `get` (resolved values, undefined when unset, in
 * which case the defaults here apply). The caller turns each directory path into
 * a Disk. Throws RangeError naming the key on a bad value.
 */
export function readTieredStoreLayout(get: (key: string) => string | undefined): TieredStoreLayout {
  const value = (name: string): string => get(name) ?? TIERED_STORE_PROPERTY_KEYS.find((k) => k.name === name)!.defaultValue;
  const bad = (name: string, why: string): never => {
    throw new RangeError(`${name}: ${why}`);
  };
  const list = (name: string): string[] => value(name).split(',').map((s) => s.trim()).filter((s) => s !== '');

  const nLevels = Number(value('strata.worker.tieredstore.levels'));
  if (!Number.isInteger(nLevels) || nLevels < 1 || nLevels > TIER_ALIASES.length) bad('strata.worker.tieredstore.levels', `must be 1 to ${TIER_ALIASES.length}`);
  const levels: Array<{ alias: TierAlias; dirs: TierDirLayout[] }> = [];
  for (let n = 0; n < nLevels; n++) {
    const p = `strata.worker.tieredstore.level${n}`;
    const alias = value(`${p}.alias`) as TierAlias;
    if (!TIER_ALIASES.includes(alias)) bad(`${p}.alias`, `must be one of ${TIER_ALIASES.join(', ')}`);
    const paths = list(`${p}.dirs.path`);
    if (paths.length === 0) bad(`${p}.dirs.path`, 'needs at least one directory');
    const quotas = list(`${p}.dirs.quota`);
    if (quotas.length === 0) bad(`${p}.dirs.quota`, 'needs at least one quota');
    const media = list(`${p}.dirs.mediumtype`);
    const dirs = paths.map((path, i) => {
      const q = quotas[Math.min(i, quotas.length - 1)]!;
      let quotaBytes = 0;
      try {
        quotaBytes = parseBytes(q);
      } catch (e) {
        bad(`${p}.dirs.quota`, e instanceof Error ? e.message : String(e));
      }
      return { path, quotaBytes, mediumType: media[Math.min(i, media.length - 1)] ?? alias };
    });
    levels.push({ alias, dirs });
  }

  const allocName = value('strata.worker.allocator.class');
  // Alluxio's values are class names (alluxio.worker.block.allocator.MaxFreeAllocator); accept those too.
  const allocator = ALLOCATOR_KINDS.find((k) => allocName === k || allocName.endsWith(`.${k}Allocator`) || allocName === `${k}Allocator`);
  if (!allocator) bad('strata.worker.allocator.class', `must be one of ${ALLOCATOR_KINDS.join(', ')}`);

  const annName = value('strata.worker.block.annotator.class');
  const annKind = (['LRU', 'LRFU'] as const).find((k) => annName === k || annName.endsWith(`.${k}Annotator`) || annName === `${k}Annotator`);
  if (!annKind) bad('strata.worker.block.annotator.class', 'must be LRU or LRFU');
  let annotator: AnnotatorSpec = { kind: 'LRU' };
  if (annKind === 'LRFU') {
    const stepFactor = Number(value('strata.worker.block.annotator.lrfu.step.factor'));
    if (!(stepFactor >= 0 && stepFactor <= 1)) bad('strata.worker.block.annotator.lrfu.step.factor', 'must be a number in [0, 1]');
    const attenuationFactor = Number(value('strata.worker.block.annotator.lrfu.attenuation.factor'));
    if (!(attenuationFactor >= 2) || !Number.isFinite(attenuationFactor)) bad('strata.worker.block.annotator.lrfu.attenuation.factor', 'must be a number >= 2');
    annotator = { kind: 'LRFU', stepFactor, attenuationFactor };
  }
  return { levels, allocator: allocator!, annotator };
}
