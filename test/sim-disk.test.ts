import { describe, expect, it } from 'vitest';
import type { Actor, Env } from '../actors/env.js';
import type { Envelope } from '../actors/protocol/envelope.js';
import { LOCAL_DISK, type StorageModel } from '../sim/env.js';
import { MemDisk } from '../sim/disk.js';
import { createSimBed, type SimBed } from '../sim/scenario.js';

class Idle implements Actor {
  constructor(readonly env: Env) {}
  async start(): Promise<void> {}
  receive(_e: Envelope): void {}
  async stop(): Promise<void> {}
}

const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

async function node(model: Partial<StorageModel> = {}, seed = 1): Promise<SimBed & { env(): Env }> {
  const bed = createSimBed(seed, { network: 'quiet', cluster: { disk: { ...LOCAL_DISK, ...model } } });
  bed.cluster.addNode('n', (env) => new Idle(env));
  await bed.sim.settle(bed.cluster.start('n'));
  return { ...bed, env: () => bed.cluster.actor<Idle>('n').env };
}

describe('MemDisk', () => {
  it('loses unsynced writes on a crash and keeps fsynced ones', async () => {
    const d = new MemDisk();
    await d.writeFile('a/synced', text('kept'));
    await d.fsync('a/synced');
    await d.append('a/synced', text(' and lost'));
    await d.writeFile('a/never', text('gone'));
    d.crash();
    expect(new TextDecoder().decode(await d.readFile('a/synced'))).toBe('kept');
    expect(await d.readFile('a/never')).toEqual(new Uint8Array(0));
  });

  it('keeps a prefix of the unsynced bytes on a torn write', async () => {
    const d = new MemDisk();
    await d.append('log', bytes(1, 2, 3));
    await d.fsync('log');
    await d.append('log', bytes(4, 5, 6, 7, 8));
    d.faults.tornBytes = (_p, unsynced) => {
      expect(unsynced).toBe(5);
      return 2;
    };
    d.crash();
    expect(await d.readFile('log')).toEqual(bytes(1, 2, 3, 4, 5));
  });
});

