// Block write location policies choose as Alluxio's do.
import { describe, expect, it } from 'vitest';
import { WorkerChooser } from '../actors/client/location-policy.js';

const w = (id: string, host: string, free: number) => ({ id, address: `ws://${host}:29999`, capacityBytes: 1000, usedBytes: 1000 - free, lastHeartbeatMs: 0, state: 'LIVE', blockCount: 0 });
const workers = [w('worker-0', 'a', 100), w('worker-1', 'b', 900), w('worker-2', 'c', 500), { ...w('worker-3', 'd', 1000), state: 'LOST' }];
const ctx = { localHosts: ['c'], specificHost: 'a', random: () => 0.99 };

describe('write location policies', () => {
  it('LocalFirst prefers a worker on this host with room, else any with room', () => {
    expect(new WorkerChooser('LocalFirst', ctx).choose(workers, '/f', 50).id).toBe('worker-2');
    expect(new WorkerChooser('LocalFirst', ctx).choose(workers, '/f', 600).id).toBe('worker-1');
  });
  it('MostAvailableFirst takes the emptiest live worker; lost workers never count', () => {
    expect(new WorkerChooser('MostAvailableFirst', ctx).choose(workers, '/f', 1).id).toBe('worker-1');
  });
  it('RoundRobin rotates, DeterministicHash is stable per path, SpecificHost names its host', () => {
    const rr = new WorkerChooser('RoundRobin', ctx);
    expect([1, 2, 3, 4].map(() => rr.choose(workers, '/f', 1).id)).toEqual(['worker-0', 'worker-1', 'worker-2', 'worker-0']);
    const dh = new WorkerChooser('DeterministicHash', ctx);
    expect(dh.choose(workers, '/some/path', 1).id).toBe(dh.choose(workers, '/some/path', 1).id);
    expect(new Set(['/a', '/b', '/c', '/d', '/e', '/f', '/g'].map((p) => dh.choose(workers, p, 1).id)).size).toBeGreaterThan(1);
    expect(new WorkerChooser('SpecificHost', ctx).choose(workers, '/f', 1).id).toBe('worker-0');
    expect(() => new WorkerChooser('SpecificHost', { ...ctx, specificHost: 'zz' }).choose(workers, '/f', 1)).toThrow(/no live worker on host zz/);
  });
});
