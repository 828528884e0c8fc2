// Whole-cluster behaviour of the Raft core over an in-test message router: election,
// replication, repair of divergent logs, the thesis extensions (PreVote, CheckQuorum,
// ReadIndex, leadership transfer, membership change) and snapshots.
import { describe, expect, it } from 'vitest';
import type { RaftMessage } from '../actors/raft/index.js';
import { Cluster, checkLogs, te } from './raft-helpers.js';

const N3 = ['a', 'b', 'c'];
const N5 = ['s1', 's2', 's3', 's4', 's5'];

function leaders(c: Cluster): string[] {
  return [...c.nodes.entries()].filter(([, n]) => n.up && n.core.status().role === 'leader').map(([id]) => id);
}

function electUntil(c: Cluster, id: string): void {
  for (let i = 0; i < 5 && c.core(id).status().role !== 'leader'; i++) c.elect(id);
  expect(c.core(id).status().role).toBe('leader');
}

function proposeN(c: Cluster, id: string, n: number, prefix = 'x'): void {
  for (let i = 0; i < n; i++) expect(c.propose(id, `${prefix}${i}`).ok).toBe(true);
}

describe('raft cluster: election', () => {
  it.each([3, 5, 7])('%i nodes elect exactly one leader by timeouts alone', (size) => {
    const ids = Array.from({ length: size }, (_, i) => `m${i}`);
    const c = new Cluster(ids, { seed: size });
    for (let t = 0; t < 50 && leaders(c).length === 0; t++) c.tickAll();
    expect(leaders(c)).toHaveLength(1);
    const lead = leaders(c)[0]!;
    c.tickAll(5);
    for (const id of ids) expect(c.core(id).status()).toMatchObject({ lead, term: c.core(lead).status().term });
  });

  it('re-elects when the leader fails, and the old leader follows when it returns', () => {
    const c = new Cluster(N3, { seed: 3 });
    c.elect('a');
    c.crash('a');
    c.tickAll(30);
    const next = leaders(c)[0]!;
    expect(['b', 'c']).toContain(next);
    c.restart('a');
    c.tickAll(3);
    expect(leaders(c)).toEqual([next]);
    expect(c.core('a').status().lead).toBe(next);
  });

  it('elects no one without a majority', () => {
    const c = new Cluster(N5, { seed: 4 });
    c.crash('s1');
    c.crash('s2');
    c.crash('s3');
    c.tickAll(200);
    expect(leaders(c)).toEqual([]);
  });

  it('a node that restarts remembers its vote and its log', () => {
    const c = new Cluster(N3, { seed: 5 });
    c.elect('a');
    proposeN(c, 'a', 5);
    c.stabilize();
    for (const id of N3) c.crash(id);
    for (const id of N3) c.restart(id);
    expect(c.core('b').status()).toMatchObject({ term: 1, vote: 'a', lastIndex: 6, commit: 6 });
    c.tickAll(30);
    expect(leaders(c)).toHaveLength(1);
    const lead = leaders(c)[0]!;
    c.propose(lead, 'after');
    c.stabilize();
    c.tickAll(2);
    for (const id of N3) expect(c.data(id)).toEqual(['x0', 'x1', 'x2', 'x3', 'x4', 'after']);
  });
});