describe('simulated node disk', () => {
  it('takes simulated time per operation, completing in issue order', async () => {
    const bed = await node({ opLatencyMs: [1, 1], fsyncLatencyMs: [5, 5] });
    const env = bed.env();
    const t0 = bed.sim.now;
    const done: string[] = [];
    const a = env.disk.append('f', bytes(1)).then(() => done.push(`a@${bed.sim.now - t0}`));
    const b = env.disk.fsync('f').then(() => done.push(`b@${bed.sim.now - t0}`));
    const c = env.disk.readFile('f').then((d) => done.push(`c${d.length}@${bed.sim.now - t0}`));
    await bed.sim.settle(Promise.all([a, b, c]));
    expect(done[0]).toMatch(/^a@1\.0/);
    expect(done[1]).toMatch(/^b@7\.0/);
    expect(done[2]).toMatch(/^c1@8\.0/);
  });

  it('loses unsynced writes on crash, keeps fsynced data, and survives restart', async () => {
    const bed = await node();
    let env = bed.env();
    await bed.sim.settle(env.disk.append('j', text('one;')));
    await bed.sim.settle(env.disk.fsync('j'));
    await bed.sim.settle(env.disk.append('j', text('two;')));
    bed.cluster.crash('n');
    await bed.sim.settle(bed.cluster.start('n'));
    env = bed.env();
    expect(new TextDecoder().decode(await bed.sim.settle(env.disk.readFile('j')))).toBe('one;');
  });

  it('tears unsynced appends at the configured rate, always keeping a prefix', async () => {
    const bed = await node({ tornWriteP: 1 });
    const env = bed.env();
    await bed.sim.settle(env.disk.append('j', bytes(9, 9)));
    await bed.sim.settle(env.disk.fsync('j'));
    const tail = Array.from({ length: 64 }, (_, i) => i);
    await bed.sim.settle(env.disk.append('j', Uint8Array.from(tail)));
    bed.cluster.crash('n');
    const after = await bed.cluster.disk('n').readFile('j');
    expect(after.length).toBeGreaterThanOrEqual(2);
    expect([...after]).toEqual([9, 9, ...tail.slice(0, after.length - 2)]);
  });

  it('never completes an operation pending at a crash, and kills the timers', async () => {
    const bed = await node({ opLatencyMs: [10, 10] });
    const env = bed.env();
    let completed = false;
    let fired = false;
    void env.disk.writeFile('x', bytes(1)).then(() => (completed = true));
    env.setTimer(5, () => (fired = true));
    bed.sim.schedule(1, 'scenario', 'crash', () => bed.cluster.crash('n'));
    await bed.sim.run();
    expect(completed).toBe(false);
    expect(fired).toBe(false);
    expect(await bed.cluster.disk('n').stat('x')).toBeNull();
  });

  it('corrupts reads at the configured rate, and the raw disk stays intact', async () => {
    const rate = 0.1;
    const bed = await node({ corruptReadP: rate, opLatencyMs: [0, 0] });
    const env = bed.env();
    const data = Uint8Array.from({ length: 256 }, (_, i) => i);
    await bed.sim.settle(env.disk.writeFile('blk', data));
    let bad = 0;
    const n = 3000;
    const reads = [];
    for (let i = 0; i < n; i++) reads.push(env.disk.read('blk', 0, 256).then((d) => {
      if (!d.every((b, j) => b === data[j])) bad++;
    }));
    await bed.sim.settle(Promise.all(reads));
    expect(bad).toBeGreaterThan(n * rate * 0.7);
    expect(bad).toBeLessThan(n * rate * 1.3);
    expect(await bed.cluster.disk('n').readFile('blk')).toEqual(data);
  });

  it('corrupts nothing by default', async () => {
    const bed = await node();
    const env = bed.env();
    const data = Uint8Array.from({ length: 100 }, (_, i) => i);
    await bed.sim.settle(env.disk.writeFile('blk', data));
    const reads = Array.from({ length: 500 }, () => env.disk.readFile('blk'));
    for (const r of await bed.sim.settle(Promise.all(reads))) expect(r).toEqual(data);
  });

  it('fails operations with EIO at the configured rate', async () => {
    const bed = await node({ eioP: 0.2 });
    const env = bed.env();
    const ops = Array.from({ length: 1000 }, (_, i) => env.disk.writeFile('f' + i, bytes(i & 255)).then(() => 'ok', (e: { code?: string }) => e.code));
    const results = await bed.sim.settle(Promise.all(ops));
    const eio = results.filter((r) => r === 'EIO').length;
    expect(eio).toBeGreaterThan(140);
    expect(eio).toBeLessThan(260);
    expect(results.filter((r) => r !== 'EIO' && r !== 'ok')).toEqual([]);
  });
});

