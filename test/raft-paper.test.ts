// Rules of the Raft paper (§5, Figures 2, 7 and 8), checked one at a time against a
// single core whose messages the test writes and reads by hand.
import { describe, expect, it } from 'vitest';
import type { RaftNode } from '../actors/raft/index.js';
import type { RaftAppendEntries, RaftMessage } from '../actors/protocol/raft.js';
import { drain, lone, prng, te } from './raft-helpers.js';

const ABC = ['a', 'b', 'c'];
const ent = (term: number, index: number, data = `${term}.${index}`) => ({ term, index, type: 'normal' as const, data: te.encode(data) });

function hb(term: number, commit = 0): RaftMessage {
  return { t: 'RaftHeartbeat', term, commit, round: 0 };
}

function app(term: number, prevIndex: number, prevTerm: number, entries: ReturnType<typeof ent>[], commit = 0): RaftAppendEntries {
  return { t: 'RaftAppendEntries', term, prevIndex, prevTerm, entries, commit };
}

/** A core that leads term 1 of a, b, c (b voted for it); its no-op is index 1. */
function leaderOfTerm1(): RaftNode {
  const a = lone('a', ABC);
  a.campaign();
  drain(a);
  a.step('b', { t: 'RaftRequestVoteReply', term: 1, granted: true, pre: false });
  expect(a.status().role).toBe('leader');
  return a;
}

/** A follower of `leader` in `term` holding `entries` (persisted and acknowledged). */
function followerWith(term: number, entries: ReturnType<typeof ent>[], id = 'a'): RaftNode {
  const f = lone(id, ABC);
  f.step('z', app(term, 0, 0, entries));
  drain(f);
  return f;
}

describe('raft paper §5.1: terms', () => {
  it.each([
    ['follower', (n: RaftNode) => n.step('b', hb(1))],
    ['candidate', (n: RaftNode) => n.campaign()],
    ['leader', (n: RaftNode) => n.step('b', { t: 'RaftRequestVoteReply', term: 1, granted: true, pre: false })],
  ])('a %s that sees a higher term adopts it and becomes a follower', (role, setup) => {
    const n = lone('a', ABC);
    if (role === 'leader') n.campaign();
    setup(n);
    expect(n.status().role).toBe(role);
    n.step('c', app(5, 0, 0, []));
    const st = n.status();
    expect(st.role).toBe('follower');
    expect(st.term).toBe(5);
    expect(st.lead).toBe('c');
    expect(st.vote).toBeNull();
  });

  it('a vote request of a higher term moves the term but names no leader', () => {
    const n = lone('a', ABC);
    n.step('b', hb(2));
    n.step('c', { t: 'RaftRequestVote', term: 3, lastIndex: 0, lastTerm: 0, pre: false, transfer: false });
    expect(n.status()).toMatchObject({ term: 3, lead: null, vote: 'c', role: 'follower' });
  });

  it('refuses messages of a stale term and tells the sender the current term', () => {
    const n = lone('a', ABC);
    n.step('b', hb(3));
    drain(n);
    n.step('c', app(2, 0, 0, [ent(2, 1)]));
    n.step('c', { t: 'RaftRequestVote', term: 2, lastIndex: 9, lastTerm: 2, pre: false, transfer: false });
    expect(n.status()).toMatchObject({ term: 3, lead: 'b', lastIndex: 0 });
    const out = drain(n).messages;
    expect(out.map((o) => [o.to, o.m.t, o.m.term])).toEqual([
      ['c', 'RaftHeartbeatReply', 3],
      ['c', 'RaftRequestVoteReply', 3],
    ]);
    expect(out[1]!.m).toMatchObject({ granted: false });
  });
});

