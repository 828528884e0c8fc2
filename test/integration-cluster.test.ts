// A real cluster: one master and two worker processes on loopback, driven by the CLI.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, killAll, runCli, startCli, waitFor, type Proc } from './helpers/processes.js';

let dir: string;
let conf: string[];
let master: Proc;
const workers: Proc[] = [];

function confArgs(c: Record<string, string>): string[] {
  return Object.entries(c).flatMap(([k, v]) => ['--conf', `${k}=${v}`]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-it-'));
  const masterPort = await freePort();
  conf = confArgs({
    'strata.work.dir': join(dir, 'data'),
    'strata.master.rpc.port': String(masterPort),
    'strata.master.worker.timeout': '2s',
    'strata.worker.block.heartbeat.interval': '200ms',
    'strata.user.rpc.timeout': '3s',
    'strata.user.block.size.bytes.default': '16MB',
    'strata.logger.level': 'warn',
  });
  const preexisting = join(dir, 'data', 'ufs', 'preexisting', 'fresh');
  mkdirSync(preexisting, { recursive: true });
  writeFileSync(join(preexisting, 'outside.txt'), 'written behind strata\'s back\n');
  master = startCli(['master', ...conf], dir);
  await waitFor('master to listen', async () => master.output().includes('listening'));
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const w = startCli(['worker', '--id', `worker-${i}`, ...conf, '--conf', `strata.worker.rpc.port=${port}`], dir);
    workers.push(w);
    await waitFor(`worker-${i} to listen`, async () => w.output().includes('listening'));
  }
});

afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

async function holders(path: string): Promise<string[]> {
  const r = await runCli(['fs', 'stat', '--json', path, ...conf], dir);
  expect(r.code, r.stderr).toBe(0);
  const info = JSON.parse(r.stdout.toString()) as { blocks: Array<{ locations: Array<{ workerId: string }> }> };
  return info.blocks.flatMap((b) => b.locations.map((l) => l.workerId));
}

