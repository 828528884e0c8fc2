// Linearizable reads through the Raft driver: many reads asked together cost one
// ReadIndex round (a heartbeat to as many followers as make a quorum), not one
// each; with lease reads (strata.master.embedded.journal.read.lease.enabled) they
// cost none.
import { describe, expect, it } from 'vitest';
import type { Env } from '../actors/env.js';
import { RaftKvActor, RAFT_TIMING } from '../sim/raft-kv.js';
import { createSimBed } from '../sim/scenario.js';

const IDS = ['master-0', 'master-1', 'master-2'];

async function group(readOnly: 'safe' | 'lease') {
  const b = createSimBed(11, { network: 'quiet' });
  const heartbeats = { n: 0, to: [] as string[] };
  for (const id of IDS) {
    b.cluster.addNode(id, (env: Env) => {
      // Counts the Raft heartbeats this node sends (ReadIndex rounds ride on them).
      const counting: Env = Object.create(env) as Env;
      counting.send = (to, e) => {
        if (e.m.t === 'RaftHeartbeat') {
          heartbeats.n++;
          heartbeats.to.push(to);
        }
        env.send(to, e);
      };
      return new RaftKvActor(counting, { ...RAFT_TIMING, voters: IDS, dir: 'raft', checkpointEntries: 0, readOnly });
    });
  }
  await b.sim.settle(Promise.all(IDS.map((id) => b.cluster.start(id))));
  const leader = (): RaftKvActor | undefined => IDS.map((id) => b.cluster.actor<RaftKvActor>(id)).find((a) => a.driver.status().role === 'leader');
  await b.sim.run({ for: 5000, stopWhen: () => leader() !== undefined && leader()!.driver.status().commit > 0 });
  const l = leader()!;
  await b.sim.settle(l.driver.propose(new TextEncoder().encode('first')));
  /** `n` reads asked at once; each resolves with how many commands the leader had applied when it was served. */
  const reads = (n: number): Array<Promise<number>> => Array.from({ length: n }, () => l.driver.read().then(() => l.sm.log.length));
  return { ...b, l, heartbeats, reads };
}

describe('raft reads', () => {
  it('reads asked together share one ReadIndex round, and each sees the write acknowledged before it', async () => {
    const { sim, l, heartbeats, reads } = await group('safe');
    const before = heartbeats.n;
    // A write in flight keeps the driver busy while the reads arrive.
    const write = l.driver.propose(new TextEncoder().encode('second'));
    const seen = await sim.settle(Promise.all(reads(50)));
    await sim.settle(write);
    // At most two rounds (one may already have been started with the write's Ready), to 1 follower each.
    expect(heartbeats.n - before).toBeLessThanOrEqual(2);
    expect(heartbeats.n - before).toBeGreaterThan(0);
    expect(seen.every((n) => n >= 1)).toBe(true);
    expect(await sim.settle(Promise.all(reads(1)))).toEqual([2]);
  });

  it('reads asked in one turn on an idle leader share one round', async () => {
    const { sim, heartbeats, reads } = await group('safe');
    const before = heartbeats.n;
    expect(await sim.settle(Promise.all(reads(64)))).toEqual(Array(64).fill(1));
    // One heartbeat, to one follower: with the leader, a quorum.
    expect(heartbeats.n - before).toBe(1);
  });

  it('a round whose follower is gone is sent to the others at once, not at the next heartbeat', async () => {
    const { sim, cluster, l, heartbeats, reads } = await group('safe');
    const before = heartbeats.n;
    expect(await sim.settle(Promise.all(reads(3)))).toEqual([1, 1, 1]);
    const chosen = heartbeats.to[before]!;
    expect(heartbeats.n - before).toBe(1);
    cluster.crash(chosen);
    // A write committed by the leader and the other follower: every later read must see it.
    await sim.settle(l.driver.propose(new TextEncoder().encode('second')));
    const clock = cluster.env(l.driver.status().id);
    const asked = clock.now();
    const seen = await sim.settle(Promise.all(reads(5)));
    expect(seen).toEqual(Array(5).fill(2));
    // Widened after a quarter of the heartbeat interval (12 ms here), well before the next heartbeat (50 ms).
    expect(clock.now() - asked).toBeLessThan(RAFT_TIMING.heartbeatIntervalMs / 2 + 1);
  });

  it('reads asked while a round is in flight share the next round, and see writes acknowledged before them', async () => {
    const { sim, l, heartbeats, reads } = await group('safe');
    const before = heartbeats.n;
    const first = reads(1);
    // Let the first round leave (its heartbeats are on the wire), then ask more in later turns.
    await sim.run({ for: 0.01 });
    const write = l.driver.propose(new TextEncoder().encode('second'));
    await sim.settle(write);
    const later: Array<Promise<number>> = [];
    for (let i = 0; i < 5; i++) {
      later.push(...reads(10));
      await sim.run({ for: 0.01 });
    }
    const seen = await sim.settle(Promise.all([...first, ...later]));
    // Every read asked after the write was acknowledged sees it.
    expect(seen.slice(1).every((n) => n === 2)).toBe(true);
    // Far fewer rounds than the 50 later reads: each round carries every read queued behind the one in flight.
    expect(heartbeats.n - before).toBeLessThanOrEqual(2 * 4);
  });

  it('a burst asked while a round is in flight gets its own round at once; the next waits for one to finish', async () => {
    const { sim, heartbeats, reads } = await group('safe');
    const before = heartbeats.n;
    const first = reads(1);
    await sim.run({ for: 0.01 });
    expect(heartbeats.n - before).toBe(1);
    const second = reads(10);
    await sim.run({ for: 0.01 });
    expect(heartbeats.n - before).toBe(2);
    const third = reads(10);
    await sim.run({ for: 0.01 });
    expect(heartbeats.n - before).toBe(2);
    expect(await sim.settle(Promise.all([...first, ...second, ...third]))).toEqual(Array(21).fill(1));
    expect(heartbeats.n - before).toBe(3);
  });

  it('lease reads need no round', async () => {
    const { sim, heartbeats, reads } = await group('lease');
    const before = heartbeats.n;
    expect(await sim.settle(Promise.all(reads(20)))).toEqual(Array(20).fill(1));
    expect(heartbeats.n - before).toBe(0);
  });
});
