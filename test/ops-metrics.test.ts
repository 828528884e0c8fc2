// The metrics registry, its Prometheus rendering and parsing, the cluster totals
// a master sums from heartbeats (in simulation, with the production actors),
// UFS modes, runtime log levels and the progress display.
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { METRIC, Metrics, metricsOf } from '../actors/metrics.js';
import { ClusterMetrics } from '../actors/master/master-metrics.js';
import { MASTER_ID, MasterActor } from '../actors/master/master.js';
import type { Disk } from '../actors/env.js';
import { isStrataError } from '../actors/protocol/envelope.js';
import { renderPrometheus } from '../transport/metrics-http.js';
import { parsePrometheus, sampleValue } from '../cli/prom-text.js';
import { ufsModes } from '../transport/ufs-mode.js';
import { createLogger, setLogLevel } from '../transport/logging.js';
import { startProgress } from '../cli/progress.js';
import { runScenarioObject, type Scenario } from '../sim/scenario.js';
import { buildDataCluster } from '../sim/scenarios/data-cluster.js';

describe('Metrics', () => {
  it('renders counters, gauges and histograms that a Prometheus parser reads back', async () => {
    const m = new Metrics();
    m.inc(METRIC.rpcServerErrors, 2, { op: 'GetStatus', code: 'NOT_FOUND' });
    m.inc(METRIC.rpcServerErrors, 1, { code: 'NOT_FOUND', op: 'GetStatus' });
    m.set(METRIC.totalPaths, 7);
    for (const v of [0.0005, 0.003, 0.003, 20]) m.observe(METRIC.rpcServer, v, { op: 'Read "x"\n' });
    let collected = 1;
    m.collect(METRIC.workers, 'gauge', () => [[{}, collected]]);
    collected = 5;
    const p = parsePrometheus(await renderPrometheus([['master', m]]));
    expect(sampleValue(p, METRIC.rpcServerErrors.name, { op: 'GetStatus', code: 'NOT_FOUND' })).toBe(3);
    expect(sampleValue(p, METRIC.totalPaths.name)).toBe(7);
    expect(sampleValue(p, METRIC.workers.name)).toBe(5);
    const op = { op: 'Read "x"\n' };
    expect(sampleValue(p, `${METRIC.rpcServer.name}_count`, op)).toBe(4);
    expect(sampleValue(p, `${METRIC.rpcServer.name}_sum`, op)).toBeCloseTo(20.0065);
    expect(sampleValue(p, `${METRIC.rpcServer.name}_bucket`, { ...op, le: '0.001' })).toBe(1);
    expect(sampleValue(p, `${METRIC.rpcServer.name}_bucket`, { ...op, le: '0.005' })).toBe(3);
    expect(sampleValue(p, `${METRIC.rpcServer.name}_bucket`, { ...op, le: '10' })).toBe(3);
    expect(sampleValue(p, `${METRIC.rpcServer.name}_bucket`, { ...op, le: '+Inf' })).toBe(4);
    expect(p.types.get(METRIC.rpcServer.name)).toBe('histogram');
    expect(p.types.get(METRIC.rpcServerErrors.name)).toBe('counter');
    expect(p.help.get(METRIC.totalPaths.name)).toMatch(/Alluxio: Master\.TotalPaths/);
  });

  it('clear zeroes counters and histograms, keeps gauges, and tells collectors', () => {
    const m = new Metrics();
    let cleared = 0;
    m.onClear(() => cleared++);
    m.inc(METRIC.leaderChanges, 3);
    m.observe(METRIC.journalCommit, 0.01);
    m.set(METRIC.totalPaths, 4);
    m.clear();
    expect(m.value(METRIC.leaderChanges.name)).toBe(0);
    expect(m.value(METRIC.journalCommit.name)).toBe(0);
    expect(m.value(METRIC.totalPaths.name)).toBe(4);
    expect(cleared).toBe(1);
  });

  it('refuses a counter going down, a type clash and a bad name', () => {
    const m = new Metrics();
    expect(() => m.inc(METRIC.leaderChanges, -1)).toThrow(/cannot go down/);
    m.inc(METRIC.leaderChanges);
    expect(() => m.set(METRIC.leaderChanges, 1)).toThrow(/is a counter, not a gauge/);
    expect(() => m.inc({ name: 'bad-name', help: '' })).toThrow(/bad metric name/);
  });

  it('labels each node\'s samples when a process hosts several', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.set(METRIC.totalPaths, 1);
    b.set(METRIC.totalPaths, 2);
    const p = parsePrometheus(await renderPrometheus([['master-0', a], ['master-1', b]]));
    expect(sampleValue(p, METRIC.totalPaths.name, { node: 'master-0' })).toBe(1);
    expect(sampleValue(p, METRIC.totalPaths.name, { node: 'master-1' })).toBe(2);
  });
});

