// The Raft log on disk: round trips, cutting a conflicting suffix, segments and
// compaction, snapshots that replace the log, torn tails and corruption, and a
// crash-at-any-point property: every acknowledged append and hard state survives
// and what is replayed is a prefix of what was written.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DiskError, type Logger } from '../actors/env.js';
import { RaftStorage, type Entry, type HardState, type Snapshot } from '../actors/raft/index.js';
import { JournalCorruptError } from '../storage/journal.js';
import { MemDisk } from '../sim/disk.js';

const te = new TextEncoder();
const warnings: string[] = [];
const log: Logger = { log: (level, msg) => void (level === 'warn' && warnings.push(msg)) };

function ents(from: number, to: number, term: number, tag = ''): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, type: i % 7 === 0 ? 'noop' : 'normal', data: te.encode(`${tag}${i}@${term}`) });
  return out;
}

function simple(es: readonly Entry[]): string[] {
  return es.map((e) => `${e.index}@${e.term}:${e.type}:${new TextDecoder().decode(e.data)}`);
}

const snap = (index: number, term: number, data = `state@${index}`): Snapshot => ({ meta: { index, term, voters: ['a', 'b', 'c'] }, data: te.encode(data) });

async function reopen(disk: MemDisk, opts = {}) {
  return RaftStorage.open(disk, 'raft', log, opts);
}

