// Metastores compared: HEAP (every inode a JS object) against ROCKS (inodes in
// classic-level behind a bounded cache), in-process against the Namespace state
// machine, at 1 million and 10 million inodes (`--quick`: 1 million only).
// Each (metastore, size) runs in its own process so resident memory is its own.
//
// Layout: directories of FANOUT files. Measured per run: create (mkdir + create
// entries applied, the ROCKS store flushed before the clock stops), getStatus hot
// (path lookup + what a FileInfo needs, over HOT_PATHS paths that stay cached)
// and cold (random paths over the whole namespace), listStatus (children of a
// random directory, sorted), and resident memory after a GC. For ROCKS it also
// prints what became of the directories' listing records (rebuilt or dropped by
// write-backs) and how many inodes listStatus had to read one by one.
// HEAP is the baseline: prints ROCKS ÷ HEAP per figure and
// `RESULT metastore ratio=<ROCKS ÷ HEAP cold getStatus ops/s at the largest size>`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Namespace, RejectedEntry, ROOT_ID } from '../actors/master/namespace.js';
import { HeapInodeStore, type InodeStore, type MetastoreType } from '../storage/metastore.js';
import { RocksInodeStore } from '../storage/metastore-rocks.js';
import { LevelKv } from '../transport/level-kv.js';
import { Prng } from '../sim/prng.js';
import { fail, runMain } from './entry.js';

const FANOUT = 1000;
const HOT_PATHS = 1000;
const CACHE_MAX = Number(process.env.BENCH_ROCKS_CACHE ?? 200_000);
const READ_MS = Number(process.env.BENCH_READ_MS ?? 3000);
/** Heap for the child processes: 10 million HEAP inodes need several GiB. */
const MAX_OLD_SPACE_MB = Number(process.env.BENCH_MAX_OLD_SPACE_MB ?? 16_384);

interface RunResult {
  type: MetastoreType;
  inodes: number;
  createPerSec: number;
  hotPerSec: number;
  coldPerSec: number;
  listPerSec: number;
  rssMiB: number;
  heapMiB: number;
  cacheMisses?: number;
  dirMisses?: number;
  /** ROCKS: listing records built by write-backs and listings, dropped by write-backs; spills of dirty inodes. */
  listings?: { rebuilt: number; dropped: number; spills: number; listReads: number };
}

/** Repeats `op` for about `ms` milliseconds; ops/s. */
function timed(ms: number, op: (i: number) => void): number {
  const t0 = performance.now();
  let i = 0;
  for (;;) {
    for (let k = 0; k < 256; k++) op(i++);
    const el = performance.now() - t0;
    if (el >= ms) return i / (el / 1000);
  }
}

/** `timed` for an operation that waits. */
async function timedAsync(ms: number, op: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  let i = 0;
  for (;;) {
    await op();
    i++;
    const el = performance.now() - t0;
    if (el >= ms) return i / (el / 1000);
  }
}

