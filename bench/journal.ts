// Journaled creates through a 3-master Raft group, against etcd 3.4 doing the
// same job in the same run. Prints, for 1, 64 and 256 requests in flight,
// creates per second and latency p50/p99 for each, and
// `RESULT journal ratio=<strata/etcd creates per second at 256>`.
//
// Every process here stands alone, as in a deployment: each strata master is a
// child process (NodeHost on 127.0.0.1, its own journal dir, fsync on), and so is
// each etcd member. The load for each system comes from one more child (a
// StrataClient, or the npm `etcd3` client), so the client's CPU never runs inside
// a server's event loop. The machine may have few cores, so the table also shows
// the servers' CPU per create, read from /proc: on a small box it says more than
// wall time does about where the cost is.
//
// A strata "create" is what Alluxio's StressMasterBench calls one: CreateFile of
// a new file /bench/f<N> (metadata only: one journal entry; with the default
// write type nothing reaches the UFS until data is written). That is the RESULT.
// An etcd "create" is a put of a new key. So nothing is hidden, the same levels
// are also run with `mkdir /bench/d<N>` (one journal entry plus the directory
// created and fsynced in the root UFS, as Alluxio does for a persisted
// directory), printed on their own lines and in their own column, not in the ratio.
// Before its measured levels each system (and each strata operation) gets one
// unmeasured round at the top level, so JIT compilation is not billed to c=1.
// The systems run one after the other, never side by side, so neither's
// background work (heartbeats, compaction) is charged to the other.
//
// Environment: BENCH_SECONDS (measured seconds per level, default 5),
// BENCH_WARMUP_SECONDS (default 1), BENCH_LEVELS (default 1,64,256),
// BENCH_ONLY=strata|etcd (one side; no ratio then), BENCH_MKDIR=0 (skip the
// mkdir levels). `node --cpu-prof
// dist/bench/journal.js` profiles the strata children too (they inherit node flags).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { fail, runMain } from './entry.js';
import { Child, connectClient, cpuMs, masterChild, now, quantile, say, spawnScript, startMasterGroup } from './master-group.js';

const LEVELS = (process.env.BENCH_LEVELS ?? '1,64,256').split(',').map(Number);
const MEASURE_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000;
const WARMUP_MS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1) * 1000;
const ONLY = process.env.BENCH_ONLY;
const MKDIR = process.env.BENCH_MKDIR !== '0';
const SCRIPT = fileURLToPath(import.meta.url);
/** About the size of a create journal entry, so both systems replicate similar records. */
const ETCD_VALUE = 'x'.repeat(96);


// ---- load generation (runs in a driver child) ----

interface LevelResult {
  concurrency: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  count: number;
  errors: number;
  firstError: string;
}


/**
 * A closed loop: `concurrency` requests always in flight. Only requests that both
 * start after the warm-up and finish inside the window count, so the window's
 * edges neither inflate nor deflate the rate.
 */
async function closedLoop(concurrency: number, op: (seq: number) => Promise<void>, nextSeq: () => number): Promise<LevelResult> {
  const t0 = now();
  const from = t0 + WARMUP_MS;
  const until = from + MEASURE_MS;
  const lat: number[] = [];
  let errors = 0;
  let firstError = '';
  const worker = async (): Promise<void> => {
    while (now() < until) {
      const s = now();
      try {
        await op(nextSeq());
      } catch (e) {
        errors++;
        firstError ||= (e as Error).message ?? String(e);
        continue;
      }
      const e = now();
      if (s >= from && e <= until) lat.push(e - s);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  lat.sort((a, b) => a - b);
  return { concurrency, opsPerSec: lat.length / (MEASURE_MS / 1000), p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), count: lat.length, errors, firstError };
}

/** Reads `run <concurrency> [op]` lines and answers each with `result <json>` (or `error <why>`); `quit` ends. */
async function serveLevels(ops: Record<string, (seq: number) => Promise<void>>, close: () => Promise<void>): Promise<void> {
  let seq = 0;
  say('ready');
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, arg, name = 'create'] = line.split(' ');
    const op = ops[name];
    if (cmd === 'run' && !op) say(`error no operation ${name}; known: ${Object.keys(ops).join(', ')}`);
    else if (cmd === 'run') say(`result ${JSON.stringify(await closedLoop(Number(arg), op!, () => seq++))}`);
    else if (cmd === 'quit') break;
  }
  await close();
  process.exit(0);
}