describe('RaftStorage', () => {
  it('round-trips entries, hard state and snapshot across a crash', async () => {
    const disk = new MemDisk();
    const { storage, state } = await reopen(disk);
    expect(state.entries).toEqual([]);
    expect(state.hardState).toBeUndefined();
    await storage.append(ents(1, 20, 1));
    await storage.setHardState({ term: 2, vote: 'b', commit: 15 });
    disk.crash();
    const r = await reopen(disk);
    expect(simple(r.state.entries)).toEqual(simple(ents(1, 20, 1)));
    expect(r.state.hardState).toEqual({ term: 2, vote: 'b', commit: 15 });
  });

  it('cuts a conflicting suffix before appending, across segments', async () => {
    const disk = new MemDisk();
    const { storage } = await reopen(disk, { segmentBytes: 200 });
    for (let i = 1; i <= 30; i += 3) await storage.append(ents(i, i + 2, 1));
    expect(storage.stats().segments).toBeGreaterThan(3);
    await storage.append(ents(12, 14, 2, 'x'));
    disk.crash();
    const r = await reopen(disk, { segmentBytes: 200 });
    expect(simple(r.state.entries)).toEqual(simple([...ents(1, 11, 1), ...ents(12, 14, 2, 'x')]));
    // And appending after recovery continues the log.
    await r.storage.append(ents(15, 16, 2, 'x'));
    expect(r.storage.lastIndex).toBe(16);
  });

  it('groups appends made while a write is in flight into one fsync', async () => {
    const disk = new MemDisk();
    const { storage } = await reopen(disk);
    const ps = [];
    for (let i = 1; i <= 10; i++) ps.push(storage.append(ents(i, i, 1)));
    await Promise.all(ps);
    const st = storage.stats();
    expect(st.entries).toBe(10);
    expect(st.batches).toBeLessThan(10);
  });

  it('a checkpoint drops the segments it covers; a leader snapshot replaces the log', async () => {
    const disk = new MemDisk();
    const { storage } = await reopen(disk, { segmentBytes: 150 });
    for (let i = 1; i <= 40; i += 4) await storage.append(ents(i, i + 3, 1));
    const before = storage.stats().segments;
    await storage.saveSnapshot(snap(30, 1), false);
    expect(storage.stats().segments).toBeLessThan(before);
    let r = await reopen(disk, { segmentBytes: 150 });
    expect(r.state.snapshot?.meta.index).toBe(30);
    expect(r.state.entries[0]!.index).toBe(31);
    expect(simple(r.state.entries)).toEqual(simple(ents(31, 40, 1)));

    await r.storage.saveSnapshot(snap(60, 3, 'leader'), true);
    await r.storage.append(ents(61, 63, 3));
    await r.storage.setHardState({ term: 3, vote: null, commit: 60 });
    r = await reopen(disk, { segmentBytes: 150 });
    expect(r.state.snapshot?.meta).toEqual({ index: 60, term: 3, voters: ['a', 'b', 'c'] });
    expect(new TextDecoder().decode(r.state.snapshot!.data)).toBe('leader');
    expect(simple(r.state.entries)).toEqual(simple(ents(61, 63, 3)));
    expect((await disk.list('raft')).filter((n) => n.startsWith('snapshot.'))).toEqual(['snapshot.0000000000000060']);
  });

  it('drops a log that a saved leader snapshot replaced when the crash came before its deletion', async () => {
    const disk = new MemDisk();
    const { storage } = await reopen(disk);
    await storage.append(ents(1, 10, 1));
    await storage.saveSnapshot(snap(5, 2), false).catch(() => undefined);
    // Snapshot at 5 with term 2 while the log holds 5@1: another history.
    const r = await reopen(disk);
    expect(r.state.entries).toEqual([]);
    expect(r.state.snapshot?.meta.index).toBe(5);
  });

  it('truncates a torn tail with a warning', async () => {
    const disk = new MemDisk();
    const { storage } = await reopen(disk);
    await storage.append(ents(1, 5, 1));
    const seg = (await disk.list('raft')).find((n) => n.startsWith('log.'))!;
    await disk.append(`raft/${seg}`, new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0, 0, 6]));
    warnings.length = 0;
    const r = await reopen(disk);
    expect(simple(r.state.entries)).toEqual(simple(ents(1, 5, 1)));
    expect(warnings.some((w) => w.includes('torn tail'))).toBe(true);
  });

  it('refuses a corrupt record in the middle, naming file and offset', async () => {
    const disk = new MemDisk();
    const { storage } = await reopen(disk);
    await storage.append(ents(1, 5, 1));
    const seg = `raft/${(await disk.list('raft')).find((n) => n.startsWith('log.'))!}`;
    const bytes = await disk.readFile(seg);
    bytes[20]! ^= 0xff;
    await disk.writeFile(seg, bytes);
    const err = await reopen(disk).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(JournalCorruptError);
    expect((err as JournalCorruptError).file).toBe(seg);
    expect((err as JournalCorruptError).offset).toBe(0);
    expect(String((err as Error).message)).toMatch(/raft\/log\.0000000000000001 at byte offset 0/);
  });

  it('refuses an index gap between segments', async () => {
    const disk = new MemDisk();
    const { storage } = await reopen(disk, { segmentBytes: 100 });
    for (let i = 1; i <= 20; i += 2) await storage.append(ents(i, i + 1, 1));
    const segs = (await disk.list('raft')).filter((n) => n.startsWith('log.'));
    await disk.remove(`raft/${segs[1]!}`);
    await expect(reopen(disk, { segmentBytes: 100 })).rejects.toThrow(/gap/);
  });
});

type Op =
  | { k: 'append'; at: number; n: number }
  | { k: 'hard'; commit: number }
  | { k: 'checkpoint'; back: number }
  | { k: 'install'; ahead: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('append' as const), at: fc.nat(6), n: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('hard' as const), commit: fc.nat(100) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('checkpoint' as const), back: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('install' as const), ahead: fc.integer({ min: 1, max: 5 }) }) },
);

interface Model {
  snapshot: Snapshot | undefined;
  entries: Entry[];
  hard: HardState | undefined;
}