async function child(type: MetastoreType, inodes: number): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-metastore-'));
  let store: InodeStore;
  if (type === 'ROCKS') {
    const kv = await LevelKv.open(join(dir, 'kv'));
    store = await RocksInodeStore.open(kv, { cacheMaxSize: CACHE_MAX, highWaterMark: 0.85, lowWaterMark: 0.8 });
  } else {
    store = new HeapInodeStore();
  }
  try {
    const ns = new Namespace('file:///bench-ufs', 'strata', 'supergroup', store);
    const dirs = Math.ceil(inodes / (FANOUT + 1));
    const dirIds: number[] = [];
    const t0 = performance.now();
    let made = 1;
    for (let d = 0; d < dirs && made < inodes; d++) {
      const dn = ns.apply({ op: 'mkdir', parent: ROOT_ID, name: `d${d}`, mtimeMs: 0 });
      if (!dn || dn instanceof RejectedEntry) throw new Error(`mkdir /d${d} was refused`);
      dirIds.push(dn.id);
      made++;
      for (let f = 0; f < FANOUT && made < inodes; f++, made++) ns.apply({ op: 'create', parent: dn.id, name: `f${f}`, blockSize: 64 << 20, mtimeMs: 0 });
      // Yield now and then so write-backs land, as they do between journal entries in a master.
      if (d % 8 === 0) await new Promise((r) => setImmediate(r));
    }
    await store.flush();
    const createPerSec = made / ((performance.now() - t0) / 1000);
    if (ns.size !== made) throw new Error(`namespace holds ${ns.size} inodes, created ${made}`);

    // Directory d holds files after the root, the d directories before it with their files, and itself.
    const filesIn = (d: number) => Math.min(FANOUT, made - 2 - d * (FANOUT + 1));
    const pathAt = (x: number): string => {
      const d = Math.floor(x * dirIds.length);
      return `/d${d}/f${Math.floor(((x * dirIds.length) % 1) * filesIn(d))}`;
    };
    // What the master's getStatus does with the namespace: resolve, then its path and UFS location.
    const getStatus = (path: string): void => {
      const n = ns.lookup(path);
      if (!n) throw new Error(`${path} not found`);
      if (ns.pathOf(n) !== path || ns.ufsLocation(n).path.length === 0) throw new Error(`${path} resolved wrongly`);
    };
    // Seeded: the same paths for both metastores.
    const prng = new Prng(42);
    const rnd = () => prng.next();
    const hot = Array.from({ length: HOT_PATHS }, () => pathAt(rnd()));
    for (const p of hot) getStatus(p);
    timed(200, (i) => getStatus(hot[i % HOT_PATHS]!));
    const hotPerSec = timed(READ_MS, (i) => getStatus(hot[i % HOT_PATHS]!));
    const missesBefore = store instanceof RocksInodeStore ? store.stats.misses : 0;
    const dirMissesBefore = store instanceof RocksInodeStore ? store.stats.dirMisses : 0;
    const coldPerSec = timed(READ_MS, () => getStatus(pathAt(rnd())));
    const cacheMisses = store instanceof RocksInodeStore ? store.stats.misses - missesBefore : undefined;
    const dirMisses = store instanceof RocksInodeStore ? store.stats.dirMisses - dirMissesBefore : undefined;
    // As the master lists: the children it does not hold are read in one go.
    const readsBefore = store instanceof RocksInodeStore ? store.stats.readThrough : 0;
    const listPerSec = await timedAsync(READ_MS, async () => {
      const d = Math.floor(rnd() * dirIds.length);
      const dir = ns.get(dirIds[d]!)!;
      const kids = await ns.listChildren(dir);
      if (kids.length !== filesIn(d)) throw new Error(`listing /d${d}: ${kids.length} entries, expected ${filesIn(d)}`);
    });
    (globalThis as { gc?: () => void }).gc?.();
    const mem = process.memoryUsage();
    return {
      type, inodes: made, createPerSec, hotPerSec, coldPerSec, listPerSec, rssMiB: mem.rss / 2 ** 20, heapMiB: mem.heapUsed / 2 ** 20,
      ...(cacheMisses !== undefined ? { cacheMisses, dirMisses } : {}),
      ...(store instanceof RocksInodeStore
        ? { listings: { rebuilt: store.stats.listingsRebuilt, dropped: store.stats.listingsDropped, spills: store.stats.spills, listReads: store.stats.readThrough - readsBefore } }
        : {}),
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function runChild(type: MetastoreType, inodes: number): Promise<RunResult> {
  const p = spawn(process.execPath, [`--max-old-space-size=${MAX_OLD_SPACE_MB}`, '--expose-gc', fileURLToPath(import.meta.url), '--child', type, String(inodes)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((ok, no) => {
    let result: RunResult | undefined;
    createInterface({ input: p.stdout! }).on('line', (l) => {
      if (l.startsWith('{')) result = JSON.parse(l) as RunResult;
    });
    p.once('exit', (code, signal) => (result && code === 0 ? ok(result) : no(new Error(`${type} at ${inodes} inodes: child exited with ${code ?? signal} (out of memory?)`))));
  });
}

const k = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0));

async function main(): Promise<void> {
  const sizes = process.env.BENCH_INODES ? process.env.BENCH_INODES.split(',').map(Number) : process.argv.includes('--quick') ? [1_000_000] : [1_000_000, 10_000_000];
  console.log(`metastore: HEAP vs ROCKS (classic-level, inode cache ${k(CACHE_MAX)}), directories of ${FANOUT} files, ${READ_MS} ms per read figure`);
  let ratio = 0;
  for (const size of sizes) {
    const results: RunResult[] = [];
    for (const type of ['HEAP', 'ROCKS'] as const) {
      try {
        const r = await runChild(type, size);
        results.push(r);
        console.log(
          `  ${type.padEnd(5)} ${k(r.inodes).padStart(6)} inodes: create ${k(r.createPerSec)}/s, getStatus hot ${k(r.hotPerSec)}/s, cold ${k(r.coldPerSec)}/s` +
            `${r.cacheMisses !== undefined ? ` (${k(r.cacheMisses)} cache misses, ${k(r.dirMisses ?? 0)} of directories)` : ''}, listStatus ${k(r.listPerSec)}/s (${FANOUT} entries), rss ${r.rssMiB.toFixed(0)} MiB (heap ${r.heapMiB.toFixed(0)} MiB)` +
            (r.listings
              ? `\n        listing records: ${k(r.listings.rebuilt)} rebuilt and ${k(r.listings.dropped)} dropped by write-backs, ${k(r.listings.spills)} spills;` +
                ` listStatus read ${k(r.listings.listReads)} inodes one by one`
              : ''),
        );
      } catch (e) {
        console.log(`  ${type.padEnd(5)} ${k(size)} inodes: FAILED: ${(e as Error).message}`);
      }
    }
    const [heap, rocks] = [results.find((r) => r.type === 'HEAP'), results.find((r) => r.type === 'ROCKS')];
    if (heap && rocks) {
      const f = (a: number, b: number) => (a / b).toFixed(2);
      console.log(
        `  ROCKS/HEAP at ${k(size)}: create ${f(rocks.createPerSec, heap.createPerSec)}, hot ${f(rocks.hotPerSec, heap.hotPerSec)}, cold ${f(rocks.coldPerSec, heap.coldPerSec)}, ` +
          `list ${f(rocks.listPerSec, heap.listPerSec)}, rss ${f(rocks.rssMiB, heap.rssMiB)}`,
      );
      ratio = rocks.coldPerSec / heap.coldPerSec;
    }
  }
  console.log(`RESULT metastore ratio=${ratio.toFixed(3)}`);
}

if (process.argv[2] === '--child') {
  child(process.argv[3] as MetastoreType, Number(process.argv[4])).then((r) => {
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  }, fail('metastore child'));
} else {
  runMain(main);
}
