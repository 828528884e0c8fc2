// Crash consistency: whatever point the power fails at and however much of the
// unsynced data survives, the journal replays a prefix of what was appended that
// contains every acknowledged append, and carries on from there.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DiskError } from '../actors/env.js';
import { MemDisk } from '../sim/disk.js';
import { Journal } from '../storage/journal.js';
import { RecordingLogger } from './journal-helpers.js';

/** The machine dies at disk operation `at`: it and everything after it fail. */
function dieAt(disk: MemDisk, at: number): void {
  let ops = 0;
  disk.faults.beforeOp = () => {
    if (ops++ >= at) throw new DiskError('EIO', 'power lost');
  };
}

function crashWith(disk: MemDisk, torn: number[]): void {
  let i = 0;
  disk.faults = {
    tornBytes: (_p, unsynced) => (torn.length === 0 ? 0 : torn[i++ % torn.length]! % (unsynced + 1)),
  };
  disk.crash();
  disk.faults = {};
}

const scenario = fc.record({
  // Appends in waves: each wave is issued at once, and the next waits for it to settle.
  waves: fc.array(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }),
  segmentBytes: fc.integer({ min: 16, max: 400 }),
  crashAtOp: fc.nat(80),
  torn: fc.array(fc.nat(), { maxLength: 4 }),
  // A second crash, during recovery itself.
  recoveryCrashAtOp: fc.option(fc.nat(6), { nil: undefined }),
  torn2: fc.array(fc.nat(), { maxLength: 4 }),
});

describe('journal: crash consistency (property)', () => {
  it('replay yields a prefix of the appends that includes every acknowledged one', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const disk = new MemDisk();
        const opts = { segmentBytes: s.segmentBytes };
        const { journal } = await Journal.open(disk, 'journal', new RecordingLogger(), opts);
        dieAt(disk, s.crashAtOp);

        const appended: Uint8Array[] = [];
        let lastAcked = 0; // highest acknowledged seq
        for (const wave of s.waves) {
          const results = await Promise.allSettled(
            wave.map((p) => {
              appended.push(p);
              return journal.append(p);
            }),
          );
          for (const r of results) if (r.status === 'fulfilled') lastAcked = Math.max(lastAcked, r.value);
        }
        crashWith(disk, s.torn);

        if (s.recoveryCrashAtOp !== undefined) {
          dieAt(disk, s.recoveryCrashAtOp);
          await Journal.open(disk, 'journal', new RecordingLogger(), opts).catch(() => undefined);
          crashWith(disk, s.torn2);
        }

        const { journal: j2, entries } = await Journal.open(disk, 'journal', new RecordingLogger(), opts);
        expect(entries.length).toBeGreaterThanOrEqual(lastAcked);
        expect(entries.length).toBeLessThanOrEqual(appended.length);
        entries.forEach((e, i) => {
          expect(e.seq).toBe(i + 1);
          expect(Buffer.from(e.payload).equals(Buffer.from(appended[i]!))).toBe(true);
        });

        // It carries on from where the replay ended, and that too survives a reopen.
        expect(j2.nextSeq).toBe(entries.length + 1);
        expect(await j2.append(Uint8Array.of(7, 7, 7))).toBe(entries.length + 1);
        await j2.close();
        const third = await Journal.open(disk, 'journal', new RecordingLogger(), opts);
        expect(third.entries.length).toBe(entries.length + 1);
        expect([...third.entries[entries.length]!.payload]).toEqual([7, 7, 7]);
      }),
      { numRuns: 300 },
    );
  });
});
