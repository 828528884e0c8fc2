// Random schedules of message delivery, loss, duplication, partitions, crashes,
// ticks, proposals, compactions, leadership transfers, ReadIndex and membership
// changes over 3–5 cores: the
// safety properties of the Raft paper's Figure 3 hold after every step, and once
// the faults stop a healed cluster elects a leader and commits again. fast-check
// shrinks a failing schedule to a minimal one and prints it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cluster, checkLogs } from './raft-helpers.js';

type Action =
  | { k: 'tick'; node: number; times: number }
  | { k: 'deliver'; pick: number; count: number }
  | { k: 'drop'; pick: number }
  | { k: 'dup'; pick: number }
  | { k: 'partition'; mask: number }
  | { k: 'heal' }
  | { k: 'propose'; node: number }
  | { k: 'crash'; node: number }
  | { k: 'restart'; node: number }
  | { k: 'compact'; node: number }
  | { k: 'transfer'; node: number; to: number }
  | { k: 'read'; node: number }
  | { k: 'conf'; node: number; target: number };

const node = fc.nat(7);
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('tick' as const), node, times: fc.integer({ min: 1, max: 12 }) }) },
  { weight: 10, arbitrary: fc.record({ k: fc.constant('deliver' as const), pick: fc.nat(1000), count: fc.integer({ min: 1, max: 20 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('drop' as const), pick: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('dup' as const), pick: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('partition' as const), mask: fc.nat(31) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'heal' as const }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('propose' as const), node }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('crash' as const), node }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('restart' as const), node }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('compact' as const), node }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('transfer' as const), node, to: node }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('read' as const), node }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('conf' as const), node, target: node }) },
);

const scenario = fc.record({
  size: fc.integer({ min: 3, max: 5 }),
  seed: fc.nat(1 << 30),
  preVote: fc.boolean(),
  checkQuorum: fc.boolean(),
  maxEntriesPerAppend: fc.integer({ min: 1, max: 8 }),
  maxInflight: fc.integer({ min: 1, max: 4 }),
  snapshotChunkBytes: fc.integer({ min: 8, max: 256 }),
  actions: fc.array(action, { minLength: 20, maxLength: 250 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function run(s: Scenario): void {
  const ids = Array.from({ length: s.size }, (_, i) => `n${i}`);
  const c = new Cluster(ids, {
    seed: s.seed,
    preVote: s.preVote,
    checkQuorum: s.checkQuorum,
    maxEntriesPerAppend: s.maxEntriesPerAppend,
    maxInflight: s.maxInflight,
    snapshotChunkBytes: s.snapshotChunkBytes,
    codec: false,
  });
  const id = (i: number) => ids[i % ids.length]!;
  let proposals = 0;
  for (const a of s.actions) {
    switch (a.k) {
      case 'tick':
        c.tick(id(a.node), a.times);
        break;
      case 'deliver':
        for (let i = 0; i < a.count && c.queue.length > 0; i++) c.deliverOne(a.pick % c.queue.length);
        break;
      case 'drop':
        if (c.queue.length > 0) c.queue.splice(a.pick % c.queue.length, 1);
        break;
      case 'dup':
        if (c.queue.length > 0) c.queue.push(c.queue[a.pick % c.queue.length]!);
        break;
      case 'partition':
        c.heal();
        c.isolate(...ids.filter((_, i) => (a.mask >> i) & 1));
        break;
      case 'heal':
        c.heal();
        break;
      case 'propose':
        if (c.node(id(a.node)).up) c.propose(id(a.node), `p${proposals++}`);
        break;
      case 'crash':
        c.crash(id(a.node));
        break;
      case 'restart':
        if (!c.node(id(a.node)).up) c.restart(id(a.node));
        break;
      case 'compact':
        c.compact(id(a.node));
        break;
      case 'transfer':
        if (c.node(id(a.node)).up) {
          c.core(id(a.node)).transferLeadership(id(a.to));
          c.process(id(a.node));
        }
        break;
      case 'conf':
        if (c.node(id(a.node)).up) {
          const core = c.core(id(a.node));
          const target = id(a.target);
          core.proposeConfChange({ type: core.status().voters.includes(target) ? 'remove' : 'add', node: target });
          c.process(id(a.node));
        }
        break;
      case 'read':
        if (c.node(id(a.node)).up) {
          c.core(id(a.node)).readIndex(`r${proposals}`);
          c.process(id(a.node));
        }
        break;
    }
    checkLogs(c);
  }

  // Reads are only answered with an index the leader had committed.
  for (const n of c.nodes.values()) for (const r of n.reads) expect(r.index).toBeLessThanOrEqual(n.core.status().commit);

  // Liveness once the faults stop: everyone up and connected elects a leader and commits.
  c.heal();
  c.queue = [];
  for (const i of ids) if (!c.node(i).up) c.restart(i);
  // Servers removed from the configuration are not expected to follow.
  const members = () => c.core(c.leader() ?? ids[0]!).status().voters;
  const everywhere = () => members().every((i) => c.data(i).at(-1) === 'final');
  // A leader may be mid-transfer (refusing proposals), or be deposed before it commits
  // what it accepted (Raft promises nothing for such an entry): propose again then.
  let proposed = false;
  for (let round = 0; round < 5 && !everywhere(); round++) {
    let accepted = false;
    for (let t = 0; t < 300 && !accepted; t++) {
      c.tickAll();
      const lead = c.leader();
      if (lead) accepted = c.propose(lead, 'final').ok;
    }
    proposed ||= accepted;
    for (let t = 0; t < 50 && !everywhere(); t++) c.tickAll();
  }
  expect(proposed, 'no leader accepted a proposal after healing').toBe(true);
  checkLogs(c);
  const reference = c.data(members()[0]!);
  for (const i of members()) {
    expect(c.data(i).at(-1), `${i} applied the final proposal`).toBe('final');
    expect(c.data(i)).toEqual(reference);
  }
}

describe('raft safety under random schedules', () => {
  it('replays a recorded schedule', () => {
    const rec = process.env.RAFT_REPLAY;
    if (rec) run(JSON.parse(rec) as Scenario);
  });

  it('Election Safety, Log Matching, Leader Completeness, State Machine Safety, and liveness after healing', () => {
    fc.assert(fc.property(scenario, (s) => run(s)), { numRuns: Number(process.env.RAFT_RUNS ?? 150) });
  });
});
