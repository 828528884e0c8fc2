// distributedLoad throughput: a master, two workers and a client, in this process
// over WebSocket on 127.0.0.1 (NodeHost, random ports, a temp work dir), loading
// files from a local-directory UFS into the workers' cache with the job service,
// against the baseline of the same client reading the same files one after the
// other with the default read type (CACHE: each block read through a worker from
// the UFS and cached there, the same work a load does); the baseline's blocks are
// then freed, so the job starts from a cold cache. A NO_CACHE sequential read
// (no cache writes at all) is printed for reference.
//
// Two data sets: 10,000 files of 4 KiB (files/s) and 4 files of 256 MiB (MB/s);
// `--quick` uses 1,000 small files and 4 of 16 MiB. Prints both rates for both
// sides and `RESULT load ratio=<x>`, x = small-file files/s of distributedLoad
// divided by small-file files/s of the sequential read.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StrataClient } from '../actors/client/client.js';
import { Conf, K } from '../actors/conf.js';
import { NodeHost } from '../actors/node/nact-host.js';
import { MASTER_ID, clientOptions, clientRole, masterOptions, masterRole, workerOptions, workerRole } from '../actors/node/roles.js';
import { JobClient } from '../actors/job/job-client.js';
import type { JobRequest } from '../actors/protocol/job.js';
import type { WorkerActor } from '../actors/worker/worker.js';
import { runMain } from './entry.js';

// Four nodes share this process, and with it libuv's file-system thread pool (4
// threads by default): give it the 4 threads per node separate processes would have.
// Set before the first file operation, which is when the pool starts.
process.env.UV_THREADPOOL_SIZE ??= '16';

const MIB = 1024 * 1024;
const quick = process.argv.includes('--quick');
const SMALL_FILES = quick ? 1000 : 10_000;
const SMALL_BYTES = 4096;
const BIG_FILES = 4;
const BIG_BYTES = (quick ? 16 : 256) * MIB;
const WORKERS = 2;