describe('raft cluster: replication', () => {
  it('replicates and applies the same commands in the same order everywhere', () => {
    const c = new Cluster(N5, { seed: 6 });
    c.elect('s1');
    proposeN(c, 's1', 20);
    c.stabilize();
    c.tickAll(1);
    for (const id of N5) expect(c.data(id)).toEqual(Array.from({ length: 20 }, (_, i) => `x${i}`));
  });

  it('commits nothing while only a minority can be reached, then catches up', () => {
    const c = new Cluster(N5, { seed: 7 });
    c.elect('s1');
    c.isolate('s1', 's2');
    proposeN(c, 's1', 3);
    c.stabilize();
    expect(c.core('s1').status().commit).toBe(1);
    expect(c.data('s1')).toEqual([]);
    c.heal();
    c.tickAll(3);
    for (const id of N5) expect(c.data(id)).toEqual(['x0', 'x1', 'x2']);
  });

  it('batches many proposals into few appends and keeps several appends in flight', () => {
    const c = new Cluster(N3, { seed: 8, maxEntriesPerAppend: 4, maxInflight: 3 });
    c.elect('a');
    c.stabilize();
    const before = c.queue.length;
    expect(before).toBe(0);
    for (let i = 0; i < 40; i++) c.core('a').propose(te.encode(`x${i}`));
    // Nothing goes out per proposal: the batch leaves when the driver takes a Ready.
    c.process('a');
    const toB = c.queue.filter((p) => p.to === 'b' && p.m.t === 'RaftAppendEntries');
    expect(toB).toHaveLength(3);
    for (const p of toB) expect((p.m as Extract<RaftMessage, { t: 'RaftAppendEntries' }>).entries).toHaveLength(4);
    c.stabilize();
    for (const id of N3) expect(c.data(id)).toHaveLength(40);
  });

  it('recovers appends lost in the pipeline without new proposals', () => {
    const c = new Cluster(N3, { seed: 9, maxEntriesPerAppend: 2 });
    c.elect('a');
    let dropped = 0;
    c.filter = (p) => !(p.to === 'c' && p.m.t === 'RaftAppendEntries' && dropped++ < 3);
    proposeN(c, 'a', 10);
    c.stabilize();
    c.tickAll(5);
    expect(dropped).toBeGreaterThan(0);
    expect(c.data('c')).toEqual(c.data('a'));
    expect(c.data('c')).toHaveLength(10);
  });

  it('repairs a follower with a long conflicting log in a few round trips', () => {
    const c = new Cluster(N5, { seed: 10, maxEntriesPerAppend: 1000 });
    c.elect('s1');
    // s1 leads term 1 but is cut off: it accepts 200 entries nobody else sees.
    c.isolate('s1');
    proposeN(c, 's1', 200, 'lost');
    c.stabilize();
    // The others move on over several terms, each leaving uncommitted debris behind on s2.
    c.elect('s2');
    c.isolate('s1', 's2');
    proposeN(c, 's2', 100, 'debris');
    c.stabilize();
    c.heal();
    c.isolate('s1', 's2');
    c.elect('s3');
    proposeN(c, 's3', 150, 'kept');
    c.stabilize();
    c.heal();
    let refusals = 0;
    c.filter = (p) => {
      if (p.m.t === 'RaftAppendEntriesReply' && !p.m.success && (p.from === 's1' || p.from === 's2')) refusals++;
      return true;
    };
    c.tickAll(3);
    const want = Array.from({ length: 150 }, (_, i) => `kept${i}`);
    for (const id of N5) expect(c.data(id)).toEqual(want);
    // One index per round trip would need hundreds; the term hints need a handful per follower.
    expect(refusals).toBeLessThanOrEqual(6);
    checkLogs(c);
  });

  it('Figure 8: an entry of an old term on a majority is not committed, and may be overwritten', () => {
    const c = new Cluster(N5, { seed: 11, maxEntriesPerAppend: 1 });
    c.elect('s1');
    // (a) s1 replicates 'a' at index 2 to s2 only.
    c.isolate('s1', 's2');
    expect(c.propose('s1', 'a')).toMatchObject({ index: 2, term: 1 });
    c.stabilize();
    c.crash('s1');
    c.heal();
    // (b) s5 wins term 2 with s3 and s4 and appends entries nobody receives.
    c.filter = (p) => !(p.from === 's5' && p.m.t === 'RaftAppendEntries');
    c.isolate('s2');
    c.elect('s5');
    expect(c.core('s5').status()).toMatchObject({ role: 'leader', term: 2 });
    c.propose('s5', 'b');
    c.stabilize();
    c.crash('s5');
    c.heal();
    // (c) s1 returns, wins term 3 and gets index 2 onto s3 (a majority: s1 s2 s3), but not its own no-op.
    c.restart('s1');
    c.filter = (p) => {
      if (p.m.t === 'RaftAppendEntries') p.m.entries = p.m.entries.filter((e) => e.index < 3);
      return true;
    };
    electUntil(c, 's1');
    expect(c.core('s1').status().term).toBeGreaterThan(2);
    c.tickAll(2);
    expect(c.core('s3').termAt(2)).toBe(1);
    expect(c.core('s1').status().commit).toBe(1);
    // (d) s1 fails again; s5 (last term 2) can win and overwrite index 2 everywhere.
    c.crash('s1');
    c.heal();
    c.restart('s5');
    electUntil(c, 's5');
    c.tickAll(2);
    for (const id of ['s2', 's3', 's4', 's5']) expect(c.data(id)).toEqual(['b']);
    checkLogs(c);
  });

  it('Figure 8 (e): once an entry of the current term is on a majority, the old entry is committed and survives', () => {
    const c = new Cluster(N5, { seed: 12 });
    c.elect('s1');
    c.isolate('s1', 's2');
    c.propose('s1', 'a');
    c.stabilize();
    c.heal();
    c.isolate('s1', 's2', 's3');
    c.crash('s1');
    c.restart('s1');
    c.elect('s1');
    expect(c.core('s1').status()).toMatchObject({ role: 'leader', term: 2, commit: 3 });
    c.crash('s1');
    c.heal();
    // s5 has only (1,1): it cannot win, so a survivor with 'a' leads and keeps it.
    c.elect('s5');
    expect(c.core('s5').status().role).not.toBe('leader');
    c.tickAll(40);
    const lead = leaders(c)[0]!;
    expect(['s2', 's3']).toContain(lead);
    for (const id of ['s2', 's3', 's4', 's5']) expect(c.data(id)).toEqual(['a']);
  });
});