describe('raft paper §5.2: leader election', () => {
  it('a follower that hears nothing for an election timeout campaigns', () => {
    const n = lone('a', ABC);
    for (let i = 0; i < 20 && n.status().role === 'follower'; i++) n.tick();
    expect(n.status()).toMatchObject({ role: 'candidate', term: 1, vote: 'a' });
    const rd = n.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
    expect(rd.messages.map((o) => o.to).sort()).toEqual(['b', 'c']);
    for (const o of rd.messages) {
      expect(o.m).toEqual({ t: 'RaftRequestVote', term: 1, lastIndex: 0, lastTerm: 0, pre: false, transfer: false });
    }
    n.advance();
  });

  it('election timeouts are drawn from [T, 2T) by the given random source, so nodes differ', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const n = lone('a', ABC, { random: prng(seed) });
      let ticks = 0;
      while (n.status().role === 'follower') {
        n.tick();
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      seen.add(ticks);
    }
    expect(seen.size).toBeGreaterThan(5);
  });

  it('heartbeats from the leader keep a follower from campaigning', () => {
    const n = lone('a', ABC);
    for (let i = 0; i < 100; i++) {
      n.tick();
      if (i % 5 === 0) n.step('b', hb(1));
    }
    expect(n.status()).toMatchObject({ role: 'follower', term: 1, lead: 'b' });
  });

  it('a candidate with a majority of votes leads and appends a no-op of its term', () => {
    const a = lone('a', ['a', 'b', 'c', 'd', 'e']);
    a.campaign();
    drain(a);
    a.step('b', { t: 'RaftRequestVoteReply', term: 1, granted: true, pre: false });
    expect(a.status().role).toBe('candidate');
    a.step('c', { t: 'RaftRequestVoteReply', term: 1, granted: false, pre: false });
    expect(a.status().role).toBe('candidate');
    a.step('d', { t: 'RaftRequestVoteReply', term: 1, granted: true, pre: false });
    expect(a.status()).toMatchObject({ role: 'leader', lead: 'a', lastIndex: 1 });
    expect(a.entryAt(1)).toMatchObject({ term: 1, index: 1, type: 'noop' });
    const out = drain(a).messages.filter((o) => o.m.t === 'RaftAppendEntries');
    expect(out.map((o) => o.to).sort()).toEqual(['b', 'c', 'd', 'e']);
  });

  it('a candidate that loses the majority goes back to being a follower', () => {
    const a = lone('a', ABC);
    a.campaign();
    a.step('b', { t: 'RaftRequestVoteReply', term: 1, granted: false, pre: false });
    a.step('c', { t: 'RaftRequestVoteReply', term: 1, granted: false, pre: false });
    expect(a.status()).toMatchObject({ role: 'follower', term: 1, vote: 'a' });
  });

  it('a candidate that hears a leader of its own term follows it', () => {
    const a = lone('a', ABC);
    a.campaign();
    a.step('b', hb(1));
    expect(a.status()).toMatchObject({ role: 'follower', term: 1, lead: 'b' });
  });

  it('a split vote leads to a new election in a later term', () => {
    const a = lone('a', ABC);
    a.campaign();
    for (let i = 0; i < 20; i++) a.tick();
    expect(a.status()).toMatchObject({ role: 'candidate', term: 2 });
  });

  it('one vote per term, first come first served; a repeated request is granted again', () => {
    const n = lone('a', ABC);
    const vote = (from: string) => {
      n.step(from, { t: 'RaftRequestVote', term: 1, lastIndex: 0, lastTerm: 0, pre: false, transfer: false });
      const r = drain(n).messages[0]!.m;
      return r.t === 'RaftRequestVoteReply' && r.granted;
    };
    expect(vote('b')).toBe(true);
    expect(vote('c')).toBe(false);
    expect(vote('b')).toBe(true);
    expect(n.status().vote).toBe('b');
  });

  it('the vote is in the hard state handed out before the reply', () => {
    const n = lone('a', ABC);
    n.step('b', { t: 'RaftRequestVote', term: 4, lastIndex: 0, lastTerm: 0, pre: false, transfer: false });
    const rd = n.ready();
    expect(rd.hardState).toEqual({ term: 4, vote: 'b', commit: 0 });
    expect(rd.messages).toHaveLength(1);
    n.advance();
  });
});