async function strataDriver(workDir: string, addrs: Record<string, string>): Promise<void> {
  const { host, client } = await connectClient(workDir, addrs);
  // The first call also waits out the election: the client follows NOT_LEADER hints and retries.
  await client.mkdir('/bench', false);
  await serveLevels(
    {
      // The CreateFile RPC alone, as StressMasterBench's CreateFile of an empty file with the default write type.
      create: async (n) => void (await client.callMaster({ t: 'CreateFile', path: `/bench/f${n}`, overwrite: false }, 'FileInfoReply', true)),
      mkdir: (n) => client.mkdir(`/bench/d${n}`, false),
    },
    () => host.shutdown(),
  );
}

async function etcdDriver(hosts: string[]): Promise<void> {
  const { Etcd3 } = await import('etcd3');
  const client = new Etcd3({ hosts });
  await client.put('bench/ready').value('1');
  await serveLevels(
    {
      create: async (n) => {
        await client.put(`bench/k${n}`).value(ETCD_VALUE);
      },
    },
    async () => client.close(),
  );
}

// ---- orchestration (the parent) ----

interface Row extends LevelResult {
  serverCpuMsPerOp: number;
}

async function runLevels(driver: Child, servers: Array<number | undefined>, op = 'create'): Promise<Row[]> {
  const rows: Row[] = [];
  // One unmeasured round at the top level first: a Node process compiles its hot
  // paths on the first few thousand requests (etcd is compiled ahead of time), and
  // without it that cost would land on the first measured level, c=1. Both systems get it.
  const top = Math.max(...LEVELS);
  const warm = await driver.ask(`run ${top} ${op}`, WARMUP_MS + MEASURE_MS + 120_000);
  if (!warm.startsWith('result ')) throw new Error(`${driver.name}: unexpected reply ${warm}`);
  for (const c of LEVELS) {
    const cpu0 = servers.reduce<number>((s, p) => s + cpuMs(p), 0);
    const reply = await driver.ask(`run ${c} ${op}`, WARMUP_MS + MEASURE_MS + 120_000);
    if (!reply.startsWith('result ')) throw new Error(`${driver.name}: unexpected reply ${reply}`);
    // NaN (no request finished inside the window) travels as JSON null.
    const r = JSON.parse(reply.slice(7), (_k, v: unknown) => (v === null ? NaN : v)) as LevelResult;
    const cpu = servers.reduce<number>((s, p) => s + cpuMs(p), 0) - cpu0;
    // CPU over the whole level (warm-up included) per create completed in it, roughly.
    const total = r.count * ((WARMUP_MS + MEASURE_MS) / MEASURE_MS);
    const row = { ...r, serverCpuMsPerOp: total > 0 ? cpu / total : NaN };
    console.log(`  ${`${driver.name} ${op}`.padEnd(13)} c=${String(c).padEnd(4)} ${fmtRow(row)}${r.errors ? `  (${r.errors} errors, first: ${r.firstError})` : ''}`);
    rows.push(row);
  }
  return rows;
}

const fmt = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const fmtRow = (r: Row): string =>
  `${fmt(r.opsPerSec, 0).padStart(8)} ops/s  p50 ${fmt(r.p50, 2).padStart(8)} ms  p99 ${fmt(r.p99, 2).padStart(8)} ms  server cpu ${fmt(r.serverCpuMsPerOp, 3)} ms/op`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function strataPhase(cleanup: Array<() => Promise<void>>): Promise<{ create: Row[]; mkdir: Row[] }> {
  const workDir = mkdtempSync(join(tmpdir(), 'strata-bench-journal-'));
  cleanup.push(async () => rmSync(workDir, { recursive: true, force: true }));
  mkdirSync(join(workDir, 'ufs'), { recursive: true });
  const { masters, addrs } = await startMasterGroup(SCRIPT, workDir, cleanup);
  const driver = new Child('strata', spawnScript(SCRIPT, '--driver', 'strata', workDir, JSON.stringify(addrs)));
  cleanup.push(() => driver.stop('quit'));
  const t0 = Date.now();
  const ready = await driver.next(60_000);
  if (ready !== 'ready') throw new Error(`strata client: unexpected ${ready}`);
  console.log(`strata: 3 masters up (${Object.values(addrs).join(', ')}), leader elected and /bench created in ${Date.now() - t0} ms`);
  const pids = masters.map((m) => m.proc.pid);
  const create = await runLevels(driver, pids, 'create');
  const mkdir = MKDIR ? await runLevels(driver, pids, 'mkdir') : [];
  await driver.stop('quit');
  await Promise.all(masters.map((m) => m.stop('quit')));
  return { create, mkdir };
}

