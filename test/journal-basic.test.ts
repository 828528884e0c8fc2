import { describe, expect, it } from 'vitest';
import { MemDisk } from '../sim/disk.js';
import { isStrataError } from '../actors/protocol/envelope.js';
import { Journal, RECORD_HEADER_BYTES, segmentName } from '../storage/journal.js';
import { GatedDisk, RecordingLogger, bytes, settle, text } from './journal-helpers.js';

describe('journal: append and replay', () => {
  it('starts empty, appends in order and replays after reopen', async () => {
    const disk = new MemDisk();
    const log = new RecordingLogger();
    const { journal, entries } = await Journal.open(disk, 'journal', log);
    expect(entries).toEqual([]);
    expect(journal.nextSeq).toBe(1);
    expect(await journal.append(bytes('mkdir /a'))).toBe(1);
    expect(await journal.append(bytes('mkdir /a/b'))).toBe(2);
    expect(await journal.append(new Uint8Array(0))).toBe(3);
    expect(journal.nextSeq).toBe(4);
    await journal.close();

    const again = await Journal.open(disk, 'journal', log);
    expect(again.entries.map((e) => [e.seq, text(e.payload)])).toEqual([
      [1, 'mkdir /a'],
      [2, 'mkdir /a/b'],
      [3, ''],
    ]);
    expect(again.journal.nextSeq).toBe(4);
    expect(await again.journal.append(bytes('x'))).toBe(4);
    await again.journal.close();
    const third = await Journal.open(disk, 'journal', log);
    expect(third.entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(log.at('warn')).toEqual([]);
  });

  it('writes the documented record layout', async () => {
    const disk = new MemDisk();
    const { journal } = await Journal.open(disk, 'j', new RecordingLogger());
    await journal.append(bytes('hello'));
    const file = await disk.readFile(`j/${segmentName(1)}`);
    expect(file.byteLength).toBe(RECORD_HEADER_BYTES + 5);
    const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
    expect(v.getUint32(0, true)).toBe(5);
    expect(v.getUint32(4, true)).toBe(0);
    expect(v.getUint32(8, true)).toBe(1);
    expect(text(file.subarray(16))).toBe('hello');
  });

  it('every acknowledged append is durable: it survives a crash with no torn bytes', async () => {
    const disk = new MemDisk();
    const { journal } = await Journal.open(disk, 'j', new RecordingLogger());
    for (let i = 0; i < 20; i++) await journal.append(bytes(`e${i}`));
    disk.crash();
    const { entries } = await Journal.open(disk, 'j', new RecordingLogger());
    expect(entries.map((e) => text(e.payload))).toEqual(Array.from({ length: 20 }, (_, i) => `e${i}`));
  });

  it('rolls segments at the configured size and replays across them', async () => {
    const disk = new MemDisk();
    const log = new RecordingLogger();
    const opts = { segmentBytes: 100 };
    const { journal } = await Journal.open(disk, 'j', log, opts);
    for (let i = 1; i <= 30; i++) await journal.append(bytes(`entry-${i}`.padEnd(20, '.')));
    const names = await disk.list('j');
    expect(names.length).toBeGreaterThan(5);
    expect(names[0]).toBe('log.0000000000000001');
    expect(journal.stats().segments).toBe(names.length);
    await journal.close();

    const again = await Journal.open(disk, 'j', log, opts);
    expect(again.entries.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(text(again.entries[29]!.payload)).toBe('entry-30'.padEnd(20, '.'));
    expect(await again.journal.append(bytes('more'))).toBe(31);
  });

  it('returns only records from firstSeq on, and refuses a journal that lacks them', async () => {
    const disk = new MemDisk();
    const { journal } = await Journal.open(disk, 'j', new RecordingLogger());
    for (let i = 0; i < 5; i++) await journal.append(bytes(`${i}`));
    await journal.close();
    const from3 = await Journal.open(disk, 'j', new RecordingLogger(), { firstSeq: 3 });
    expect(from3.entries.map((e) => e.seq)).toEqual([3, 4, 5]);
    const from6 = await Journal.open(disk, 'j', new RecordingLogger(), { firstSeq: 6 });
    expect(from6.entries).toEqual([]);
    expect(from6.journal.nextSeq).toBe(6);
    await expect(Journal.open(disk, 'j', new RecordingLogger(), { firstSeq: 9 })).rejects.toThrow(/ends at 5/);
    const fresh = await Journal.open(new MemDisk(), 'j', new RecordingLogger(), { firstSeq: 42 });
    expect(await fresh.journal.append(bytes('a'))).toBe(42);
  });

  it('refuses appends after close and oversized records', async () => {
    const { journal } = await Journal.open(new MemDisk(), 'j', new RecordingLogger(), { maxRecordBytes: 8 });
    await expect(journal.append(new Uint8Array(9))).rejects.toSatisfy((e: unknown) => isStrataError(e, 'INVALID_ARGUMENT'));
    expect(await journal.append(new Uint8Array(8))).toBe(1);
    await journal.close();
    await expect(journal.append(bytes('late'))).rejects.toSatisfy((e: unknown) => isStrataError(e, 'FAILED_PRECONDITION'));
  });

  it('close waits for appends in flight', async () => {
    const disk = new GatedDisk();
    const { journal } = await Journal.open(disk, 'j', new RecordingLogger());
    disk.hold = true;
    const p = journal.append(bytes('a'));
    let closed = false;
    const c = journal.close().then(() => (closed = true));
    await settle();
    expect(closed).toBe(false);
    disk.release();
    expect(await p).toBe(1);
    await c;
    expect(closed).toBe(true);
  });
});

describe('journal: group commit', () => {
  it('concurrent appends share fsyncs and keep call order', async () => {
    const disk = new MemDisk();
    const { journal } = await Journal.open(disk, 'j', new RecordingLogger());
    const seqs = await Promise.all(Array.from({ length: 100 }, (_, i) => journal.append(bytes(`c${i}`))));
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const s = journal.stats();
    expect(s.appends).toBe(100);
    expect(s.fsyncs).toBeLessThan(10);
    await journal.close();
    const { entries } = await Journal.open(disk, 'j', new RecordingLogger());
    expect(entries.map((e) => text(e.payload))).toEqual(Array.from({ length: 100 }, (_, i) => `c${i}`));
  });

  it('appends that arrive while an fsync is in flight are written together and share the next fsync', async () => {
    const disk = new GatedDisk();
    const { journal } = await Journal.open(disk, 'j', new RecordingLogger());
    await journal.append(bytes('first')); // creates the segment
    const before = journal.stats().fsyncs;

    disk.hold = true;
    const acked: number[] = [];
    const a = journal.append(bytes('a')).then((s) => acked.push(s));
    await settle();
    expect(disk.held).toBe(1); // 'a' is waiting on its fsync
    const rest = Array.from({ length: 9 }, (_, i) => journal.append(bytes(`b${i}`)).then((s) => acked.push(s)));
    await settle();
    expect(disk.held).toBe(1); // nothing more is written until that fsync returns
    expect(acked).toEqual([]);

    disk.release();
    await Promise.all([a, ...rest]);
    expect(acked).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const s = journal.stats();
    expect(s.fsyncs - before).toBe(2);
    expect(s.batches).toBe(3);
    expect(s.appends).toBe(11);
  });

  it('a write failure rejects the batch and every later append until reopened', async () => {
    const disk = new MemDisk();
    const log = new RecordingLogger();
    const { journal } = await Journal.open(disk, 'j', log);
    await journal.append(bytes('ok'));
    let fail = true;
    disk.faults.beforeOp = (op) => {
      if (fail && op === 'fsync') throw new Error('EIO: simulated');
    };
    const r1 = journal.append(bytes('lost?'));
    const r2 = journal.append(bytes('lost?'));
    await expect(r1).rejects.toThrow(/EIO/);
    await expect(r2).rejects.toThrow();
    await expect(journal.append(bytes('after'))).rejects.toSatisfy((e: unknown) => isStrataError(e, 'UNAVAILABLE'));
    expect(log.at('error').length).toBe(1);

    fail = false;
    disk.crash();
    const again = await Journal.open(disk, 'j', log);
    expect(again.entries.map((e) => text(e.payload))).toEqual(['ok']);
    expect(await again.journal.append(bytes('next'))).toBe(2);
  });
});