describe('raft paper §5.4.1: election restriction', () => {
  // The voter's log ends at (index 2, term 2).
  it.each([
    [1, 1, false],
    [3, 1, false],
    [1, 2, false],
    [2, 2, true],
    [3, 2, true],
    [1, 3, true],
  ])('candidate log ending at index %i term %i: granted %s', (lastIndex, lastTerm, granted) => {
    const n = followerWith(2, [ent(1, 1), ent(2, 2)]);
    n.step('c', { t: 'RaftRequestVote', term: 3, lastIndex, lastTerm, pre: false, transfer: false });
    const r = drain(n).messages.find((o) => o.m.t === 'RaftRequestVoteReply')!.m;
    expect(r).toMatchObject({ granted, term: 3 });
  });
});

describe('raft paper §5.3: log replication', () => {
  it('a leader replicates a proposal, commits it on a majority and then tells the followers', () => {
    const a = leaderOfTerm1();
    drain(a);
    // b acknowledges the no-op: committed (a and b are a majority).
    a.step('b', { t: 'RaftAppendEntriesReply', term: 1, success: true, index: 1, hintIndex: 0, hintTerm: 0 });
    expect(a.status().commit).toBe(1);
    drain(a);
    const p = a.propose(te.encode('x'));
    expect(p).toEqual({ ok: true, index: 2, term: 1 });
    const rd = a.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
    const toB = rd.messages.find((o) => o.to === 'b' && o.m.t === 'RaftAppendEntries')!.m as RaftAppendEntries;
    expect(toB).toMatchObject({ prevIndex: 1, prevTerm: 1, commit: 1 });
    expect(toB.entries.map((e) => e.index)).toEqual([2]);
    a.advance();
    expect(a.status().commit).toBe(1);
    a.step('c', { t: 'RaftAppendEntriesReply', term: 1, success: true, index: 2, hintIndex: 0, hintTerm: 0 });
    expect(a.status().commit).toBe(2);
    const { messages, committed } = drain(a);
    expect(committed.map((e) => e.index)).toEqual([2]);
    // b learns the new commit index right away.
    const commitToB = messages.find((o) => o.to === 'b' && o.m.t === 'RaftAppendEntries')!.m as RaftAppendEntries;
    expect(commitToB.commit).toBe(2);
  });

  it('a follower appends when prevIndex/prevTerm match and commits up to what it holds', () => {
    const f = followerWith(1, [ent(1, 1), ent(1, 2)]);
    f.step('z', app(1, 2, 1, [ent(1, 3)], 5));
    expect(f.status()).toMatchObject({ lastIndex: 3, commit: 3 });
    const r = f.ready();
    expect(r.entries.map((e) => e.index)).toEqual([3]);
    expect(r.committedEntries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(r.messages[0]!.m).toMatchObject({ t: 'RaftAppendEntriesReply', success: true, index: 3 });
    f.advance();
  });

  it('a follower refuses an append whose previous entry it lacks, with a hint', () => {
    const f = followerWith(1, [ent(1, 1), ent(1, 2)]);
    f.step('z', app(3, 5, 3, [ent(3, 6)]));
    expect(drain(f).messages[0]!.m).toMatchObject({ success: false, index: 5, hintIndex: 2, hintTerm: 1 });
    f.step('z', app(3, 2, 2, [ent(3, 3)]));
    // Its entries 1..2 are of term 1 ≤ 2, so 2 is where the leader should look.
    expect(drain(f).messages[0]!.m).toMatchObject({ success: false, index: 2, hintIndex: 2, hintTerm: 1 });
    expect(f.status().lastIndex).toBe(2);
  });

  it('a follower deletes a conflicting suffix and takes the leader’s entries (Figure 7)', () => {
    const f = followerWith(2, [ent(1, 1), ent(2, 2), ent(2, 3), ent(2, 4)]);
    f.step('z', app(3, 2, 2, [ent(3, 3)], 0));
    expect(f.status().lastIndex).toBe(3);
    expect(f.termAt(3)).toBe(3);
    const rd = f.ready();
    // The driver is told to write from index 3, dropping what it had there.
    expect(rd.entries.map((e) => [e.index, e.term])).toEqual([[3, 3]]);
    f.advance();
  });

  it('an append repeating entries the follower has changes nothing (idempotent, reordered delivery)', () => {
    const f = followerWith(1, [ent(1, 1), ent(1, 2), ent(1, 3)]);
    f.step('z', app(1, 0, 0, [ent(1, 1)]));
    expect(f.status().lastIndex).toBe(3);
    expect(f.hasReady()).toBe(true);
    const rd = f.ready();
    expect(rd.entries).toEqual([]);
    f.advance();
  });

  it('a commit index in a heartbeat never reaches past what the leader knows the follower holds', () => {
    const a = leaderOfTerm1();
    for (let i = 0; i < 3; i++) a.propose(te.encode(`p${i}`));
    drain(a);
    a.step('b', { t: 'RaftAppendEntriesReply', term: 1, success: true, index: 4, hintIndex: 0, hintTerm: 0 });
    expect(a.status().commit).toBe(4);
    drain(a);
    a.tick();
    const hbs = drain(a).messages.filter((o) => o.m.t === 'RaftHeartbeat');
    expect(hbs.find((o) => o.to === 'b')!.m).toMatchObject({ commit: 4 });
    expect(hbs.find((o) => o.to === 'c')!.m).toMatchObject({ commit: 0 });
  });
});

describe('raft paper §5.4.2: committing entries from previous terms (Figure 8)', () => {
  it('a leader does not commit an entry of an earlier term by counting replicas alone', () => {
    // a holds (1,1) (2,2) from earlier terms and now leads term 3.
    const a = lone('a', ['a', 'b', 'c', 'd', 'e'], {
      restore: { hardState: { term: 2, vote: null, commit: 1 }, entries: [ent(1, 1), ent(2, 2)] },
    });
    a.campaign();
    for (const v of ['b', 'c']) a.step(v, { t: 'RaftRequestVoteReply', term: 3, granted: true, pre: false });
    expect(a.status()).toMatchObject({ role: 'leader', term: 3, lastIndex: 3 });
    drain(a);
    // b and c acknowledge entry 2 only: a majority holds it, but it is of term 2.
    for (const v of ['b', 'c']) a.step(v, { t: 'RaftAppendEntriesReply', term: 3, success: true, index: 2, hintIndex: 0, hintTerm: 0 });
    expect(a.status().commit).toBe(1);
    // Once the no-op of term 3 is on a majority, it and everything before it commits.
    a.step('b', { t: 'RaftAppendEntriesReply', term: 3, success: true, index: 3, hintIndex: 0, hintTerm: 0 });
    expect(a.status().commit).toBe(1);
    a.step('c', { t: 'RaftAppendEntriesReply', term: 3, success: true, index: 3, hintIndex: 0, hintTerm: 0 });
    expect(a.status().commit).toBe(3);
  });
});

describe('leader persistence in parallel with replication (thesis §10.2.1)', () => {
  it('the leader counts itself in a quorum only for entries it has persisted', () => {
    const a = leaderOfTerm1();
    drain(a);
    a.step('b', { t: 'RaftAppendEntriesReply', term: 1, success: true, index: 1, hintIndex: 0, hintTerm: 0 });
    drain(a);
    expect(a.status().commit).toBe(1);
    a.propose(te.encode('x'));
    // Handed out (the driver may already have sent the appends) but not yet persisted.
    const rd = a.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
    expect(rd.messages.filter((o) => o.m.t === 'RaftAppendEntries').map((o) => o.to)).toContain('b');
    a.step('b', { t: 'RaftAppendEntriesReply', term: 1, success: true, index: 2, hintIndex: 0, hintTerm: 0 });
    expect(a.status().commit).toBe(1);
    // The leader's own write completes: with b's copy that is a majority.
    a.advance();
    expect(a.status().commit).toBe(2);
    expect(drain(a).committed.map((e) => e.index)).toEqual([2]);
  });

  it('two followers holding an entry commit it before the leader has persisted it', () => {
    const a = leaderOfTerm1();
    drain(a);
    a.step('b', { t: 'RaftAppendEntriesReply', term: 1, success: true, index: 1, hintIndex: 0, hintTerm: 0 });
    drain(a);
    a.propose(te.encode('x'));
    a.ready();
    for (const v of ['b', 'c']) a.step(v, { t: 'RaftAppendEntriesReply', term: 1, success: true, index: 2, hintIndex: 0, hintTerm: 0 });
    expect(a.status().commit).toBe(2);
    a.advance();
  });
});

describe('ready/advance contract', () => {
  it('hands each entry, message and committed entry out once', () => {
    const a = lone('a', ['a']);
    a.campaign();
    const r1 = a.ready();
    expect(r1.softState).toEqual({ lead: 'a', role: 'leader' });
    expect(r1.entries.map((e) => e.type)).toEqual(['noop']);
    // A leader counts itself only once its entries are persisted (advance), so
    // even a lone voter commits an entry one Ready after handing it out.
    expect(r1.committedEntries).toEqual([]);
    expect(() => a.ready()).toThrow(/advance/);
    a.advance();
    const r1b = a.ready();
    expect(r1b.entries).toEqual([]);
    expect(r1b.committedEntries.map((e) => e.index)).toEqual([1]);
    a.advance();
    expect(a.hasReady()).toBe(false);
    a.propose(te.encode('x'));
    const r2 = a.ready();
    expect(r2.entries.map((e) => e.index)).toEqual([2]);
    expect(r2.committedEntries).toEqual([]);
    a.advance();
    const r2b = a.ready();
    expect(r2b.entries).toEqual([]);
    expect(r2b.committedEntries.map((e) => e.index)).toEqual([2]);
    expect(r2b.hardState).toEqual({ term: 1, vote: 'a', commit: 2 });
    a.advance();
    expect(a.hasReady()).toBe(false);
  });

  it('entries cut by a new leader between ready() and advance() are handed out again', () => {
    const f = followerWith(1, [ent(1, 1)]);
    f.step('z', app(1, 1, 1, [ent(1, 2), ent(1, 3)]));
    const rd = f.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([2, 3]);
    // Before the driver is done, a leader of term 2 replaces entry 3.
    f.step('y', app(2, 2, 1, [ent(2, 3)]));
    f.advance();
    const rd2 = f.ready();
    expect(rd2.entries.map((e) => [e.index, e.term])).toEqual([[3, 2]]);
    f.advance();
  });

  it('refuses proposals on a follower, naming the leader', () => {
    const f = lone('a', ABC);
    f.step('b', hb(1));
    expect(f.propose(te.encode('x'))).toEqual({ ok: false, reason: 'NOT_LEADER', lead: 'b' });
  });

  it('restarts from a persisted hard state, snapshot and log without forgetting its vote', () => {
    const n = lone('a', ABC, {
      restore: {
        hardState: { term: 5, vote: 'c', commit: 3 },
        snapshot: { meta: { index: 2, term: 1, voters: ABC }, data: te.encode('s') },
        entries: [ent(1, 3), ent(5, 4)],
      },
    });
    expect(n.status()).toMatchObject({ term: 5, vote: 'c', commit: 3, applied: 2, firstIndex: 3, lastIndex: 4 });
    n.step('b', { t: 'RaftRequestVote', term: 5, lastIndex: 9, lastTerm: 5, pre: false, transfer: false });
    const rd = n.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([3]);
    expect(rd.messages[0]!.m).toMatchObject({ granted: false });
    n.advance();
  });
});