describe('the Prometheus text parser', () => {
  it('reads special values and rejects malformed lines', () => {
    const p = parsePrometheus('# HELP x a thing\n# TYPE x gauge\nx{a="1",b="q\\"uote"} +Inf\ny NaN\nz -3.5e2 1700000000\n');
    expect(sampleValue(p, 'x', { a: '1', b: 'q"uote' })).toBe(Infinity);
    expect(Number.isNaN(sampleValue(p, 'y'))).toBe(true);
    expect(sampleValue(p, 'z')).toBe(-350);
    expect(() => parsePrometheus('x{a=1} 2')).toThrow(/line 1/);
    expect(() => parsePrometheus('x two')).toThrow(/bad sample value/);
    expect(() => parsePrometheus('9x 1')).toThrow(/bad metric name/);
  });
});

describe('ClusterMetrics', () => {
  it('sums worker counters, capacity of live workers per tier, throughput between samples', () => {
    let live = ['w0', 'w1'];
    const c = new ClusterMetrics(() => live);
    const report = (read: number, ufs: number, used: number) => [
      { name: METRIC.bytesReadCache.name, value: read },
      { name: METRIC.bytesReadUfs.name, value: ufs },
      { name: METRIC.capacityTotal.name, tier: 'MEM', value: 100 },
      { name: METRIC.capacityUsed.name, tier: 'MEM', value: used },
    ];
    c.report('w0', report(30, 10, 5), 0);
    c.report('w1', report(30, 30, 7), 500);
    expect(c.sum(METRIC.bytesReadCache.name)).toBe(60);
    expect(c.hitRate()).toBeCloseTo(60 / 100);
    expect(c.byTier(METRIC.capacityUsed.name).get('MEM')).toBe(12);
    c.report('w0', report(2030, 10, 5), 2000);
    // Between the samples at 0 ms (w0 alone: 30) and 2000 ms (2030 + 30).
    expect(c.throughput().find(([l]) => l.kind === 'read_cache')![1]).toBe(1015);
    live = ['w1'];
    expect(c.byTier(METRIC.capacityTotal.name).get('MEM')).toBe(100);
    // Counters keep what a lost worker did.
    expect(c.sum(METRIC.bytesReadCache.name)).toBe(2060);
  });

  it('in simulation, the master\'s totals equal the sum of its workers\' counters after reads', async () => {
    const scenario: Scenario = {
      name: 'metrics',
      description: 'reads every file and compares the metrics',
      network: 'quiet',
      async run(ctx) {
        // Room for four blocks a worker: reading every file twice evicts.
        const dc = await buildDataCluster(ctx, { workers: 2, clients: 1, files: 6, minFileBytes: 20_000, maxFileBytes: 40_000, blockSize: 16_384, workerCapacity: 4 * 16_384, chunkSize: 4096, diskFaults: false });
        await dc.waitForWorkers();
        for (const path of dc.files.keys()) ctx.check(await ctx.settle(dc.read('client-0', path)), `read ${path}`);
        for (const path of dc.files.keys()) await ctx.settle(dc.read('client-0', path));
        await ctx.run({ until: ctx.sim.now + 3000 });
        const total = [...dc.files.values()].reduce((n, f) => n + f.byteLength, 0);
        const sum = (name: string) => dc.workers.reduce((n, w) => n + (metricsOf(ctx.cluster.env(w)).value(name) ?? 0), 0);
        // Each block is read through at least once (twice when both workers miss it before the master knows it is cached).
        ctx.check(sum(METRIC.bytesReadUfs.name) >= total, `UFS bytes ${sum(METRIC.bytesReadUfs.name)} < ${total}`);
        ctx.check(sum(METRIC.bytesReadCache.name) > 0, 'some reads hit the cache');
        ctx.check(sum(METRIC.bytesReadRemote.name) === 2 * total, `served ${sum(METRIC.bytesReadRemote.name)} != ${2 * total}`);
        const master = metricsOf(ctx.cluster.env(MASTER_ID));
        ctx.check(sum(METRIC.evictions.name) > 0, 'blocks were evicted');
        for (const [w, c] of [[METRIC.bytesReadUfs, METRIC.clusterBytesReadUfs], [METRIC.bytesReadCache, METRIC.clusterBytesReadCache], [METRIC.bytesReadRemote, METRIC.clusterBytesReadRemote], [METRIC.evictions, METRIC.clusterEvictions]] as const) {
          ctx.check(master.value(c.name) === sum(w.name), `${c.name} ${master.value(c.name)} != ${sum(w.name)}`);
        }
        ctx.check(master.value(METRIC.workers.name) === 2, 'two live workers');
        ctx.check((master.value(METRIC.rpcServer.name, { op: 'GetStatus' }) ?? 0) >= 12, 'GetStatus latency observed');
      },
    };
    const a = await runScenarioObject(scenario, 11);
    expect(a.reason).toBeUndefined();
    // Metrics are plain data: the run stays deterministic.
    expect((await runScenarioObject(scenario, 11)).trace).toBe(a.trace);
  }, 60_000);
});

