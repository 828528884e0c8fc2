import { describe, expect, it } from 'vitest';
import { MemDisk } from '../sim/disk.js';
import { Journal, JournalCorruptError, RECORD_HEADER_BYTES, encodeRecords, segmentName } from '../storage/journal.js';
import { GatedDisk, RecordingLogger, bytes, settle, text } from './journal-helpers.js';

const SEG1 = `j/${segmentName(1)}`;

async function writeDurable(disk: MemDisk, path: string, data: Uint8Array): Promise<void> {
  await disk.writeFile(path, data);
  await disk.fsync(path);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

async function openError(disk: MemDisk, opts = {}): Promise<JournalCorruptError> {
  try {
    await Journal.open(disk, 'j', new RecordingLogger(), opts);
  } catch (e) {
    expect(e).toBeInstanceOf(JournalCorruptError);
    return e as JournalCorruptError;
  }
  throw new Error('expected Journal.open to fail');
}

describe('journal: torn tail after a crash', () => {
  it('truncates a torn tail with a warning; acknowledged appends survive and seqs continue', async () => {
    const disk = new GatedDisk();
    const { journal } = await Journal.open(disk, 'j', new RecordingLogger());
    for (let i = 1; i <= 5; i++) await journal.append(bytes(`acked-${i}`));

    // Three more are written but their fsync never returns before the power goes.
    disk.hold = true;
    const unacked = [journal.append(bytes('u-6')), journal.append(bytes('u-7')), journal.append(bytes('u-8'))];
    await settle();
    const len = (await disk.mem.stat(SEG1))!.size;
    expect(len).toBeGreaterThan(0);
    // Keep 3 bytes beyond the durable prefix, so the tail is a cut-short record.
    disk.mem.faults.tornBytes = () => 3;
    disk.mem.crash();
    disk.mem.faults = {};
    void unacked;

    const log = new RecordingLogger();
    const { journal: j2, entries } = await Journal.open(disk.mem, 'j', log);
    expect(entries.map((e) => text(e.payload))).toEqual(['acked-1', 'acked-2', 'acked-3', 'acked-4', 'acked-5']);
    const warns = log.at('warn');
    expect(warns.length).toBe(1);
    expect(warns[0]!.msg).toMatch(/torn tail/);
    expect(warns[0]!.fields).toMatchObject({ file: SEG1, droppedBytes: 3 });
    expect(j2.nextSeq).toBe(6);
    expect(await j2.append(bytes('after'))).toBe(6);
    await j2.close();

    const third = await Journal.open(disk.mem, 'j', log);
    expect(third.entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(text(third.entries[5]!.payload)).toBe('after');
    expect(log.at('warn').length).toBe(1);
  });

  it('keeps complete unacknowledged records that happened to reach the disk', async () => {
    const disk = new GatedDisk();
    const { journal } = await Journal.open(disk, 'j', new RecordingLogger());
    await journal.append(bytes('acked'));
    disk.hold = true;
    void journal.append(bytes('maybe'));
    await settle();
    disk.mem.faults.tornBytes = (_p, unsynced) => unsynced;
    disk.mem.crash();
    const { entries } = await Journal.open(disk.mem, 'j', new RecordingLogger());
    expect(entries.map((e) => text(e.payload))).toEqual(['acked', 'maybe']);
  });

  it('truncates an incomplete header', async () => {
    const disk = new MemDisk();
    const rec = encodeRecords(1, [bytes('a'), bytes('b')]);
    await writeDurable(disk, SEG1, rec.subarray(0, rec.byteLength - 1 - RECORD_HEADER_BYTES + 7));
    const log = new RecordingLogger();
    const { entries, journal } = await Journal.open(disk, 'j', log);
    expect(entries.map((e) => e.seq)).toEqual([1]);
    expect(log.at('warn')[0]!.fields).toMatchObject({ offset: RECORD_HEADER_BYTES + 1 });
    expect((await disk.stat(SEG1))!.size).toBe(RECORD_HEADER_BYTES + 1);
    expect(await journal.append(bytes('c'))).toBe(2);
  });

  it('truncates a final record whose checksum fails', async () => {
    const disk = new MemDisk();
    const rec = encodeRecords(1, [bytes('first'), bytes('second')]);
    rec[rec.byteLength - 2]! ^= 0x40;
    await writeDurable(disk, SEG1, rec);
    const log = new RecordingLogger();
    const { entries } = await Journal.open(disk, 'j', log);
    expect(entries.map((e) => text(e.payload))).toEqual(['first']);
    expect(log.at('warn')[0]!.fields).toMatchObject({ offset: RECORD_HEADER_BYTES + 5 });
  });

  it('truncates a zero-filled tail', async () => {
    const disk = new MemDisk();
    await writeDurable(disk, SEG1, concat(encodeRecords(1, [bytes('x')]), new Uint8Array(100)));
    const log = new RecordingLogger();
    const { entries, journal } = await Journal.open(disk, 'j', log);
    expect(entries.length).toBe(1);
    expect(log.at('warn')[0]!.fields).toMatchObject({ reason: 'zero-filled tail' });
    expect(await journal.append(bytes('y'))).toBe(2);
  });

  it('an empty last segment left by a crash mid-roll is reused', async () => {
    const disk = new GatedDisk();
    const { journal } = await Journal.open(disk, 'j', new RecordingLogger(), { segmentBytes: 10 });
    await journal.append(bytes('one-record-fills-a-segment'));
    disk.hold = true;
    void journal.append(bytes('lost'));
    await settle();
    await settle();
    disk.mem.crash();
    expect(await disk.mem.list('j')).toEqual([segmentName(1), segmentName(2)]);
    const { entries, journal: j2 } = await Journal.open(disk.mem, 'j', new RecordingLogger(), { segmentBytes: 10 });
    expect(entries.map((e) => e.seq)).toEqual([1]);
    expect(await j2.append(bytes('two'))).toBe(2);
    const third = await Journal.open(disk.mem, 'j', new RecordingLogger(), { segmentBytes: 10 });
    expect(third.entries.map((e) => text(e.payload))).toEqual(['one-record-fills-a-segment', 'two']);
  });

  it('a transiently corrupted read neither truncates nor fails', async () => {
    const disk = new MemDisk();
    const { journal } = await Journal.open(disk, 'j', new RecordingLogger());
    for (let i = 0; i < 4; i++) await journal.append(bytes(`r${i}`));
    let reads = 0;
    disk.faults.onRead = (_p, data) => {
      if (reads++ > 0) return data;
      const bad = data.slice();
      bad[bad.byteLength - 1]! ^= 1; // looks exactly like a torn final record
      return bad;
    };
    const log = new RecordingLogger();
    const { entries } = await Journal.open(disk, 'j', log);
    expect(entries.length).toBe(4);
    expect((await disk.stat(SEG1))!.size).toBe(4 * (RECORD_HEADER_BYTES + 2));
    expect(log.at('warn').some((l) => /torn/.test(l.msg))).toBe(false);
  });
});

describe('journal: corruption stops the open', () => {
  it('a flipped byte in a middle record names the file and offset', async () => {
    const disk = new MemDisk();
    const { journal } = await Journal.open(disk, 'j', new RecordingLogger());
    for (const p of ['alpha', 'bravo', 'charlie']) await journal.append(bytes(p));
    await journal.close();
    const data = await disk.readFile(SEG1);
    const second = RECORD_HEADER_BYTES + 5;
    data[second + RECORD_HEADER_BYTES + 2]! ^= 0x01;
    await writeDurable(disk, SEG1, data);

    const e = await openError(disk);
    expect(e.file).toBe(SEG1);
    expect(e.offset).toBe(second);
    expect(e.message).toContain(SEG1);
    expect(e.message).toContain(`offset ${second}`);
    expect(e.message).toMatch(/checksum/);
    expect(e.code).toBe('INTERNAL');
  });

  it('a flipped bit in a length field is caught', async () => {
    const disk = new MemDisk();
    const rec = encodeRecords(1, [bytes('aaaa'), bytes('bbbb'), bytes('cccc')]);
    rec[RECORD_HEADER_BYTES + 4]! ^= 0x02; // second record's length 4 -> 6
    await writeDurable(disk, SEG1, rec);
    const e = await openError(disk);
    expect(e.offset).toBe(RECORD_HEADER_BYTES + 4);
  });

  it('an impossible length is corruption, not a torn tail', async () => {
    const disk = new MemDisk();
    const rec = encodeRecords(1, [bytes('aaaa'), bytes('bbbb')]);
    new DataView(rec.buffer).setUint32(RECORD_HEADER_BYTES + 4, 0xfffffff0, true);
    await writeDurable(disk, SEG1, rec);
    const e = await openError(disk, { maxRecordBytes: 1024 });
    expect(e.offset).toBe(RECORD_HEADER_BYTES + 4);
    expect(e.message).toMatch(/impossible record length/);
  });

  it('a sequence gap is refused', async () => {
    const disk = new MemDisk();
    await writeDurable(disk, SEG1, concat(encodeRecords(1, [bytes('a'), bytes('b')]), encodeRecords(4, [bytes('d')])));
    const e = await openError(disk);
    expect(e.offset).toBe(2 * (RECORD_HEADER_BYTES + 1));
    expect(e.message).toMatch(/sequence gap: expected 3, found 4/);
  });

  it('a sequence regression is refused, even in the final record', async () => {
    const disk = new MemDisk();
    await writeDurable(disk, SEG1, concat(encodeRecords(1, [bytes('a'), bytes('b')]), encodeRecords(2, [bytes('b again')])));
    const e = await openError(disk);
    expect(e.message).toMatch(/sequence regression: expected 3, found 2/);
  });

  it('a segment that does not continue the previous one is refused', async () => {
    const disk = new MemDisk();
    await writeDurable(disk, SEG1, encodeRecords(1, [bytes('a'), bytes('b')]));
    await writeDurable(disk, `j/${segmentName(5)}`, encodeRecords(5, [bytes('e')]));
    const e = await openError(disk);
    expect(e.file).toBe(`j/${segmentName(5)}`);
    expect(e.message).toMatch(/gap/);
  });

  it('records inside a segment must match its name', async () => {
    const disk = new MemDisk();
    await writeDurable(disk, SEG1, encodeRecords(1, [bytes('a')]));
    await writeDurable(disk, `j/${segmentName(2)}`, encodeRecords(7, [bytes('g')]));
    const e = await openError(disk);
    expect(e.file).toBe(`j/${segmentName(2)}`);
    expect(e.offset).toBe(0);
  });

  it('a torn record in a segment that is not the last is corruption', async () => {
    const disk = new MemDisk();
    const first = encodeRecords(1, [bytes('a'), bytes('b')]);
    await writeDurable(disk, SEG1, first.subarray(0, first.byteLength - 1));
    await writeDurable(disk, `j/${segmentName(3)}`, encodeRecords(3, [bytes('c')]));
    const e = await openError(disk);
    expect(e.file).toBe(SEG1);
    expect(e.offset).toBe(RECORD_HEADER_BYTES + 1);
    expect(e.message).toMatch(/not the last/);
  });

  it('a persistently corrupted read is reported, not repaired', async () => {
    const disk = new MemDisk();
    await writeDurable(disk, SEG1, encodeRecords(1, [bytes('a'), bytes('b'), bytes('c')]));
    disk.faults.onRead = (_p, data) => {
      const bad = data.slice();
      bad[RECORD_HEADER_BYTES]! ^= 0x10; // first payload byte
      return bad;
    };
    const e = await openError(disk);
    expect(e.offset).toBe(0);
    disk.faults = {};
    const { entries } = await Journal.open(disk, 'j', new RecordingLogger());
    expect(entries.length).toBe(3);
  });
});