describe('a real cluster on loopback', () => {
  const data = randomBytes(50 * 1024 * 1024);

  it('copyFromLocal then cat round-trips a 50 MiB file byte for byte', async () => {
    writeFileSync(join(dir, 'big.bin'), data);
    await waitFor('workers to register', async () => {
      const r = await runCli(['fs', 'copyFromLocal', join(dir, 'big.bin'), '/data/big.bin', ...conf], dir);
      if (r.code !== 0) throw new Error(r.stderr);
      return true;
    });
    const cat = await runCli(['fs', 'cat', '/data/big.bin', ...conf], dir);
    expect(cat.stderr).toBe('');
    expect(cat.code).toBe(0);
    expect(cat.stdout.length).toBe(data.length);
    expect(cat.stdout.equals(data)).toBe(true);
    // The UFS holds the same bytes (CACHE_THROUGH wrote through).
    expect(readFileSync(join(dir, 'data', 'ufs', 'data', 'big.bin')).equals(data)).toBe(true);
  });

  it('a read still succeeds after the worker holding the blocks is SIGKILLed', async () => {
    const held = await waitFor('blocks to be reported', async () => {
      const h = await holders('/data/big.bin');
      return h.length >= 4 ? h : undefined;
    });
    const victim = held[0]!;
    await workers[Number(victim.split('-')[1])]!.kill('SIGKILL');
    const local = join(dir, 'copy.bin');
    // A generous deadline: failing over must come from the refused connection, not from waiting it out.
    const started = Date.now();
    const r = await runCli(['fs', 'copyToLocal', '/data/big.bin', local, ...conf, '--conf', 'strata.user.rpc.timeout=40s'], dir);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(local).equals(data)).toBe(true);
    // The master notices the dead worker and drops its locations.
    await waitFor('the dead worker to be dropped', async () => !(await holders('/data/big.bin')).includes(victim));
  });

  it('ls and stat show metadata loaded from the UFS', async () => {
    // Load type ONCE: what the UFS held before strata first listed a directory is loaded on first access.
    const ls = await runCli(['fs', 'ls', '/preexisting/fresh', ...conf], dir);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout.toString()).toMatch(/ 29 .*\/preexisting\/fresh\/outside\.txt/);
    const moved = await runCli(['fs', 'mv', '/preexisting/fresh/outside.txt', '/preexisting', ...conf], dir);
    expect(moved.stdout.toString()).toBe('Renamed /preexisting/fresh/outside.txt to /preexisting/outside.txt\n');
    const cat = await runCli(['fs', 'cat', '/preexisting/outside.txt', ...conf], dir);
    expect(cat.stdout.toString()).toBe('written behind strata\'s back\n');
  });

  it('sees a file changed in the UFS directly once the sync interval allows', async () => {
    const ufsFile = join(dir, 'data', 'ufs', 'preexisting', 'changing.txt');
    writeFileSync(ufsFile, 'first version\n');
    const sync = ['--conf', 'strata.user.file.metadata.sync.interval=0'];
    expect((await runCli(['fs', 'cat', '/preexisting/changing.txt', ...conf, ...sync], dir)).stdout.toString()).toBe('first version\n');
    writeFileSync(ufsFile, 'the second, longer version\n');
    // Without a sync interval the loaded metadata (and the cached block) stay.
    expect((await runCli(['fs', 'cat', '/preexisting/changing.txt', ...conf], dir)).stdout.toString()).toBe('first version\n');
    const fresh = await runCli(['fs', 'cat', '/preexisting/changing.txt', ...conf, ...sync], dir);
    expect(fresh.stderr).toBe('');
    expect(fresh.stdout.toString()).toBe('the second, longer version\n');
  });

  it('the inspection commands and cp/touch answer as Alluxio\'s do', async () => {
    const run = async (...args: string[]) => {
      const r = await runCli(['fs', ...args, ...conf], dir);
      expect(r.stderr, args.join(' ')).toBe('');
      return r;
    };
    writeFileSync(join(dir, 'small.txt'), 'hello, strata\n');
    await run('copyFromLocal', join(dir, 'small.txt'), '/insp/small.txt');
    await run('touch', '/insp/empty');
    await run('cp', '/insp/small.txt', '/insp/copy.txt');
    expect((await run('cat', '/insp/copy.txt')).stdout.toString()).toBe('hello, strata\n');
    expect((await run('head', '-c', '5', '/insp/small.txt')).stdout.toString()).toBe('hello');
    expect((await run('tail', '-c', '7', '/insp/small.txt')).stdout.toString()).toBe('strata\n');
    expect((await run('checksum', '/insp/small.txt')).stdout.toString()).toBe(`md5sum: ${createHash('md5').update('hello, strata\n').digest('hex')}\n`);
    expect((await run('count', '/insp')).stdout.toString()).toMatch(/\n3\s+1\s+28\n$/);
    expect((await run('du', '-s', '/insp')).stdout.toString()).toMatch(/\n28\s+\d+\s+\/insp\n$/);
    expect((await runCli(['fs', 'test', '-z', '/insp/empty', ...conf], dir)).code).toBe(0);
    expect((await runCli(['fs', 'test', '-d', '/insp/empty', ...conf], dir)).code).toBe(1);
    expect((await runCli(['fs', 'test', '-e', '/insp/nope', ...conf], dir)).code).toBe(1);
    expect((await run('location', '/insp/small.txt')).stdout.toString()).toMatch(/is on nodes:/);
    expect((await run('getCapacityBytes')).stdout.toString()).toMatch(/^Capacity Bytes: [1-9]\d*\n$/);
    expect((await run('getUsedBytes')).stdout.toString()).toMatch(/^Used Bytes: \d+\n$/);
    const names = (args: string[]) => runCli(['fs', 'ls', ...args, '/insp', ...conf], dir).then((r) => r.stdout.toString().trim().split('\n').map((l) => l.split(/\s+/).pop()));
    expect(await names([])).toEqual(['/insp/copy.txt', '/insp/empty', '/insp/small.txt']);
    // By size, largest first; equal sizes keep their name order, reversed with the rest.
    expect(await names(['--sort', 'size', '-r'])).toEqual(['/insp/small.txt', '/insp/copy.txt', '/insp/empty']);
    expect(await names(['-d'])).toEqual(['/insp']);
    expect((await run('stat', '-f', '%N is %z bytes, owned by %u:%g (%%)', '/insp/small.txt')).stdout.toString()).toMatch(/^small\.txt is 14 bytes, owned by \S+:\S+ \(%\)\n$/);
    expect((await run('ls', '-h', '/insp/small.txt')).stdout.toString()).toMatch(/ 14B /);
  });

  it('refuses a client with the wrong cluster secret, on both sides', async () => {
    const r = await runCli(['fs', 'ls', '/', ...conf, '--conf', 'strata.security.cluster.secret=not-the-secret'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/PERMISSION_DENIED: handshake refused by ws:\/\/127\.0\.0\.1:\d+: wrong cluster secret/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    await waitFor('the master to log the refusal', async () => /refused.*wrong cluster secret/.test(master.output()));
  });

  it('an unreachable master gives one clear line, not a stack trace', async () => {
    const port = await freePort();
    const r = await runCli(['fs', 'ls', '/', ...conf, '--conf', `strata.master.rpc.port=${port}`], dir);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot reach the master at ws:\/\/127\.0\.0\.1:\d+: connection refused/);
  });

  it('unknown paths and bad property keys are clear errors', async () => {
    const r = await runCli(['fs', 'cat', '/no/such/file', ...conf], dir);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('NOT_FOUND: /no/such/file does not exist');
    // A failed copy leaves an existing local file as it was.
    writeFileSync(join(dir, 'keep.txt'), 'precious');
    const cp = await runCli(['fs', 'copyToLocal', '/no/such/file', join(dir, 'keep.txt'), ...conf], dir);
    expect(cp.code).toBe(1);
    expect(readFileSync(join(dir, 'keep.txt'), 'utf8')).toBe('precious');
    const bad = await runCli(['fs', 'ls', '/', ...conf, '--conf', 'strata.no.such.key=1'], dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('configuration error: unknown property key strata.no.such.key');
  });
});