describe('raft cluster: PreVote and CheckQuorum', () => {
  it('with PreVote a partitioned node does not inflate its term nor depose the leader on return', () => {
    const c = new Cluster(N3, { seed: 13, preVote: true });
    c.elect('a');
    const term = c.core('a').status().term;
    c.isolate('c');
    c.tickAll(100);
    expect(c.core('c').status().term).toBe(term);
    c.heal();
    c.tickAll(5);
    expect(leaders(c)).toEqual(['a']);
    expect(c.core('a').status().term).toBe(term);
  });

  it('without PreVote the same partition inflates the term and disrupts the leader', () => {
    const c = new Cluster(N3, { seed: 13 });
    c.elect('a');
    c.isolate('c');
    c.tickAll(100);
    expect(c.core('c').status().term).toBeGreaterThan(5);
    c.heal();
    c.tickAll(5);
    expect(c.core('a').status().term).toBeGreaterThan(5);
  });

  it('with CheckQuorum a leader cut off from the majority steps down within an election timeout', () => {
    const c = new Cluster(N5, { seed: 14, checkQuorum: true, preVote: true });
    c.elect('s1');
    c.isolate('s1', 's2');
    for (let i = 0; i < 20; i++) c.tick('s1');
    expect(c.core('s1').status()).toMatchObject({ role: 'follower', lead: null });
    c.tickAll(40);
    expect(['s3', 's4', 's5']).toContain(leaders(c)[0]);
  });

  it('with CheckQuorum a leader that hears from a quorum stays', () => {
    const c = new Cluster(N5, { seed: 15, checkQuorum: true });
    c.elect('s1');
    c.isolate('s4', 's5');
    c.tickAll(60);
    expect(leaders(c)).toEqual(['s1']);
  });
});

describe('raft cluster: ReadIndex', () => {
  it('answers a read once a heartbeat round confirms leadership', () => {
    const c = new Cluster(N3, { seed: 16 });
    c.elect('a');
    proposeN(c, 'a', 3);
    c.stabilize();
    expect(c.core('a').readIndex('r1')).toEqual({ ok: true });
    c.process('a');
    expect(c.node('a').reads).toEqual([]);
    expect(c.queue.some((p) => p.m.t === 'RaftHeartbeat')).toBe(true);
    c.stabilize();
    expect(c.node('a').reads).toEqual([{ ctx: 'r1', index: 4 }]);
  });

  it('a deposed leader that cannot reach a quorum never answers', () => {
    const c = new Cluster(N3, { seed: 17 });
    c.elect('a');
    c.isolate('a');
    c.core('a').readIndex('stale');
    for (let i = 0; i < 50; i++) c.tick('a');
    c.stabilize();
    expect(c.node('a').reads).toEqual([]);
    expect(c.core('b').readIndex('x')).toEqual({ ok: false, reason: 'NOT_LEADER', lead: 'a' });
  });

  it('a new leader holds reads until it has committed an entry of its term', () => {
    const c = new Cluster(N3, { seed: 18 });
    c.elect('a');
    proposeN(c, 'a', 2);
    c.stabilize();
    c.filter = (p) => p.m.t !== 'RaftAppendEntriesReply';
    c.elect('b');
    expect(c.core('b').status().role).toBe('leader');
    c.core('b').readIndex('r');
    c.stabilize();
    expect(c.node('b').reads).toEqual([]);
    c.heal();
    c.tickAll(2);
    expect(c.node('b').reads).toEqual([{ ctx: 'r', index: 4 }]);
  });

  it('lease reads answer at once when CheckQuorum holds', () => {
    const c = new Cluster(N3, { seed: 19, checkQuorum: true, readOnly: 'lease' });
    c.elect('a');
    c.core('a').readIndex('fast');
    c.process('a');
    expect(c.node('a').reads).toEqual([{ ctx: 'fast', index: 1 }]);
  });
});

