// The operator's CLI against a real cluster (a master and two worker processes on
// loopback): every fs, fsadmin and top-level command, the /metrics endpoints
// moving with reads and writes, and the errors a user can cause.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, killAll, runCli, startCli, waitFor, type CliResult, type Proc } from './helpers/processes.js';
import { parsePrometheus, sampleValue, type PromText } from '../cli/prom-text.js';

let dir: string;
let conf: string[];
let masterWeb: number;
const workerWeb: number[] = [];
const procs: Proc[] = [];

function confArgs(c: Record<string, string>): string[] {
  return Object.entries(c).flatMap(([k, v]) => ['--conf', `${k}=${v}`]);
}

async function scrape(port: number): Promise<PromText> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

/** A worker metric summed over both workers. */
async function workersSum(name: string): Promise<number> {
  let n = 0;
  for (const p of workerWeb) n += sampleValue(await scrape(p), name) ?? 0;
  return n;
}

const strata = (args: string[], extra: string[] = []): Promise<CliResult> => runCli([...args, ...conf, ...extra], dir);

/** Runs a command that must succeed quietly; returns its stdout. */
async function ok(...args: string[]): Promise<string> {
  const r = await strata(args);
  expect(r.stderr, args.join(' ')).toBe('');
  expect(r.code, args.join(' ')).toBe(0);
  return r.stdout.toString();
}

/** Runs a command that must fail with one clear line and no stack trace; returns that line. */
async function fails(args: string[], extra: string[] = []): Promise<string> {
  const r = await strata(args, extra);
  expect(r.code, `${args.join(' ')} should fail`).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-cli-'));
  masterWeb = await freePort();
  conf = confArgs({
    'strata.work.dir': join(dir, 'data'),
    'strata.master.rpc.port': String(await freePort()),
    'strata.master.web.port': String(masterWeb),
    'strata.master.worker.timeout': '3s',
    'strata.worker.block.heartbeat.interval': '200ms',
    'strata.worker.ramdisk.size': '24MB',
    'strata.user.rpc.timeout': '5s',
    'strata.user.block.size.bytes.default': '1MB',
    'strata.logger.level': 'warn',
  });
  mkdirSync(join(dir, 'data', 'ufs', 'outside'), { recursive: true });
  writeFileSync(join(dir, 'data', 'ufs', 'outside', 'u.txt'), 'only in the UFS at first\n');
  const master = startCli(['master', ...conf], dir);
  procs.push(master);
  await waitFor('master to listen', async () => master.output().includes('listening'));
  for (let i = 0; i < 2; i++) {
    workerWeb.push(await freePort());
    const w = startCli(['worker', '--id', `worker-${i}`, ...conf, '--conf', `strata.worker.rpc.port=${await freePort()}`, '--conf', `strata.worker.web.port=${workerWeb[i]}`], dir);
    procs.push(w);
    await waitFor(`worker-${i} to listen`, async () => w.output().includes('listening'));
  }
  await waitFor('workers to register', async () => (await ok('fsadmin', 'report', 'summary')).includes('Live Workers: 2'));
}, 120_000);

afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('metrics on the web ports', () => {
  it('counters move as files are written and read, on the workers and in the master\'s cluster totals', async () => {
    const before = await scrape(masterWeb);
    const paths0 = sampleValue(before, 'strata_master_total_paths')!;
    const commits0 = sampleValue(before, 'strata_master_journal_commit_duration_seconds_count')!;
    const creates0 = sampleValue(before, 'strata_rpc_server_duration_seconds_count', { op: 'CreateFile' }) ?? 0;
    const written0 = await workersSum('strata_worker_bytes_written_ufs_total');
    const readCache0 = await workersSum('strata_worker_bytes_read_cache_total');
    const readUfs0 = await workersSum('strata_worker_bytes_read_ufs_total');
    expect(sampleValue(before, 'strata_cluster_workers')).toBe(2);

    const data = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(join(dir, 'm.bin'), data);
    await ok('fs', 'copyFromLocal', join(dir, 'm.bin'), '/m/m.bin');
    // Streamed reads: a short-circuit read takes the block file itself, and the worker sees no bytes of it.
    const streamed = ['--conf', 'strata.user.short.circuit.enabled=false'];
    expect((await strata(['fs', 'cat', '/m/m.bin', ...streamed])).stdout.equals(data)).toBe(true);
    expect(await ok('fs', 'cat', '/outside/u.txt', ...streamed)).toBe('only in the UFS at first\n');

    expect((await workersSum('strata_worker_bytes_written_ufs_total')) - written0).toBe(data.length);
    expect((await workersSum('strata_worker_bytes_read_cache_total')) - readCache0).toBe(data.length);
    expect((await workersSum('strata_worker_bytes_read_ufs_total')) - readUfs0).toBe(25);
    const after = await scrape(masterWeb);
    expect(sampleValue(after, 'strata_master_total_paths')).toBe(paths0 + 4); // /m, /m/m.bin, /outside, /outside/u.txt
    expect(sampleValue(after, 'strata_master_journal_commit_duration_seconds_count')!).toBeGreaterThan(commits0);
    expect(sampleValue(after, 'strata_rpc_server_duration_seconds_count', { op: 'CreateFile' })).toBe(creates0 + 1);
    expect(after.types.get('strata_rpc_server_duration_seconds')).toBe('histogram');
    // The master sums what the workers report in their heartbeats.
    await waitFor('the cluster totals to catch up', async () => {
      const m = await scrape(masterWeb);
      return sampleValue(m, 'strata_cluster_bytes_written_ufs_total') === (await workersSum('strata_worker_bytes_written_ufs_total')) &&
        sampleValue(m, 'strata_cluster_bytes_read_ufs_total') === (await workersSum('strata_worker_bytes_read_ufs_total'));
    });
    const m = await scrape(masterWeb);
    const used = m.samples.filter((s) => s.name === 'strata_cluster_capacity_used_bytes');
    expect(used.map((s) => s.labels.tier)).toEqual(['MEM']);
    expect(used[0]!.value).toBeGreaterThanOrEqual(data.length);
    expect(sampleValue(m, 'strata_cluster_capacity_total_bytes', { tier: 'MEM' })).toBe(48 * 1024 * 1024);
    const hit = sampleValue(m, 'strata_cluster_cache_hit_rate')!;
    expect(hit).toBeGreaterThan(0);
    expect(hit).toBeLessThan(1);

    // report metrics renders the same numbers as the endpoint.
    const report = JSON.parse(await ok('fsadmin', 'report', 'metrics', '--json')) as { metrics: Record<string, number> };
    expect(report.metrics.strata_cluster_bytes_written_ufs_total).toBe(sampleValue(m, 'strata_cluster_bytes_written_ufs_total'));

    // metrics clear zeroes counters on every node; capacity gauges stay.
    expect(await ok('fsadmin', 'metrics', 'clear')).toMatch(/^Cleared the metrics of worker-\d, worker-\d, master\n$/);
    expect(await workersSum('strata_worker_bytes_written_ufs_total')).toBe(0);
    expect(sampleValue(await scrape(masterWeb), 'strata_master_journal_commit_duration_seconds_count')).toBe(0);
    expect(sampleValue(await scrape(masterWeb), 'strata_master_total_paths')).toBe(paths0 + 4);
  }, 90_000);
});