describe('Raft metrics of a master group (simulation)', () => {
  it('one leader at a time; a new leader counts its election and the term moves on', async () => {
    const masters = ['master-0', 'master-1', 'master-2'];
    const scenario: Scenario = {
      name: 'raft-metrics',
      description: 'elects, crashes the leader, elects again',
      network: 'quiet',
      async run(ctx) {
        for (const id of masters) {
          const journal = { type: 'EMBEDDED' as const, voters: masters, checkpointEntries: 1000, electionTimeoutMinMs: 300, electionTimeoutMaxMs: 600, heartbeatIntervalMs: 50 };
          ctx.cluster.addNode(id, (env) => new MasterActor(env, { rootUfs: 'sim://ufs', blockSize: 1 << 20, workerTimeoutMs: 3000, rpcTimeoutMs: 2000, journalDir: 'journal', journal }));
        }
        await ctx.settle(Promise.all(masters.map((id) => ctx.cluster.start(id))));
        const value = (id: string, d: typeof METRIC.isLeader) => metricsOf(ctx.cluster.env(id)).value(d.name) ?? 0;
        const leaders = (ids: string[]) => ids.filter((id) => value(id, METRIC.isLeader) === 1);
        await ctx.run({ until: ctx.sim.now + 10_000, stopWhen: () => leaders(masters).length === 1 });
        // The driver reports leading a moment before it has persisted and handed leadership to the master.
        await ctx.run({ until: ctx.sim.now + 500 });
        const first = leaders(masters);
        ctx.check(first.length === 1, `one leader, got ${first.join(', ') || 'none'}`);
        const term = value(first[0]!, METRIC.raftTerm);
        ctx.check(value(first[0]!, METRIC.leaderChanges) === 1, () => `the leader counted its election: ${masters.map((id) => [id, value(id, METRIC.leaderChanges), value(id, METRIC.isLeader), value(id, METRIC.raftTerm)].join(':')).join(' ')}`);
        ctx.check(masters.every((id) => value(id, METRIC.raftTerm) === term), 'every master is at the leader\'s term');
        ctx.cluster.crash(first[0]!);
        const rest = masters.filter((id) => id !== first[0]);
        await ctx.run({ until: ctx.sim.now + 10_000, stopWhen: () => leaders(rest).length === 1 });
        await ctx.run({ until: ctx.sim.now + 500 });
        const second = leaders(rest);
        ctx.check(second.length === 1, `a new leader, got ${second.join(', ') || 'none'}`);
        ctx.check(value(second[0]!, METRIC.leaderChanges) === 1, 'the new leader counted its election');
        ctx.check(value(second[0]!, METRIC.raftTerm) > term, 'the term moved on');
      },
    };
    const r = await runScenarioObject(scenario, 5);
    expect(r.reason).toBeUndefined();
  }, 60_000);
});

describe('UFS modes', () => {
  it('a wrapped UFS obeys the mode current at each call', async () => {
    const calls: string[] = [];
    const disk = new Proxy({} as Disk, { get: (_, k: string) => async () => void calls.push(k) });
    const root = '/ufs-mode-test';
    const view = ufsModes.wrap(root, 'file:///ufs-mode-test', disk);
    await view.writeFile('a', new Uint8Array(1));
    ufsModes.set(root, 'readOnly');
    await view.read('a', 0, 1);
    await expect(view.writeFile('a', new Uint8Array(1))).rejects.toThrow(/PERMISSION_DENIED|readOnly mode/);
    await expect(view.remove('a')).rejects.toSatisfy((e: unknown) => isStrataError(e, 'PERMISSION_DENIED'));
    ufsModes.set(root, 'noAccess');
    await expect(view.stat('a')).rejects.toThrow(/noAccess mode/);
    ufsModes.set(root, 'readWrite');
    await view.list('');
    expect(calls).toEqual(['writeFile', 'read', 'list']);
    expect(ufsModes.entries().some(([r]) => r === root)).toBe(false);
  });
});