describe('raft cluster: leadership transfer', () => {
  it('hands leadership to an up-to-date follower with TimeoutNow', () => {
    const c = new Cluster(N3, { seed: 20, preVote: true, checkQuorum: true });
    c.elect('a');
    expect(c.core('a').transferLeadership('b')).toBe(true);
    c.stabilize();
    expect(leaders(c)).toEqual(['b']);
    expect(c.core('b').status().term).toBe(2);
  });

  it('first catches a lagging transferee up, refusing proposals meanwhile', () => {
    const c = new Cluster(N3, { seed: 21 });
    c.elect('a');
    c.isolate('c');
    proposeN(c, 'a', 5);
    c.stabilize();
    c.heal();
    c.core('a').transferLeadership('c');
    expect(c.propose('a', 'no')).toMatchObject({ ok: false, reason: 'TRANSFERRING' });
    c.tickAll(3);
    expect(leaders(c)).toEqual(['c']);
    expect(c.core('c').status().lastIndex).toBeGreaterThanOrEqual(7);
  });

  it('gives up after an election timeout when the transferee does not answer', () => {
    const c = new Cluster(N3, { seed: 22 });
    c.elect('a');
    c.isolate('c');
    c.core('a').transferLeadership('c');
    c.stabilize();
    for (let i = 0; i < 10; i++) c.tick('a');
    expect(c.core('a').status()).toMatchObject({ role: 'leader', leadTransferee: null });
    expect(c.propose('a', 'yes').ok).toBe(true);
  });
});