describe('fs commands', () => {
  it('list, inspect, change and copy', async () => {
    const small = join(dir, 'small.txt');
    writeFileSync(small, 'hello, strata\n');
    expect(await ok('fs', 'mkdir', '/c/sub')).toBe('Successfully created directory /c/sub\n');
    await ok('fs', 'copyFromLocal', small, '/c/a.txt');
    expect(await ok('fs', 'touch', '/c/empty')).toBe('/c/empty has been created\n');
    await ok('fs', 'cp', '/c/a.txt', '/c/sub/b.txt');
    expect(await ok('fs', 'mv', '/c/sub/b.txt', '/c/b.txt')).toBe('Renamed /c/sub/b.txt to /c/b.txt\n');
    const names = (out: string) => out.trim().split('\n').map((l) => l.split(/\s+/).pop());
    expect(names(await ok('fs', 'ls', '/c'))).toEqual(['/c/a.txt', '/c/b.txt', '/c/empty', '/c/sub']);
    expect(names(await ok('fs', 'ls', '-R', '--sort', 'size', '-r', '/c'))).toEqual(['/c/b.txt', '/c/a.txt', '/c/sub', '/c/empty']);
    expect(names(await ok('fs', 'ls', '-d', '/c'))).toEqual(['/c']);
    const [h, json, stat, head, tail, sum, count, du, loc, cap, used, countH, duH] = await Promise.all([
      ok('fs', 'ls', '-h', '/c/a.txt'), ok('fs', 'ls', '--json', '/c'), ok('fs', 'stat', '-f', '%N %z', '/c/a.txt'), ok('fs', 'head', '-c', '5', '/c/a.txt'),
      ok('fs', 'tail', '-c', '7', '/c/a.txt'), ok('fs', 'checksum', '/c/a.txt'), ok('fs', 'count', '/c'), ok('fs', 'du', '-s', '/c'), ok('fs', 'location', '/c/a.txt'),
      ok('fs', 'getCapacityBytes'), ok('fs', 'getUsedBytes'), ok('fs', 'count', '-h', '/c'), ok('fs', 'du', '-h', '/c'),
    ]);
    expect(countH).toMatch(/\n3\s+2\s+28B\n$/);
    expect(duH).toMatch(/\n14B\s+14B\s+\/c\/a\.txt\n/);
    expect(h).toMatch(/ 14B /);
    expect(stat).toBe('a.txt 14\n');
    expect(head).toBe('hello');
    expect(tail).toBe('strata\n');
    expect(sum).toBe(`md5sum: ${createHash('md5').update('hello, strata\n').digest('hex')}\n`);
    expect(count).toMatch(/\n3\s+2\s+28\n$/);
    expect(du).toMatch(/\n28\s+\d+\s+\/c\n$/);
    expect(loc).toMatch(/is on nodes:\n  block \d+: worker-\d/);
    expect(cap).toBe(`Capacity Bytes: ${48 * 1024 * 1024}\n`);
    expect(used).toMatch(/^Used Bytes: [1-9]\d*\n$/);
    const listed = JSON.parse(json) as Array<{ path: string; length: number }>;
    expect(listed.map((f) => [f.path, f.length])).toEqual([['/c/a.txt', 14], ['/c/b.txt', 14], ['/c/empty', 0], ['/c/sub', 0]]);
    // -f compares with the UFS: a file put there behind strata's back shows up.
    writeFileSync(join(dir, 'data', 'ufs', 'c', 'behind.txt'), 'x');
    expect(names(await ok('fs', 'ls', '/c'))).not.toContain('/c/behind.txt');
    expect(names(await ok('fs', 'ls', '-f', '/c'))).toContain('/c/behind.txt');
    // Independent chains run side by side: each command is a process start.
    await Promise.all([
      (async () => {
        expect(await ok('fs', 'pin', '/c/a.txt')).toBe("File '/c/a.txt' was successfully pinned.\n");
        expect(names(await ok('fs', 'ls', '-p', '-R', '/c'))).toEqual(['/c/a.txt']);
        await ok('fs', 'unpin', '/c/a.txt');
        expect(JSON.parse(await ok('fs', 'stat', '--json', '/c/a.txt')).pinned).toBe(false);
        expect(await ok('fs', 'stat', '/c/a.txt')).toMatch(/^\/c\/a\.txt is a file path\.\n/);
      })(),
      (async () => {
        const tests = [['-d', '/c/sub', 0], ['-d', '/c/a.txt', 1], ['-e', '/c/a.txt', 0], ['-e', '/c/nope', 1], ['-f', '/c/a.txt', 0], ['-s', '/c', 0], ['-s', '/c/sub', 1], ['-z', '/c/empty', 0], ['-z', '/c/a.txt', 1]] as const;
        const codes = await Promise.all(tests.map(([flag, path]) => strata(['fs', 'test', flag, path]).then((r) => r.code)));
        expect(codes).toEqual(tests.map((t) => t[2]));
      })(),
      (async () => {
        await ok('fs', 'chmod', '640', '/c/b.txt');
        await ok('fs', 'chgrp', 'staff', '/c/b.txt');
        await ok('fs', 'chown', 'alice:staff', '/c/b.txt');
        expect(await ok('fs', 'ls', '/c/b.txt')).toMatch(/^-rw-r-----\s+alice\s+staff\s/);
      })(),
      (async () => {
        await ok('fs', 'setTtl', '/c/empty', '1h');
        expect(JSON.parse(await ok('fs', 'stat', '--json', '/c/empty')).ttl).toBe(3_600_000);
        await ok('fs', 'unsetTtl', '/c/empty');
        expect(await ok('fs', 'free', '/c/empty')).toBe('/c/empty was successfully freed from strata space.\n');
      })(),
      (async () => {
        expect(await ok('fs', 'checkConsistency', '/c/sub')).toBe('/c/sub is consistent with the under storage system.\n');
        await ok('fs', 'loadMetadata', '-R', '/c/sub');
      })(),
      (async () => {
        mkdirSync(join(dir, 'other'), { recursive: true });
        writeFileSync(join(dir, 'other', 'o.txt'), 'other ufs\n');
        await ok('fs', 'mount', '--readonly', '/mnt', join(dir, 'other'));
        expect(await ok('fs', 'mount')).toMatch(/other {2}on {2}\/mnt {2}\(readonly/);
        expect(await ok('fs', 'cat', '/mnt/o.txt')).toBe('other ufs\n');
        await ok('fs', 'updateMount', '/mnt');
        expect(await ok('fs', 'unmount', '/mnt')).toBe('Unmounted /mnt\n');
      })(),
      (async () => {
        await ok('fs', 'copyToLocal', '/c/a.txt', join(dir, 'back.txt'));
        expect(readFileSync(join(dir, 'back.txt'), 'utf8')).toBe('hello, strata\n');
      })(),
      (async () => {
        expect(await ok('fs', 'leader')).toMatch(/^127\.0\.0\.1:\d+ \(master\)\n$/);
        expect(await ok('fs', 'masterInfo')).toMatch(/^master\s+127\.0\.0\.1:\d+\s+LEADER/);
        expect(await ok('fs', 'help', 'ls')).toMatch(/Usage: strata fs ls/);
      })(),
    ]);
    expect(await ok('fs', 'rm', '-R', '/c/sub')).toBe('/c/sub has been removed\n');
  }, 120_000);

  it('shows progress on a large copy: plain lines when stdout is not a terminal', async () => {
    const big = randomBytes(20 * 1024 * 1024);
    writeFileSync(join(dir, 'big.bin'), big);
    const up = await ok('fs', 'copyFromLocal', join(dir, 'big.bin'), '/big.bin');
    expect(up).toMatch(/^copyFromLocal \/big\.bin: 20\.00MB of 20\.00MB \(100%\), [\d.]+[KMG]?B\/s, ETA 0s\nCopied file:\/\/.*big\.bin to \/big\.bin\n$/);
    const down = await ok('fs', 'copyToLocal', '/big.bin', join(dir, 'big.copy'));
    expect(down).toMatch(/^copyToLocal \/big\.bin: 20\.00MB of 20\.00MB \(100%\)/m);
    expect(readFileSync(join(dir, 'big.copy')).equals(big)).toBe(true);
    await ok('fs', 'rm', '/big.bin');
  }, 90_000);
});

describe('fsadmin and top-level commands', () => {
  it('report summary, capacity and ufs, as tables and JSON', async () => {
    expect(await ok('fsadmin', 'report')).toMatch(/Strata cluster summary:\n {4}Master Address: 127\.0\.0\.1:\d+ \(master\)\n {4}Web Port: (\d+)\n[\s\S]*Live Workers: 2\n {4}Lost Workers: 0\n {4}Total Capacity: 48\.00MB\n {8}Tier: MEM {2}Size: 48\.00MB\n/);
    const s = JSON.parse(await ok('fsadmin', 'report', 'summary', '--json')) as { webPort: number; liveWorkers: number; capacity: Record<string, { total: number }> };
    expect(s.webPort).toBe(masterWeb);
    expect(s.capacity.MEM!.total).toBe(48 * 1024 * 1024);
    const cap = JSON.parse(await ok('fsadmin', 'report', 'capacity', '--json')) as { workers: Array<{ id: string; state: string; tiers: Record<string, { total: number }> }> };
    expect(cap.workers.map((w) => [w.id, w.state, w.tiers.MEM?.total])).toEqual([['worker-0', 'LIVE', 24 * 1024 * 1024], ['worker-1', 'LIVE', 24 * 1024 * 1024]]);
    expect(await ok('fsadmin', 'report', 'capacity', '-live')).toMatch(/^Capacity information for live workers:[\s\S]*\nWorker\s+Address\s+State[\s\S]*worker-0[\s\S]*worker-1/);
    const one = await ok('fsadmin', 'report', 'capacity', '-workers', 'worker-1');
    expect(one).toMatch(/worker-1/);
    expect(one).not.toMatch(/worker-0/);
    expect(await ok('fsadmin', 'report', 'capacity', '-lost')).not.toMatch(/worker-/);
    expect(await ok('fsadmin', 'report', 'ufs')).toMatch(/\nfile:\/\/.*\/data\/ufs\s+\/\s+readWrite\s+false\s+false/);
    // A job moves the job counters on /metrics, prints plain progress lines into the pipe, and shows in report jobservice.
    const jobs0 = await scrape(masterWeb);
    const load = await ok('fs', 'distributedLoad', '/outside');
    expect(load).toMatch(/\nload \/outside: .* \(100%\), files 1\/1, .*ETA 0s\nJob \d+ COMPLETED: 1\/1 files/);
    const jobs1 = await scrape(masterWeb);
    for (const name of ['strata_job_jobs_started_total', 'strata_job_jobs_completed_total']) expect(sampleValue(jobs1, name), name).toBe(sampleValue(jobs0, name)! + 1);
    expect(sampleValue(jobs1, 'strata_job_jobs_failed_total')).toBe(sampleValue(jobs0, 'strata_job_jobs_failed_total'));
    const js = await ok('fsadmin', 'report', 'jobservice');
    expect(js).toMatch(/^Job service of the leading master \S+:\n/);
    expect(js).toMatch(/\nJob workers: 2\n/);
    expect(js).toMatch(/\nStatus: COMPLETED\s+Count: [1-9]\d*\n/);
    expect(js).toMatch(/most recent jobs:\n.*\n.*\s+load\s+COMPLETED\s+1\/1\s.*\/outside/);
  });

  it('ufs --mode is enforced by the master until lifted', async () => {
    const root = `file://${join(dir, 'data', 'ufs')}`;
    await ok('fs', 'mkdir', '/modes');
    expect(await ok('fsadmin', 'ufs', '--mode', 'readOnly', root)).toBe(`Set the mode of ${root} to readOnly on 3 node(s)\n`);
    expect(await fails(['fs', 'mkdir', '/modes/d'])).toBe(`PERMISSION_DENIED: the UFS ${root} is in readOnly mode (strata fsadmin ufs --mode readWrite ${root} lifts it)`);
    expect(await ok('fs', 'ls', '/modes')).toBe('');
    expect(await ok('fsadmin', 'report', 'ufs')).toMatch(/readOnly/);
    expect((await strata(['fsadmin', 'doctor'])).code).toBe(1);
    await ok('fsadmin', 'ufs', '--mode', 'noAccess', root);
    expect(await fails(['fs', 'ls', '-f', '/modes'])).toMatch(/^PERMISSION_DENIED: the UFS .* is in noAccess mode/);
    await ok('fsadmin', 'ufs', '--mode', 'readWrite', root);
    await ok('fs', 'mkdir', '/modes/d');
    expect(await fails(['fsadmin', 'ufs', '--mode', 'sideways', root])).toBe('INVALID_ARGUMENT: --mode must be one of noAccess, readOnly, readWrite, got sideways');
    expect(await fails(['fsadmin', 'ufs', '--mode', 'readOnly', '/not/mounted'])).toMatch(/^NOT_FOUND: file:\/\/\/not\/mounted is not mounted/);
  });

  it('doctor, getConf, logLevel, backup, checkpoint, version', async () => {
    const doc = await strata(['fsadmin', 'doctor']);
    expect(doc.code, doc.stdout.toString()).toBe(0);
    expect(doc.stdout.toString()).toMatch(/\[WARN\] cluster secret[\s\S]*\[ {2}OK\] live workers: 2[\s\S]*All checks passed \(1 warning\(s\)\)\.\n$/);
    expect(JSON.parse(await ok('fsadmin', 'doctor', '--json')).ok).toBe(true);
    expect(await ok('getConf', 'strata.master.web.port', '--master', '--source')).toBe(`${masterWeb} (command-line)\n`);
    expect(await ok('getConf', 'strata.master.worker.timeout', '--source')).toBe('3s (command-line)\n');
    expect(await runCli(['getConf', 'strata.master.worker.timeout', '--master', ...conf.slice(0, 4)], dir).then((r) => r.stdout.toString())).toBe('3s\n');
    expect(await ok('logLevel', '--logName', 'master', '--target', 'master')).toMatch(/^127\.0\.0\.1:\d+ \(master\): master=WARN\n$/);
    expect(await ok('logLevel', '--logName', 'root', '--target', 'master,workers', '--level', 'debug')).toMatch(/\(master\): master=DEBUG transport=DEBUG\n.*\(worker-0\): transport=DEBUG worker-0=DEBUG\n.*\(worker-1\): transport=DEBUG worker-1=DEBUG\n$/);
    expect(await ok('logLevel', '--logName', 'worker-1', '--target', 'workers', '--level', 'warn')).toMatch(/\(worker-0\): no logger worker-1\n.*\(worker-1\): worker-1=WARN\n$/);
    await ok('logLevel', '--logName', 'root', '--target', 'master', '--level', 'warn');
    expect(await fails(['logLevel', '--logName', 'master', '--target', 'master', '--level', 'loud'])).toBe('INVALID_ARGUMENT: --level must be one of debug, info, warn, error, got loud');
    expect(await fails(['logLevel', '--logName', 'nobody', '--target', 'master', '--level', 'info'])).toMatch(/^NOT_FOUND: no logger named "nobody" here; known: root, /);
    expect(await ok('fsadmin', 'backup', join(dir, 'backups'))).toMatch(/^Backup of \d+ inodes at journal entry \d+ from master written to /);
    expect(await fails(['fsadmin', 'journal', 'checkpoint'])).toMatch(/^FAILED_PRECONDITION: the UFS journal type has no checkpoints/);
    expect(await ok('version')).toBe('0.1.0\n');
  });
});

describe('errors a user can cause', () => {
  it('each prints one clear line and exits non-zero; --debug adds the stack', async () => {
    expect(await fails(['fs', 'cat', '/no/such/file'])).toBe('NOT_FOUND: /no/such/file does not exist');
    expect(await fails(['fs', 'ls', '--bogus', '/'])).toBe("error: unknown option '--bogus'");
    expect(await fails(['fs', 'ls', '--timestamp', 'lastAccessTime', '/'])).toBe('INVALID_ARGUMENT: --timestamp lastAccessTime: strata keeps only lastModificationTime (no creation or access times)');
    expect(await fails(['fsadmin', 'report', 'capacity', '-live', '-lost'])).toBe('INVALID_ARGUMENT: report capacity takes at most one of -live and -lost');
    expect(await fails(['fsadmin', 'report', 'capacity', '-workers', 'worker-9'])).toBe('NOT_FOUND: no such worker: worker-9 (workers: worker-0, worker-1)');
    expect(await fails(['getConf', 'strata.no.such.key'])).toBe('configuration error: unknown property "strata.no.such.key"');
    expect(await fails(['fs', 'ls', '/'], ['--conf', `strata.master.rpc.port=${await freePort()}`])).toMatch(/^UNAVAILABLE: cannot reach the master at ws:\/\/127\.0\.0\.1:\d+: connection refused/);
    await ok('fs', 'mkdir', '/private');
    await ok('fs', 'chmod', '700', '/private');
    const mallory = ['--conf', 'strata.security.login.username=mallory', '--conf', 'strata.security.login.groups=nobody'];
    expect(await fails(['fs', 'ls', '/private'], mallory)).toMatch(/^PERMISSION_DENIED: /);
    // Administration is the superuser's (the user running the cluster) or the supergroup's.
    expect(await fails(['fsadmin', 'ufs', '--mode', 'noAccess', join(dir, 'data', 'ufs')], mallory)).toMatch(/^PERMISSION_DENIED: SetUfsMode is for the superuser \S+ or the group supergroup; mallory is neither$/);
    expect(await fails(['logLevel', '--logName', 'root', '--target', 'master', '--level', 'debug'], mallory)).toMatch(/^PERMISSION_DENIED: SetLogLevel is for the superuser/);
    expect(await strata(['logLevel', '--logName', 'master', '--target', 'master'], mallory).then((r) => r.code)).toBe(0);
    // Full cluster: a MUST_CACHE block larger than a worker's whole storage.
    writeFileSync(join(dir, 'huge.bin'), randomBytes(30 * 1024 * 1024));
    const full = ['--conf', 'strata.user.file.writetype.default=MUST_CACHE', '--conf', 'strata.user.block.size.bytes.default=64MB'];
    expect(await fails(['fs', 'copyFromLocal', join(dir, 'huge.bin'), '/huge.bin'], full)).toMatch(
      /^RESOURCE_EXHAUSTED: no room to write \/huge\.bin \(refused by worker-\d, worker-\d\): worker-\d cannot keep block \d+: .* does not fit in MEM \(MEM \d+\/\d+ bytes used\)/,
    );
    const debug = await strata(['fs', 'cat', '/no/such/file', '--debug']);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^NOT_FOUND: \/no\/such\/file does not exist\n[\s\S]*\n\s+at /);
  }, 90_000);
});