const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const timers = {
  setTimer(ms: number, fn: () => void) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

function benchConf(workDir: string): Conf {
  return new Conf([
    [
      'runtime',
      {
        [K.workDir]: workDir,
        [K.clusterSecret]: 'bench-load-secret',
        [K.logLevel]: 'warn',
        [K.masterRpcPort]: '0',
        [K.workerRpcPort]: '0',
        // Room for every block on either worker: the bench measures loading, not eviction.
        [K.workerMemSize]: `${Math.ceil((BIG_FILES * BIG_BYTES + SMALL_FILES * SMALL_BYTES * 2) / MIB) + 64}MB`,
        [K.workerHeartbeatInterval]: '200ms',
      },
    ],
  ]);
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'strata-bench-load-'));
  const hosts: NodeHost[] = [];
  const shm = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/strata-bench-load-') : undefined;
  try {
    const ufs = join(workDir, 'ufs');
    mkdirSync(join(ufs, 'small'), { recursive: true });
    mkdirSync(join(ufs, 'big'), { recursive: true });
    for (let i = 0; i < SMALL_FILES; i++) writeFileSync(join(ufs, 'small', `f${String(i).padStart(5, '0')}`), randomBytes(SMALL_BYTES));
    for (let i = 0; i < BIG_FILES; i++) writeFileSync(join(ufs, 'big', `f${i}`), randomBytes(BIG_BYTES));

    const conf = benchConf(workDir);
    const master = await NodeHost.start({
      conf, listen: { host: '127.0.0.1', port: 0 }, logLevel: 'warn',
      nodes: [{ id: MASTER_ID, dataDir: join(workDir, 'master'), create: masterRole(masterOptions(conf, workDir)) }],
    });
    hosts.push(master);
    const peers = { [MASTER_ID]: master.address! };
    for (let i = 0; i < WORKERS; i++) {
      // The MEM tier on a tmpfs, as Alluxio deploys it: caching then costs memory copies, not disk syncs.
      const wconf = shm ? conf.with({ [K.workerLevel0Paths]: join(shm, `worker-${i}`) }) : conf;
      hosts.push(await NodeHost.start({
        conf: wconf, listen: { host: '127.0.0.1', port: 0 }, peers, logLevel: 'warn',
        nodes: [{ id: `worker-${i}`, dataDir: join(workDir, `worker-${i}`), create: (env, info) => workerRole(workerOptions(wconf, () => info.address ?? ''))(env) }],
      }));
    }
    const clientHost = await NodeHost.start({
      conf, peers, logLevel: 'warn',
      nodes: [{ id: 'client-bench', dataDir: join(workDir, 'client'), create: clientRole({ ...clientOptions(conf, { user: 'strata', groups: [] }), readType: 'CACHE' }) }],
    });
    hosts.push(clientHost);
    await clientHost.connect(master.address!, 10_000);
    const client = clientHost.actor('client-bench') as StrataClient;
    const jobs = new JobClient(client, timers);
    for (let i = 0; ; i++) {
      if ((await client.workers()).filter((w) => w.state === 'LIVE').length === WORKERS) break;
      if (i > 100) throw new Error('the workers did not register within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    // Metadata is loaded once, outside both timings: they measure data movement.
    const small = (await client.listStatus('/small')).map((f) => f.path);
    const big = (await client.listStatus('/big')).map((f) => f.path);
    if (small.length !== SMALL_FILES || big.length !== BIG_FILES) throw new Error(`the UFS listing shows ${small.length} small and ${big.length} big files`);

    console.log(`load: ${SMALL_FILES} files of ${SMALL_BYTES / 1024} KiB and ${BIG_FILES} of ${BIG_BYTES / MIB} MiB from a local UFS; master, ${WORKERS} workers and the client in one process over ws (loopback); MEM tier ${shm ? 'on /dev/shm' : 'in the work dir'}`);
    const sequential = async (paths: string[], readType: 'CACHE' | 'NO_CACHE' = 'CACHE'): Promise<{ ms: number; bytes: number }> => {
      let bytes = 0;
      const t0 = now();
      for (const p of paths) await client.read(p, (c) => void (bytes += c.byteLength), readType);
      return { ms: now() - t0, bytes };
    };
    const cachedFiles = async (dir: string) => (await client.listStatus(dir)).filter((f) => f.blocks.every((b) => b.locations.length > 0)).length;
    const workers = hosts.slice(1, 1 + WORKERS).map((h, i) => h.actor(`worker-${i}`) as WorkerActor);
    /** Drops every cached block (fs free) and waits until the workers have deleted them, not only the master forgotten them. */
    const freeAll = async () => {
      await client.free('/small');
      await client.free('/big');
      for (let i = 0; workers.some((w) => w.store.blockIds().length > 0); i++) {
        if (i > 600) throw new Error('blocks still cached 60 s after fs free');
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const load = async (req: JobRequest, files: number, bytes: number): Promise<{ ms: number; bytes: number }> => {
      const t0 = now();
      const id = await jobs.submit(req);
      const j = await jobs.wait(id, { pollMs: 20 });
      const ms = now() - t0;
      if (j.status !== 'COMPLETED' || j.filesDone !== files || j.bytesDone !== bytes) throw new Error(`job ${id} ended ${j.status}: ${j.filesDone}/${files} files, ${j.bytesDone}/${bytes} bytes ${j.error ?? ''}`);
      return { ms, bytes: j.bytesDone };
    };
    const line = (what: string, files: number, r: { ms: number; bytes: number }) =>
      console.log(`  ${what.padEnd(40)} ${(r.ms / 1000).toFixed(2).padStart(7)} s  ${((files * 1000) / r.ms).toFixed(0).padStart(7)} files/s  ${(r.bytes / MIB / (r.ms / 1000)).toFixed(1).padStart(8)} MB/s`);

    line('sequential read NO_CACHE, small files', SMALL_FILES, await sequential(small, 'NO_CACHE'));
    line('sequential read NO_CACHE, big files', BIG_FILES, await sequential(big, 'NO_CACHE'));
    const seqSmall = await sequential(small);
    line('sequential read, small files', SMALL_FILES, seqSmall);
    const seqBig = await sequential(big);
    line('sequential read, big files', BIG_FILES, seqBig);
    await new Promise((r) => setTimeout(r, 500));
    console.log(`  ${await cachedFiles('/small')}/${SMALL_FILES} small files cached by the sequential read; freeing them`);
    await freeAll();
    const loadSmall = await load({ kind: 'load', path: '/small' }, SMALL_FILES, SMALL_FILES * SMALL_BYTES);
    line('distributedLoad, small files', SMALL_FILES, loadSmall);
    const loadBig = await load({ kind: 'load', path: '/big' }, BIG_FILES, BIG_FILES * BIG_BYTES);
    line('distributedLoad, big files', BIG_FILES, loadBig);
    // The master learns of the loaded blocks from the workers' next heartbeats.
    let cached = 0;
    for (let i = 0; i < 50 && (cached = await cachedFiles('/small')) < SMALL_FILES; i++) await new Promise((r) => setTimeout(r, 100));
    console.log(`  ${cached}/${SMALL_FILES} small files cached after the load`);
    if (cached < SMALL_FILES) throw new Error(`only ${cached} of ${SMALL_FILES} small files are cached after the load`);
    const smallRatio = seqSmall.ms / loadSmall.ms;
    console.log(`  big files: distributedLoad ${(loadBig.bytes / MIB / (loadBig.ms / 1000)).toFixed(1)} MB/s vs sequential ${(seqBig.bytes / MIB / (seqBig.ms / 1000)).toFixed(1)} MB/s (ratio ${(seqBig.ms / loadBig.ms).toFixed(2)})`);
    console.log(`RESULT load ratio=${smallRatio.toFixed(2)}`);
  } finally {
    await Promise.all(hosts.map((h) => h.shutdown().catch(() => undefined)));
    rmSync(workDir, { recursive: true, force: true });
    if (shm) rmSync(shm, { recursive: true, force: true });
  }
}

runMain(main);