describe('log levels', () => {
  it('change at runtime by logger name or for the root', () => {
    const lines: string[] = [];
    const log = createLogger('lv-test-node', 'warn', (l) => lines.push(l));
    log.log('info', 'hidden');
    expect(setLogLevel('lv-test-node', 'debug')).toEqual([{ name: 'lv-test-node', level: 'debug' }]);
    log.log('debug', 'shown', { n: 1 });
    expect(setLogLevel('lv-test-node')).toEqual([{ name: 'lv-test-node', level: 'debug' }]);
    expect(lines.map((l) => JSON.parse(l) as { msg: string; n?: number })).toEqual([expect.objectContaining({ msg: 'shown', n: 1, level: 'debug' })]);
    expect(setLogLevel('root', 'error').some((l) => l.name === 'lv-test-node' && l.level === 'error')).toBe(true);
    log.log('warn', 'hidden again');
    expect(lines).toHaveLength(1);
    expect(() => setLogLevel('lv-test-node', 'loud')).toThrow(/unknown log level "loud"/);
    expect(() => setLogLevel('no-such-logger', 'info')).toThrow(/no logger named "no-such-logger"/);
  });
});

describe('progress', () => {
  it('prints plain lines at most once per interval when not on a terminal, and always the last', () => {
    let text = '';
    const stream = new Writable({ write: (c: Buffer, _e, cb) => void ((text += c.toString()), cb()) }) as unknown as NodeJS.WriteStream;
    let now = 0;
    const p = startProgress('copy /f', 4 * 1024 * 1024, { stream, now: () => now, lineEveryMs: 1000 });
    now = 500;
    p.advance(1024 * 1024);
    now = 1000;
    p.advance(1024 * 1024);
    now = 1500;
    p.advance(1024 * 1024);
    now = 2000;
    p.advance(1024 * 1024);
    p.stop();
    expect(text.split('\n').filter(Boolean)).toEqual([
      'copy /f: 2.00MB of 4.00MB (50%), 2.00MB/s, ETA 1s',
      'copy /f: 4.00MB of 4.00MB (100%), 2.00MB/s, ETA 0s',
      'copy /f: 4.00MB of 4.00MB (100%), 2.00MB/s, ETA 0s',
    ]);
    const failed = startProgress('copy /g', 10, { stream, bytes: false, now: () => now });
    failed.advance(3);
    failed.stop(false);
    expect(text.trim().split('\n').pop()).toBe('copy /g: failed at 3 of 10');
  });

  it('draws a bar with bytes, rate and ETA on a terminal', () => {
    let text = '';
    const stream = Object.assign(new Writable({ write: (c: Buffer, _e, cb) => void ((text += c.toString()), cb()) }), { isTTY: true, columns: 120 }) as unknown as NodeJS.WriteStream;
    let now = 0;
    const p = startProgress('copyToLocal /f', 4 * 1024 * 1024, { stream, now: () => now });
    now = 1000;
    p.advance(1024 * 1024);
    now = 2000;
    p.advance(3 * 1024 * 1024);
    p.stop();
    expect(text).toMatch(/copyToLocal \/f \[[█░]{30}\] 100% \| 4\.00MB\/4\.00MB \| 2\.00MB\/s \| ETA 0s/);
    expect(text).not.toMatch(/\(100%\)/); // not the plain-line form
  });

  it('shows a note after the units (a job\'s files), read when each line is printed', () => {
    const lines: string[] = [];
    let now = 0;
    let files = 0;
    const p = startProgress('load /in', 3000, { stream: { isTTY: false, write: (t: string) => lines.push(t) }, now: () => now, note: () => `files ${files}/3` });
    now = 2000;
    files = 1;
    p.advance(1000);
    now = 2500;
    p.advance(0); // within the interval: no line
    now = 4000;
    p.advance(0); // no bytes since, but time passed: a line with the rate falling and the ETA growing
    files = 3;
    p.advance(2000);
    p.stop();
    expect(lines).toEqual([
      'load /in: 1000B of 2.93KB (33%), files 1/3, 500B/s, ETA 4s\n',
      'load /in: 1000B of 2.93KB (33%), files 1/3, 250B/s, ETA 8s\n',
      'load /in: 2.93KB of 2.93KB (100%), files 3/3, 750B/s, ETA 0s\n',
    ]);
  });
});
