// The data path with real processes on loopback: a worker with MEM (on /dev/shm),
// SSD and HDD tiers of a few blocks each filled past capacity, checked tier by
// tier against LRU; every write type round-tripping a 200 MiB file; and a file
// changed in the UFS behind strata's back seen once the sync interval has passed.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StrataClient } from '../actors/client/client.js';
import { blockIdOf } from '../actors/block-id.js';
import { openClient } from '../cli/cluster.js';
import { loadConf } from '../cli/conf-loader.js';
import { freePort, killAll, runCli, startCli, waitFor, type Proc } from './helpers/processes.js';

const MiB = 1024 * 1024;
let dir: string;
let shm: string;
let conf: string[];
let settings: Record<string, string>;
/** An in-process client: a dozen writes and stats without a process each. */
let session: { client: StrataClient; close(): Promise<void> } | undefined;
const tierDirs: Record<string, string> = {};
let tiny: Proc;

function confArgs(c: Record<string, string>): string[] {
  return Object.entries(c).flatMap(([k, v]) => ['--conf', `${k}=${v}`]);
}

async function fs(args: string[], extra: string[] = []): Promise<string> {
  const r = await runCli(['fs', ...args, ...conf, ...extra], dir, 120_000);
  expect(r.code, `fs ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout.toString();
}

interface Stat {
  fileId: number;
  persisted: boolean;
  blocks: Array<{ locations: Array<{ workerId: string }> }>;
}

async function stat(path: string): Promise<Stat> {
  return JSON.parse(await fs(['stat', '--json', path])) as Stat;
}

/** Which tier directory holds each block file of the worker, read from the directories themselves. */
function blocksByTier(): Map<number, string> {
  const out = new Map<number, string>();
  for (const [tier, d] of Object.entries(tierDirs)) {
    for (const name of readdirSync(d)) if (/^\d+$/.test(name)) out.set(Number(name), tier);
  }
  return out;
}

function tierBytes(tier: string): number {
  return readdirSync(tierDirs[tier]!).filter((n) => /^\d+$/.test(n)).reduce((n, f) => n + statSync(join(tierDirs[tier]!, f)).size, 0);
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-itd-'));
  // MEM on a RAM disk where there is one; otherwise an ordinary directory stands in.
  shm = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/strata-itd-') : join(dir, 'mem');
  tierDirs.MEM = shm;
  tierDirs.SSD = join(dir, 'ssd');
  tierDirs.HDD = join(dir, 'hdd');
  for (const d of Object.values(tierDirs)) mkdirSync(d, { recursive: true });
  const masterPort = await freePort();
  settings = {
    'strata.work.dir': join(dir, 'data'),
    'strata.master.rpc.port': String(masterPort),
    'strata.master.worker.timeout': '2s',
    'strata.worker.block.heartbeat.interval': '200ms',
    'strata.user.rpc.timeout': '10s',
    'strata.user.block.size.bytes.default': '1MB',
    'strata.logger.level': 'warn',
  };
  conf = confArgs(settings);
  const master = startCli(['master', ...conf], dir);
  await waitFor('master to listen', async () => master.output().includes('listening'));
  const port = await freePort();
  tiny = startCli(['worker', '--id', 'worker-0', ...conf, ...confArgs({
    'strata.worker.rpc.port': String(port),
    'strata.worker.tieredstore.levels': '3',
    'strata.worker.tieredstore.level0.alias': 'MEM',
    'strata.worker.tieredstore.level0.dirs.path': tierDirs.MEM,
    'strata.worker.tieredstore.level0.dirs.quota': '2MB',
    'strata.worker.tieredstore.level1.alias': 'SSD',
    'strata.worker.tieredstore.level1.dirs.path': tierDirs.SSD,
    'strata.worker.tieredstore.level1.dirs.quota': '3MB',
    'strata.worker.tieredstore.level2.alias': 'HDD',
    'strata.worker.tieredstore.level2.dirs.path': tierDirs.HDD,
    'strata.worker.tieredstore.level2.dirs.quota': '4MB',
  })], dir);
  await waitFor('the 3-tier worker to listen', async () => tiny.output().includes('listening'));
});

afterAll(async () => {
  await session?.close();
  await killAll();
  rmSync(dir, { recursive: true, force: true });
  if (shm.startsWith('/dev/shm/')) rmSync(shm, { recursive: true, force: true });
});

describe('a 3-tier worker filled past capacity', () => {
  const ids = new Map<string, number>();
  const block = (path: string) => blockIdOf(ids.get(path)!);
  const write = async (i: number) => {
    session ??= await openClient(loadConf({ confFlags: Object.entries(settings).map(([k, v]) => `${k}=${v}`), cwd: dir }));
    const bytes = randomBytes(MiB);
    writeFileSync(join(dir, `one-${i}.bin`), bytes);
    const path = `/tiers/f${i}`;
    const c = session.client;
    await waitFor(`${path} to be written`, async () => (await c.writeFile(path, bytes, { overwrite: true })).fileId);
    ids.set(path, (await c.getStatus(path)).fileId);
  };

  it('moves blocks down MEM → SSD → HDD and evicts the least recently used, never over a quota', async () => {
    // Twelve one-block files into 2 + 3 + 4 blocks of tiers.
    for (let i = 0; i < 12; i++) {
      await write(i);
      for (const [t, q] of [['MEM', 2], ['SSD', 3], ['HDD', 4]] as const) expect(tierBytes(t), `${t} after f${i}`).toBeLessThanOrEqual(q * MiB);
    }
    const where = blocksByTier();
    const tierOf = (i: number) => where.get(block(`/tiers/f${i}`)) ?? 'gone';
    expect(Array.from({ length: 12 }, (_, i) => tierOf(i))).toEqual([
      'gone', 'gone', 'gone', 'HDD', 'HDD', 'HDD', 'HDD', 'SSD', 'SSD', 'SSD', 'MEM', 'MEM',
    ]);
    // The master's view, from the worker's block reports, agrees.
    await waitFor('block reports to catch up', async () => {
      const held = await Promise.all(Array.from({ length: 12 }, async (_, i) => (await session!.client.getStatus(`/tiers/f${i}`)).blocks[0]!.locations.length > 0));
      return held.every((h, i) => h === i >= 3) || undefined;
    });
  });

  it('a read makes the oldest block the newest: the next eviction takes the one after it', async () => {
    const f3 = await runCli(['fs', 'cat', '/tiers/f3', ...conf], dir);
    expect(f3.code, f3.stderr).toBe(0);
    expect(f3.stdout.equals(readFileSync(join(dir, 'one-3.bin')))).toBe(true);
    await write(12);
    const where = blocksByTier();
    expect(where.get(block('/tiers/f3'))).toBe('HDD');
    expect(where.has(block('/tiers/f4'))).toBe(false);
    expect(where.get(block('/tiers/f7'))).toBe('HDD');
    expect(where.get(block('/tiers/f12'))).toBe('MEM');
    // Evicted data is still there, read through from the UFS.
    const f0 = await runCli(['fs', 'cat', '/tiers/f0', ...conf], dir);
    expect(f0.stdout.equals(readFileSync(join(dir, 'one-0.bin')))).toBe(true);
  });
});

describe('every write type', () => {
  const data = randomBytes(200 * MiB);
  const digest = sha(data);
  const big = ['--conf', 'strata.user.block.size.bytes.default=64MB'];

  beforeAll(async () => {
    // The tiny worker cannot hold 200 MiB of MUST_CACHE data: a roomy one replaces it.
    await tiny.kill();
    mkdirSync(join(dir, 'roomy'), { recursive: true });
    const port = await freePort();
    const roomy = startCli(['worker', '--id', 'worker-1', ...conf, ...confArgs({
      'strata.worker.rpc.port': String(port),
      'strata.worker.tieredstore.level0.alias': 'HDD',
      'strata.worker.tieredstore.level0.dirs.path': join(dir, 'roomy'),
      'strata.worker.tieredstore.level0.dirs.quota': '1GB',
    })], dir);
    await waitFor('the roomy worker to listen', async () => roomy.output().includes('listening'));
    writeFileSync(join(dir, 'big.bin'), data);
  });

  it.each(['MUST_CACHE', 'CACHE_THROUGH', 'THROUGH', 'ASYNC_THROUGH'])('%s round-trips a 200 MiB file byte for byte', async (writeType) => {
    const path = `/big/${writeType}.bin`;
    const type = ['--conf', `strata.user.file.writetype.default=${writeType}`];
    await waitFor('the roomy worker to take the write', async () => {
      const r = await runCli(['fs', 'copyFromLocal', join(dir, 'big.bin'), path, ...conf, ...big, ...type], dir, 120_000);
      if (r.code !== 0) throw new Error(r.stderr);
      return true;
    });
    const out = join(dir, `${writeType}.out`);
    await fs(['copyToLocal', path, out], big);
    expect(sha(readFileSync(out))).toBe(digest);
    rmSync(out);
    const ufs = join(dir, 'data', 'ufs', 'big', `${writeType}.bin`);
    if (writeType === 'MUST_CACHE') expect(existsSync(ufs)).toBe(false);
    if (writeType === 'ASYNC_THROUGH') await waitFor('the file to be persisted', async () => (await stat(path)).persisted || undefined, 30_000);
    if (writeType !== 'MUST_CACHE') expect(sha(readFileSync(ufs))).toBe(digest);
  }, 120_000);
});

describe('metadata sync', () => {
  it('a file changed in the UFS directly is seen once strata.user.file.metadata.sync.interval has passed', async () => {
    // The directory is made through strata (the root was loaded long ago); the file appears behind its back.
    await fs(['mkdir', '/synced']);
    const ufsDir = join(dir, 'data', 'ufs', 'synced');
    writeFileSync(join(ufsDir, 'f.txt'), 'first version\n');
    const sync = ['--conf', 'strata.user.file.metadata.sync.interval=4s'];
    expect(await fs(['cat', '/synced/f.txt'], sync)).toBe('first version\n');
    const loaded = Date.now();
    writeFileSync(join(ufsDir, 'f.txt'), 'the second, longer version\n');
    // Within the interval the loaded metadata (and cached block) may still be served.
    const early = await fs(['cat', '/synced/f.txt'], sync);
    if (Date.now() - loaded < 4000) expect(early).toBe('first version\n');
    await new Promise((r) => setTimeout(r, Math.max(0, 4200 - (Date.now() - loaded))));
    expect(await fs(['cat', '/synced/f.txt'], sync)).toBe('the second, longer version\n');
  });
});