describe('process lifecycle', () => {
  it('SIGTERM shuts a master down cleanly and its journal replays on restart', async () => {
    const work = mkdtempSync(join(tmpdir(), 'strata-sig-'));
    try {
      const port = await freePort();
      const c = confArgs({ 'strata.work.dir': join(work, 'data'), 'strata.master.rpc.port': String(port), 'strata.logger.level': 'info' });
      const m = startCli(['master', ...c], work);
      await waitFor('master to listen', async () => m.output().includes('listening'));
      const mk = await runCli(['fs', 'mkdir', '/survives', ...c], work);
      expect(mk.code, mk.stderr).toBe(0);
      const exited = new Promise<number | null>((r) => m.child.once('exit', (code) => r(code)));
      m.child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(m.output()).toMatch(/SIGTERM: shutting down/);
      const again = startCli(['master', ...c], work);
      await waitFor('restarted master to listen', async () => again.output().includes('listening'));
      expect(again.output()).toMatch(/replayed [1-9]\d* journal entries/);
      const ls = await runCli(['fs', 'ls', '/', ...c], work);
      expect(ls.stdout.toString()).toMatch(/\/survives/);
      await again.kill('SIGTERM');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('backup and restore', () => {
  it('fsadmin backup writes a consistent snapshot that a formatted master starts from with --restore', async () => {
    const work = mkdtempSync(join(tmpdir(), 'strata-bak-'));
    try {
      const port = await freePort();
      const c = confArgs({ 'strata.work.dir': join(work, 'data'), 'strata.master.rpc.port': String(port), 'strata.logger.level': 'warn' });
      let m = startCli(['master', ...c], work);
      await waitFor('master to listen', async () => m.output().includes('listening'));
      for (const p of ['/keep/a', '/keep/b', '/other']) expect((await runCli(['fs', 'mkdir', p, ...c], work)).code).toBe(0);
      await runCli(['fs', 'chmod', '700', '/keep/a', ...c], work);
      const b = await runCli(['fsadmin', 'backup', join(work, 'backups'), ...c], work);
      expect(b.stderr).toBe('');
      const file = /written to (\S+\.bak)/.exec(b.stdout.toString())![1]!;
      // Changes after the backup are not in it.
      expect((await runCli(['fs', 'mkdir', '/after', ...c], work)).code).toBe(0);
      await m.kill('SIGTERM');
      // A master refuses to restore over an existing journal...
      const refused = startCli(['master', '--restore', file, ...c], work);
      await waitFor('the refusal', async () => refused.child.exitCode !== null);
      expect(refused.output()).toMatch(/cannot restore a backup over an existing journal/);
      // ...and starts from the backup once the journal is formatted.
      expect((await runCli(['formatJournal', ...c], work)).code).toBe(0);
      m = startCli(['master', '--restore', file, ...c], work);
      await waitFor('restored master to listen', async () => m.output().includes('listening'));
      const ls = (await runCli(['fs', 'ls', '-R', '/', ...c], work)).stdout.toString();
      expect(ls).toMatch(/\/keep\/a/);
      expect(ls).toMatch(/drwx------ .*\/keep\/a/);
      expect(ls).toMatch(/\/other/);
      expect(ls).not.toMatch(/\/after/);
      const bad = startCli(['master', '--restore', join(work, 'nope.bak'), ...c], work);
      await waitFor('a bad backup to be refused', async () => bad.child.exitCode !== null);
      await m.kill('SIGTERM');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
