// Reading the tiered store's property keys (defined in the registry, actors/conf.ts)
// into a layout of levels and directories.
import type { PropertyKey } from '../actors/conf.js';
import { PROPERTY_KEYS, parseBytes } from '../actors/conf.js';
import { ALLOCATOR_KINDS, type AllocatorKind } from './allocator.js';
import type { AnnotatorSpec } from './annotator.js';
import { TIER_ALIASES, type TierAlias } from './block-file.js';

/** Every key the tiered store reads: a view of the one registry in actors/conf.ts. */
export const TIERED_STORE_PROPERTY_KEYS: readonly PropertyKey[] = [...PROPERTY_KEYS.values()].filter(
  (k) => k.name.startsWith('strata.worker.tieredstore.') || k.name === 'strata.worker.allocator.class' || k.name.startsWith('strata.worker.block.annotator.'),
);

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