describe('simulated key-value store', () => {
  it('scans in key order, loses unsynced batches on a crash, keeps synced ones', async () => {
    const bed = await node();
    let kv = await bed.sim.settle(bed.env().openKv('meta'));
    await bed.sim.settle(kv.batch([['b/2', bytes(2)], ['a/1', bytes(1)], ['b/1', bytes(3)]], true));
    await bed.sim.settle(kv.batch([['b/3', bytes(4)], ['a/1', undefined]], false));
    expect((await bed.sim.settle(kv.scan('b/'))).map(([k]) => k)).toEqual(['b/1', 'b/2', 'b/3']);
    expect(await bed.sim.settle(kv.get('a/1'))).toBeUndefined();
    bed.cluster.crash('n');
    await bed.sim.settle(bed.cluster.start('n'));
    kv = await bed.sim.settle(bed.env().openKv('meta'));
    expect((await bed.sim.settle(kv.scan(''))).map(([k, v]) => [k, [...v]])).toEqual([
      ['a/1', [1]],
      ['b/1', [3]],
      ['b/2', [2]],
    ]);
    // A synced batch makes the unsynced ones before it durable too.
    await bed.sim.settle(kv.batch([['c', bytes(5)]], false));
    await bed.sim.settle(kv.batch([['d', bytes(6)]], true));
    bed.cluster.crash('n');
    expect(bed.cluster.kv('n', 'meta')!.scan('').map(([k]) => k)).toEqual(['a/1', 'b/1', 'b/2', 'c', 'd']);
  });

  it('getSync sees a batch once it has landed; clear empties the store', async () => {
    const bed = await node();
    const kv = await bed.sim.settle(bed.env().openKv('sync'));
    const landing = kv.batch([['k', bytes(7)]], false);
    expect(kv.getSync('k')).toBeUndefined();
    await bed.sim.settle(landing);
    expect([...kv.getSync('k')!]).toEqual([7]);
    await bed.sim.settle(kv.clear());
    expect(kv.getSync('k')).toBeUndefined();
    expect(bed.cluster.kv('n', 'sync')!.size).toBe(0);
    await kv.close();
    expect(() => kv.getSync('k')).toThrow(/closed/);
  });

  it('rejects use after close', async () => {
    const bed = await node();
    const kv = await bed.sim.settle(bed.env().openKv('x'));
    await kv.close();
    await expect(kv.get('a')).rejects.toThrow(/closed/);
  });
});

describe('simulated UFS', () => {
  it('is one shared disk per URI across nodes, and maps file:// URIs and paths', async () => {
    const bed = createSimBed(3, { network: 'quiet' });
    bed.cluster.addNode('a', (env) => new Idle(env));
    bed.cluster.addNode('b', (env) => new Idle(env));
    await bed.sim.settle(Promise.all([bed.cluster.start('a'), bed.cluster.start('b')]));
    const ua = bed.cluster.actor<Idle>('a').env.openUfs('sim://lake');
    const ub = bed.cluster.actor<Idle>('b').env.openUfs('sim://lake');
    const t0 = bed.sim.now;
    await bed.sim.settle(ua.writeFile('dir/obj', text('hello')));
    expect(bed.sim.now - t0).toBeGreaterThanOrEqual(1);
    expect(new TextDecoder().decode(await bed.sim.settle(ub.readFile('dir/obj')))).toBe('hello');
    bed.cluster.crash('a');
    expect(await bed.cluster.ufsDisk('sim://lake').stat('dir/obj')).not.toBeNull();
    const f1 = bed.cluster.actor<Idle>('b').env.openUfs('file:///data/ufs/');
    await bed.sim.settle(f1.writeFile('x', text('1')));
    expect(await bed.cluster.ufsDisk('/data/ufs').stat('x')).not.toBeNull();
    expect(await bed.cluster.ufsDisk('sim://other').stat('x')).toBeNull();
  });

  it('serves different objects in parallel and one object in order', async () => {
    const bed = createSimBed(3, { network: 'quiet', cluster: { ufs: { ...LOCAL_DISK, opLatencyMs: [10, 10], bytesPerMs: Number.POSITIVE_INFINITY } } });
    bed.cluster.addNode('a', (env) => new Idle(env));
    await bed.sim.settle(bed.cluster.start('a'));
    const u = bed.cluster.env('a').openUfs('sim://s3');
    const t0 = bed.sim.now;
    const done: Record<string, number> = {};
    const mark = (k: string) => () => void (done[k] = bed.sim.now - t0);
    await bed.sim.settle(Promise.all([
      u.writeFile('x', bytes(1)).then(mark('x1')),
      u.writeFile('y', bytes(2)).then(mark('y')),
      u.append('x', bytes(3)).then(mark('x2')),
    ]));
    expect(done).toEqual({ x1: 10, y: 10, x2: 20 });
    expect(await bed.cluster.ufsDisk('sim://s3').readFile('x')).toEqual(bytes(1, 3));
  });
});