/** The etcd binary's version line, or why it cannot be used. */
function etcdVersion(): { ok: true; version: string } | { ok: false; why: string } {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (r.error) return { ok: false, why: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'etcd is not installed' : r.error.message };
  const m = /etcd Version:\s*(\S+)/.exec(r.stdout);
  if (r.status !== 0 || !m) return { ok: false, why: `etcd --version failed: ${(r.stderr || r.stdout).trim()}` };
  return { ok: true, version: m[1]! };
}

async function etcdPhase(cleanup: Array<() => Promise<void>>): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-etcd-'));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  const members = [];
  for (let i = 0; i < 3; i++) members.push({ name: `etcd-${i}`, client: `http://127.0.0.1:${await freePort()}`, peer: `http://127.0.0.1:${await freePort()}` });
  const initialCluster = members.map((m) => `${m.name}=${m.peer}`).join(',');
  const procs: Child[] = [];
  cleanup.push(() => Promise.all(procs.map((p) => p.stop('SIGTERM'))).then(() => undefined));
  for (const m of members) {
    const data = join(dir, m.name);
    const proc = spawn(
      'etcd',
      [
        '--name', m.name,
        '--data-dir', data,
        '--listen-client-urls', m.client,
        '--advertise-client-urls', m.client,
        '--listen-peer-urls', m.peer,
        '--initial-advertise-peer-urls', m.peer,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', `bench-${process.pid}`,
        '--log-level', 'error',
        '--logger', 'zap',
      ],
      // fsync stays on: no --unsafe-no-fsync.
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const tail: string[] = [];
    proc.stderr!.on('data', (d: Buffer) => {
      tail.push(d.toString());
      if (tail.length > 20) tail.shift();
    });
    proc.once('exit', (code) => {
      if (code !== 0 && code !== null) process.stderr.write(`${m.name} exited with ${code}: ${tail.join('').slice(-2000)}\n`);
    });
    procs.push(new Child(m.name, proc));
  }
  const t0 = Date.now();
  for (const m of members) {
    for (;;) {
      const healthy = await fetch(`${m.client}/health`)
        .then(async (r) => ((await r.json()) as { health?: string }).health === 'true')
        .catch(() => false);
      if (healthy) break;
      if (Date.now() - t0 > 30_000) throw new Error(`${m.name} is not healthy after 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  console.log(`etcd: 3 members up (${members.map((m) => m.client).join(', ')}), healthy in ${Date.now() - t0} ms`);
  const driver = new Child('etcd', spawnScript(SCRIPT, '--driver', 'etcd', JSON.stringify(members.map((m) => m.client))));
  cleanup.push(() => driver.stop('quit'));
  const ready = await driver.next(30_000);
  if (ready !== 'ready') throw new Error(`etcd client: unexpected ${ready}`);
  const rows = await runLevels(
    driver,
    procs.map((p) => p.proc.pid),
  );
  await driver.stop('quit');
  await Promise.all(procs.map((p) => p.stop('SIGTERM', 10_000)));
  return rows;
}

async function main(): Promise<void> {
  const cleanup: Array<() => Promise<void>> = [];
  let cleaning: Promise<void> | undefined;
  // Shared while it runs: a signal and the failure it causes in the main flow
  // both wait for the same cleanup before the process exits.
  const runCleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      // Newest first: drivers before servers, servers before their directories.
      while (cleanup.length > 0) await cleanup.pop()!().catch((e: unknown) => void process.stderr.write(`cleanup: ${(e as Error).message}\n`));
      cleaning = undefined;
    })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void runCleanup().finally(() => process.exit(130));
    });
  }
  const etcd = etcdVersion();
  const cores = cpus().length;
  console.log(
    `journal: creates through 3 Raft masters vs etcd (3 members), all on 127.0.0.1, fsync on; ` +
      `levels ${LEVELS.join(', ')} in flight after one unmeasured round at ${Math.max(...LEVELS)}, ${WARMUP_MS / 1000} s warm-up + ${MEASURE_MS / 1000} s measured each; ` +
      `${cores} CPU core${cores === 1 ? '' : 's'} shared by every server and client process${cores <= 2 ? ' (CPU-bound: servers and load generator compete)' : ''}`,
  );
  console.log(
    '  strata create = CreateFile /bench/f<N> (as StressMasterBench: metadata only, one journal entry, nothing in the UFS); etcd create = put of a new key (96-byte value)',
  );
  console.log('  strata mkdir (not in the ratio) = mkdir /bench/d<N> (one journal entry + the directory created and fsynced in the root UFS)');
  if (!etcd.ok) {
    console.log(`etcd unavailable: ${etcd.why}. Install Debian's etcd 3.4 with: sudo apt-get update && sudo apt-get install -y etcd-server`);
  } else if (!etcd.version.startsWith('3.4.')) {
    console.log(`note: etcd ${etcd.version} found; the baseline is meant to be etcd 3.4`);
  }
  let strata: Row[] = [];
  let mkdirs: Row[] = [];
  let base: Row[] = [];
  try {
    if (ONLY !== 'etcd') ({ create: strata, mkdir: mkdirs } = await strataPhase(cleanup));
    await runCleanup();
    if (etcd.ok && ONLY !== 'strata') base = await etcdPhase(cleanup);
  } finally {
    await runCleanup();
  }
  console.log('');
  const head = (name: string): string => `${`${name} ops/s`.padStart(12)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)}`;
  console.log(`${'conc'.padStart(5)} | ${head('strata')} | ${head('etcd')} | ${'ratio'.padStart(6)} | ${head('mkdir')} ${'ratio'.padStart(6)}`);
  for (const c of LEVELS) {
    const s = strata.find((r) => r.concurrency === c);
    const e = base.find((r) => r.concurrency === c);
    const d = mkdirs.find((r) => r.concurrency === c);
    const cell = (r: Row | undefined): string => (r ? `${fmt(r.opsPerSec, 0).padStart(12)} ${fmt(r.p50, 2).padStart(9)} ${fmt(r.p99, 2).padStart(9)}` : `${'-'.padStart(12)} ${'-'.padStart(9)} ${'-'.padStart(9)}`);
    const ratio = (x: Row | undefined): string => (x && e && e.opsPerSec > 0 ? (x.opsPerSec / e.opsPerSec).toFixed(3) : '-').padStart(6);
    console.log(`${String(c).padStart(5)} | ${cell(s)} | ${cell(e)} | ${ratio(s)} | ${cell(d)} ${ratio(d)}`);
  }
  const s256 = strata.find((r) => r.concurrency === 256);
  const e256 = base.find((r) => r.concurrency === 256);
  if (!etcd.ok) console.log(`etcd baseline not measured (${etcd.why}); install: sudo apt-get update && sudo apt-get install -y etcd-server`);
  const d256 = mkdirs.find((r) => r.concurrency === 256);
  if (d256) console.log(`mkdir (journal + UFS directory, not the RESULT): strata/etcd at 256 = ${e256 && e256.opsPerSec > 0 ? (d256.opsPerSec / e256.opsPerSec).toFixed(3) : 'unavailable'}`);
  console.log(`RESULT journal ratio=${s256 && e256 && e256.opsPerSec > 0 ? (s256.opsPerSec / e256.opsPerSec).toFixed(3) : 'unavailable'}`);
}

const mode = process.argv[2];
if (mode === '--master') {
  masterChild(Number(process.argv[3]), process.argv[4]!).catch(fail(`master ${process.argv[3]}`));
} else if (mode === '--driver' && process.argv[3] === 'strata') {
  strataDriver(process.argv[4]!, JSON.parse(process.argv[5]!) as Record<string, string>).catch(fail('strata client'));
} else if (mode === '--driver' && process.argv[3] === 'etcd') {
  etcdDriver(JSON.parse(process.argv[4]!) as string[]).catch(fail('etcd client'));
} else {
  runMain(main);
}