describe('raft cluster: membership change', () => {
  it('adds a server that starts empty; it catches up and then counts in the quorum', () => {
    const c = new Cluster(N3, { seed: 23 });
    c.elect('a');
    proposeN(c, 'a', 3);
    c.stabilize();
    c.add('d', []);
    expect(c.core('a').proposeConfChange({ type: 'add', node: 'd' }).ok).toBe(true);
    c.stabilize();
    expect(c.core('d').status().voters).toEqual(['a', 'b', 'c', 'd']);
    expect(c.data('d')).toEqual(['x0', 'x1', 'x2']);
    // With four voters, a and one other are not enough.
    c.isolate('a', 'b');
    c.propose('a', 'minority');
    c.stabilize();
    expect(c.data('a')).toHaveLength(3);
    c.heal();
    c.tickAll(3);
    for (const id of ['a', 'b', 'c', 'd']) expect(c.data(id)).toHaveLength(4);
  });

  it('allows one change at a time, and only after the leader committed an entry of its term', () => {
    const c = new Cluster(N3, { seed: 24 });
    c.add('d', []);
    c.add('e', []);
    c.filter = (p) => p.m.t !== 'RaftAppendEntriesReply';
    c.elect('a');
    expect(c.core('a').proposeConfChange({ type: 'add', node: 'd' })).toMatchObject({ ok: false, reason: 'NOT_READY' });
    c.heal();
    c.tickAll(1);
    expect(c.core('a').proposeConfChange({ type: 'add', node: 'd' }).ok).toBe(true);
    expect(c.core('a').proposeConfChange({ type: 'add', node: 'e' })).toMatchObject({ ok: false, reason: 'CONF_CHANGE_PENDING' });
    expect(c.core('a').proposeConfChange({ type: 'remove', node: 'zz' })).toMatchObject({ ok: false });
    c.stabilize();
    expect(c.core('a').proposeConfChange({ type: 'add', node: 'e' }).ok).toBe(true);
    c.stabilize();
    expect(c.core('e').status().voters).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('removes a follower: the rest commit without it and it never campaigns', () => {
    const c = new Cluster(N3, { seed: 25, preVote: true, checkQuorum: true });
    c.elect('a');
    c.core('a').proposeConfChange({ type: 'remove', node: 'c' });
    c.stabilize();
    expect(c.core('c').status().voters).toEqual(['a', 'b']);
    expect(c.core('a').status().progress.has('c')).toBe(false);
    c.crash('c');
    proposeN(c, 'a', 2);
    c.stabilize();
    expect(c.data('b')).toEqual(['x0', 'x1']);
    // Even a server that restarts with the old configuration (it never got the change) cannot disrupt.
    Object.assign(c.node('c').store, { hard: undefined, snapshot: undefined, entries: [] });
    c.restart('c', ['a', 'b', 'c']);
    const term = c.core('a').status().term;
    c.tickAll(100);
    // It keeps asking for pre-votes, which the others (hearing from a) ignore.
    expect(c.core('c').status().role).not.toBe('leader');
    expect(leaders(c)).toEqual(['a']);
    expect(c.core('a').status().term).toBe(term);
  });

  it('a leader that removes itself leads until the change commits, then steps down', () => {
    const c = new Cluster(N3, { seed: 26 });
    c.elect('a');
    c.core('a').proposeConfChange({ type: 'remove', node: 'a' });
    c.stabilize();
    expect(c.core('a').status()).toMatchObject({ role: 'follower', voters: ['b', 'c'] });
    c.tickAll(40);
    const lead = leaders(c)[0]!;
    expect(['b', 'c']).toContain(lead);
    c.propose(lead, 'without a');
    c.stabilize();
    expect(c.data('b')).toEqual(['without a']);
    expect(c.data('c')).toEqual(['without a']);
  });
});

describe('raft cluster: snapshots', () => {
  const compactLeader = (c: Cluster, id: string) => c.compact(id);

  it('sends a lagging follower the snapshot in chunks, then the entries after it', () => {
    const c = new Cluster(N3, { seed: 27, snapshotChunkBytes: 64 });
    c.elect('a');
    c.isolate('c');
    proposeN(c, 'a', 30);
    c.stabilize();
    compactLeader(c, 'a');
    expect(c.core('a').status().firstIndex).toBe(32);
    proposeN(c, 'a', 2, 'y');
    c.stabilize();
    c.heal();
    let chunks = 0;
    c.filter = (p) => {
      if (p.m.t === 'RaftInstallSnapshot') chunks++;
      return true;
    };
    c.tickAll(3);
    expect(chunks).toBeGreaterThan(5);
    expect(c.data('c')).toEqual(c.data('a'));
    expect(c.data('c')).toHaveLength(32);
    expect(c.core('c').snapshotMeta().index).toBe(31);
    checkLogs(c);
  });

  it('survives lost and duplicated chunks and a follower crash during the transfer', () => {
    const c = new Cluster(N3, { seed: 28, snapshotChunkBytes: 32 });
    c.elect('a');
    c.isolate('c');
    proposeN(c, 'a', 20);
    c.stabilize();
    compactLeader(c, 'a');
    c.heal();
    let n = 0;
    c.filter = (p) => {
      if (p.m.t !== 'RaftInstallSnapshot') return true;
      n++;
      if (n === 5) c.queue.push(p);
      if (n === 8) c.crash('c');
      return n % 4 !== 0;
    };
    c.tickAll(3);
    expect(c.node('c').up).toBe(false);
    c.restart('c');
    c.tickAll(30);
    expect(c.data('c')).toEqual(c.data('a'));
    expect(c.data('c')).toHaveLength(20);
  });

  it('a restarted node recovers from its persisted snapshot and log', () => {
    const c = new Cluster(N3, { seed: 29 });
    c.elect('a');
    proposeN(c, 'a', 10);
    c.stabilize();
    c.tickAll(1);
    for (const id of N3) compactLeader(c, id);
    proposeN(c, 'a', 3, 'z');
    c.stabilize();
    c.tickAll(1);
    for (const id of N3) c.crash(id);
    for (const id of N3) c.restart(id);
    c.tickAll(40);
    for (const id of N3) expect(c.data(id)).toEqual([...Array.from({ length: 10 }, (_, i) => `x${i}`), 'z0', 'z1', 'z2']);
  });

  it('refuses to compact past what the state machine has applied', () => {
    const c = new Cluster(N3, { seed: 30 });
    c.elect('a');
    expect(() => c.core('a').compact(5, te.encode('x'))).toThrow(/applied/);
  });
});