describe('RaftStorage crash at any point', () => {
  it('keeps every acknowledged write; replays a prefix of what was written', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), fc.nat(400), fc.nat(1000), fc.integer({ min: 40, max: 400 }), async (ops, crashAt, tornSeed, segmentBytes) => {
        const disk = new MemDisk();
        let torn = tornSeed;
        disk.faults.tornBytes = (_p, unsynced) => (torn = (torn * 1103515245 + 12345) % 2 ** 31) % (unsynced + 1);
        const { storage } = await RaftStorage.open(disk, 'raft', log, { segmentBytes });
        let opsDone = 0;
        disk.faults.beforeOp = () => {
          if (opsDone++ >= crashAt) throw new DiskError('EIO', 'power lost');
        };
        const acked: Model = { snapshot: undefined, entries: [], hard: undefined };
        let term = 1;
        // What the write in flight at the crash would make of the log, if anything.
        let inflight: { entries: Entry[]; cutFrom: number } | { snapshot: Snapshot; replaces: boolean } | { hard: HardState } | null = null;
        const last = () => (acked.entries.length > 0 ? acked.entries[acked.entries.length - 1]!.index : (acked.snapshot?.meta.index ?? 0));
        const first = () => (acked.snapshot?.meta.index ?? 0) + 1;
        try {
          for (const op of ops) {
            if (op.k === 'append') {
              const from = Math.max(first(), last() + 1 - op.at, (acked.hard?.commit ?? 0) + 1);
              term++;
              const es = ents(from, from + op.n - 1, term);
              inflight = { entries: es, cutFrom: from };
              await storage.append(es);
              acked.entries = [...acked.entries.filter((e) => e.index < from), ...es];
            } else if (op.k === 'hard') {
              const hs = { term, vote: 'a', commit: Math.min(op.commit, last()) };
              inflight = { hard: hs };
              await storage.setHardState(hs);
              acked.hard = hs;
            } else if (op.k === 'checkpoint') {
              const at = last() - op.back;
              if (at < first()) continue;
              const s = snap(at, acked.entries.find((e) => e.index === at)!.term);
              inflight = { snapshot: s, replaces: false };
              await storage.saveSnapshot(s, false);
              acked.snapshot = s;
              acked.entries = acked.entries.filter((e) => e.index > at);
            } else {
              term++;
              const s = snap(last() + op.ahead, term);
              inflight = { snapshot: s, replaces: true };
              await storage.saveSnapshot(s, true);
              acked.snapshot = s;
              acked.entries = [];
            }
            inflight = null;
          }
        } catch (e) {
          expect(e).toBeInstanceOf(DiskError);
        }
        disk.faults.beforeOp = undefined;
        disk.crash();
        const r = await RaftStorage.open(disk, 'raft', log, { segmentBytes });
        const got = r.state;
        // Hard state: the acknowledged one, or the one being written.
        const hardOk = JSON.stringify(got.hardState) === JSON.stringify(acked.hard) || (inflight !== null && 'hard' in inflight && JSON.stringify(got.hardState) === JSON.stringify(inflight.hard));
        expect(hardOk, `hard state ${JSON.stringify(got.hardState)} vs acked ${JSON.stringify(acked.hard)}`).toBe(true);
        // Snapshot: the acknowledged one, or the one being written.
        const snapIdx = got.snapshot?.meta.index ?? 0;
        const inflightSnap = inflight !== null && 'snapshot' in inflight ? inflight.snapshot : undefined;
        expect(snapIdx === (acked.snapshot?.meta.index ?? 0) || snapIdx === inflightSnap?.meta.index).toBe(true);
        const full = (m: Model) => [...m.entries];
        const recovered = simple(got.entries);
        if (inflightSnap && snapIdx === inflightSnap.meta.index) {
          const base = inflight !== null && 'replaces' in inflight && inflight.replaces ? [] : acked.entries.filter((e) => e.index > snapIdx);
          expect(recovered).toEqual(simple(base));
          return;
        }
        const before = simple(full(acked));
        if (inflight !== null && 'entries' in inflight) {
          // Either not yet cut (a prefix of the old log that keeps everything before
          // the cut), or cut and then a prefix of the new entries.
          const keep = acked.entries.filter((e) => e.index < inflight.cutFrom).length;
          const after = simple([...acked.entries.filter((e) => e.index < inflight.cutFrom), ...inflight.entries]);
          const isPrefix = (p: string[], of: string[]) => p.length <= of.length && p.every((x, i) => x === of[i]);
          expect(recovered.length >= keep && (isPrefix(recovered, before) || isPrefix(recovered, after)), `recovered ${recovered.join(' ')}\nbefore ${before.join(' ')}\nafter ${after.join(' ')}`).toBe(true);
        } else {
          expect(recovered).toEqual(before);
        }
      }),
      { numRuns: 300 },
    );
  });
});
