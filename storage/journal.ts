// The single master's write-ahead journal: append-only records in segment files,
// replayed at start. Each record is
//
//   [u32 payload length][u32 seq high][u32 seq low][u32 crc32][payload]
//
// little-endian, with the CRC over the first twelve header bytes and the payload:
// covering the length too means a flipped length bit is caught by the checksum
// rather than sending the reader to a wrong offset that happens to look valid.
//
// Segments are named `log.<first seq, 16 digits>` so a directory listing sorts them
// and each name states where its records must start; a later checkpoint can then
// delete whole segments without rewriting any.
//
// Recovery distinguishes a torn tail (the crash interrupted the last write; nothing
// after it was acknowledged, so it is cut off with a warning) from corruption in the
// middle (acknowledged records may be damaged, so the journal refuses to open rather
// than let the master diverge silently).
import type { Disk, Logger } from '../actors/env.js';
import { StrataError } from '../actors/protocol/envelope.js';
import { crc32 } from './crc32.js';

export const RECORD_HEADER_BYTES = 16;
const SEGMENT_PREFIX = 'log.';
const SEGMENT_DIGITS = 16;
const SEGMENT_NAME = /^log\.(\d{16})$/;
const TWO_32 = 0x1_0000_0000;

export interface JournalOptions {
  /** A new segment starts once the current one reaches this size (a segment holds at least one record). */
  segmentBytes?: number;
  /** Larger payloads are refused on append; larger lengths on disk are treated as corruption. */
  maxRecordBytes?: number;
  /**
   * The first sequence number the caller needs. An empty journal starts here; an
   * existing one must hold every record from here on, and earlier ones are not returned.
   */
  firstSeq?: number;
}

export interface JournalEntry {
  readonly seq: number;
  /** A view into the bytes read at open; copy it to keep it beyond the caller's use. */
  readonly payload: Uint8Array;
}

export interface JournalStats {
  /** Appends acknowledged as durable. */
  appends: number;
  /** Batches written: each is one disk append followed by one fsync. */
  batches: number;
  fsyncs: number;
  /** Record bytes (headers included) written since open. */
  bytesWritten: number;
  /** Segment files the journal now spans. */
  segments: number;
}

/** The journal on disk is damaged where no crash could have put it; the master must not start. */
export class JournalCorruptError extends StrataError {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super('INTERNAL', `journal corrupt: ${file} at byte offset ${offset}: ${reason}`);
    this.name = 'JournalCorruptError';
  }
}

interface Pending {
  readonly seq: number;
  readonly payload: Uint8Array;
  readonly resolve: (seq: number) => void;
  readonly reject: (e: unknown) => void;
}

interface SegmentInfo {
  readonly path: string;
  readonly startSeq: number;
}

export function segmentName(startSeq: number): string {
  return SEGMENT_PREFIX + String(startSeq).padStart(SEGMENT_DIGITS, '0');
}

function joinPath(dir: string, name: string): string {
  const d = dir.replace(/\/+$/, '');
  return d === '' ? name : `${d}/${name}`;
}

function isAllZero(b: Uint8Array, from: number): boolean {
  for (let i = from; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function recordCrc(buf: Uint8Array, off: number, len: number): number {
  const headerCrc = crc32(buf.subarray(off, off + 12));
  return crc32(buf.subarray(off + RECORD_HEADER_BYTES, off + RECORD_HEADER_BYTES + len), headerCrc);
}

/** Encodes records for `seq`, `seq + 1`, … into one buffer, so a batch costs one disk write. */
export function encodeRecords(firstSeq: number, payloads: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of payloads) total += RECORD_HEADER_BYTES + p.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let off = 0;
  let seq = firstSeq;
  for (const p of payloads) {
    view.setUint32(off, p.byteLength, true);
    view.setUint32(off + 4, Math.floor(seq / TWO_32), true);
    view.setUint32(off + 8, seq % TWO_32, true);
    out.set(p, off + RECORD_HEADER_BYTES);
    view.setUint32(off + 12, recordCrc(out, off, p.byteLength), true);
    off += RECORD_HEADER_BYTES + p.byteLength;
    seq++;
  }
  return out;
}

export class Journal {
  private pending: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private failure: unknown = null;
  private closed = false;
  private seqCounter: number;
  private readonly counters: JournalStats;

  private constructor(
    private readonly disk: Disk,
    private readonly dir: string,
    private readonly log: Logger,
    private readonly segmentBytes: number,
    private readonly maxRecordBytes: number,
    private segment: SegmentInfo | null,
    private segmentSize: number,
    nextSeq: number,
    segments: number,
  ) {
    this.seqCounter = nextSeq;
    this.counters = { appends: 0, batches: 0, fsyncs: 0, bytesWritten: 0, segments };
  }

  /**
   * Opens (creating if needed) the journal in `dir`, repairs a torn tail and returns
   * every record from `firstSeq` on, in order. Rejects with JournalCorruptError when
   * the journal is damaged in a way a crash alone cannot explain.
   */
  static async open(
    disk: Disk,
    dir: string,
    log: Logger,
    opts: JournalOptions = {},
  ): Promise<{ journal: Journal; entries: JournalEntry[] }> {
    const segmentBytes = opts.segmentBytes ?? 10 * 1024 * 1024;
    const maxRecordBytes = opts.maxRecordBytes ?? 64 * 1024 * 1024;
    const firstSeq = opts.firstSeq ?? 1;
    if (!Number.isSafeInteger(firstSeq) || firstSeq < 1) throw new StrataError('INVALID_ARGUMENT', `journal firstSeq must be a positive integer, got ${firstSeq}`);
    if (!(segmentBytes > 0)) throw new StrataError('INVALID_ARGUMENT', `journal segmentBytes must be positive, got ${segmentBytes}`);
    if (!(maxRecordBytes > 0) || maxRecordBytes >= TWO_32) throw new StrataError('INVALID_ARGUMENT', `journal maxRecordBytes must be in [1, 2^32), got ${maxRecordBytes}`);

    await disk.mkdir(dir);
    const segments: SegmentInfo[] = [];
    for (const name of await disk.list(dir)) {
      const m = SEGMENT_NAME.exec(name);
      const startSeq = m ? Number(m[1]) : NaN;
      if (Number.isSafeInteger(startSeq) && startSeq >= 1) segments.push({ path: joinPath(dir, name), startSeq });
      else log.log('warn', 'journal: ignoring unexpected file in journal directory', { file: joinPath(dir, name) });
    }
    segments.sort((a, b) => a.startSeq - b.startSeq);

    const entries: JournalEntry[] = [];
    if (segments.length === 0) {
      return { journal: new Journal(disk, dir, log, segmentBytes, maxRecordBytes, null, 0, firstSeq, 0), entries };
    }
    if (segments[0]!.startSeq > firstSeq) {
      throw new JournalCorruptError(segments[0]!.path, 0, `records ${firstSeq}..${segments[0]!.startSeq - 1} are missing: the first segment starts at ${segments[0]!.startSeq}`);
    }

    let expected = segments[0]!.startSeq;
    let lastSize = 0;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const isLast = i === segments.length - 1;
      if (seg.startSeq !== expected) {
        const why = seg.startSeq > expected ? 'gap' : 'regression';
        throw new JournalCorruptError(seg.path, 0, `sequence ${why}: segment name says it starts at ${seg.startSeq}, expected ${expected}`);
      }
      const scan = await scanSegment(disk, seg.path, expected, isLast, maxRecordBytes, log);
      for (const e of scan.entries) if (e.seq >= firstSeq) entries.push(e);
      expected += scan.entries.length;
      if (scan.tornAt !== undefined) {
        log.log('warn', 'journal: truncating torn tail left by a crash', {
          file: seg.path,
          offset: scan.tornAt,
          droppedBytes: scan.fileSize - scan.tornAt,
          reason: scan.tornReason,
        });
        await disk.truncate(seg.path, scan.tornAt);
        await disk.fsync(seg.path);
        lastSize = scan.tornAt;
      } else {
        lastSize = scan.fileSize;
      }
    }
    if (expected < firstSeq) {
      const last = segments[segments.length - 1]!;
      throw new JournalCorruptError(last.path, lastSize, `journal ends at ${expected - 1}, before the required first sequence ${firstSeq}`);
    }
    const current = segments[segments.length - 1]!;
    const journal = new Journal(disk, dir, log, segmentBytes, maxRecordBytes, current, lastSize, expected, segments.length);
    return { journal, entries };
  }

  /** The sequence number the next append will get. */
  get nextSeq(): number {
    return this.seqCounter;
  }

  stats(): JournalStats {
    return { ...this.counters };
  }

  /**
   * Appends one record; resolves with its sequence number once it is durable.
   * Appends made while a write is in flight go to disk together and share the next
   * fsync. A rejection means the outcome is unknown (the record may still be on
   * disk and come back at the next open), and the journal refuses all later
   * appends: the master has to restart and replay.
   */
  append(payload: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new StrataError('FAILED_PRECONDITION', 'journal is closed'));
    if (this.failure !== null) return Promise.reject(this.failedError());
    if (payload.byteLength > this.maxRecordBytes) {
      return Promise.reject(new StrataError('INVALID_ARGUMENT', `journal record of ${payload.byteLength} bytes exceeds the limit of ${this.maxRecordBytes}`));
    }
    // The sequence number is fixed now, in call order, so concurrent callers get
    // the order they appended in whatever the disk's timing.
    if (!Number.isSafeInteger(this.seqCounter)) return Promise.reject(new StrataError('INTERNAL', 'journal sequence numbers exhausted'));
    const seq = this.seqCounter++;
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ seq, payload, resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  /** Waits for every accepted append to become durable (or fail), then refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
  }

  private failedError(): StrataError {
    const cause = this.failure instanceof Error ? this.failure.message : String(this.failure);
    return new StrataError('UNAVAILABLE', `journal failed after a disk error and accepts no more appends: ${cause}`);
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        if (this.failure !== null) {
          const err = this.failedError();
          for (const p of batch) p.reject(err);
          continue;
        }
        try {
          await this.writeBatch(batch);
        } catch (e) {
          // Part of the batch may be on disk; writing more after it could leave a
          // gap or a corrupt record in the middle, so stop here and let recovery
          // sort out the tail at the next open.
          this.failure = e;
          this.log.log('error', 'journal: write failed; refusing further appends', { error: e instanceof Error ? e.message : String(e) });
          for (const p of batch) p.reject(e);
          continue;
        }
        this.counters.appends += batch.length;
        for (const p of batch) p.resolve(p.seq);
      }
    } finally {
      this.flushing = null;
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const firstSeq = batch[0]!.seq;
    if (this.segment === null || this.segmentSize >= this.segmentBytes) {
      // The previous segment was fsynced with its last batch, so rolling needs no
      // extra sync of it; the new one is created empty and synced so its name (which
      // recovery checks against the records) exists before any record is written.
      const seg = { path: joinPath(this.dir, segmentName(firstSeq)), startSeq: firstSeq };
      await this.disk.writeFile(seg.path, new Uint8Array(0));
      await this.disk.fsync(seg.path);
      this.counters.fsyncs++;
      this.segment = seg;
      this.segmentSize = 0;
      this.counters.segments++;
    }
    const bytes = encodeRecords(firstSeq, batch.map((p) => p.payload));
    const path = this.segment.path;
    await this.disk.append(path, bytes);
    this.segmentSize += bytes.byteLength;
    this.counters.bytesWritten += bytes.byteLength;
    await this.disk.fsync(path);
    this.counters.fsyncs++;
    this.counters.batches++;
  }
}

export interface SegmentScan {
  entries: JournalEntry[];
  fileSize: number;
  /** Where a torn tail begins, when there is one to cut off. */
  tornAt?: number;
  tornReason?: string;
  /** Set instead of returning normally, so a scan can be compared with a re-read's. */
  corrupt?: JournalCorruptError;
}

const READ_ATTEMPTS = 3;

/**
 * Reads and scans one segment. A read can be corrupted in transit while the disk
 * holds good bytes, and acting on such a read would cut off acknowledged records or
 * refuse a healthy journal; so any finding other than a clean segment is confirmed
 * by reading again, and only a finding that two reads agree on (or the last of
 * several) is acted upon.
 */
export async function scanSegment(
  disk: Disk,
  path: string,
  startSeq: number,
  isLast: boolean,
  maxRecordBytes: number,
  log: Logger,
): Promise<SegmentScan> {
  let previous: SegmentScan | undefined;
  for (let attempt = 1; ; attempt++) {
    const scan = scanBytes(await disk.readFile(path), path, startSeq, isLast, maxRecordBytes);
    const clean = scan.tornAt === undefined && scan.corrupt === undefined;
    const confirmed = previous !== undefined && sameFinding(previous, scan);
    if (clean || confirmed || attempt >= READ_ATTEMPTS) {
      if (attempt > 1 && !confirmed) {
        log.log('warn', 'journal: re-reading a segment gave a different result; using the latest read', { file: path, attempts: attempt });
      }
      if (scan.corrupt) throw scan.corrupt;
      return scan;
    }
    previous = scan;
  }
}

function sameFinding(a: SegmentScan, b: SegmentScan): boolean {
  if (a.fileSize !== b.fileSize || a.tornAt !== b.tornAt) return false;
  if (a.corrupt === undefined || b.corrupt === undefined) return a.corrupt === b.corrupt;
  return a.corrupt.offset === b.corrupt.offset && a.corrupt.reason === b.corrupt.reason;
}

function scanBytes(buf: Uint8Array, path: string, startSeq: number, isLast: boolean, maxRecordBytes: number): SegmentScan {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = buf.byteLength;
  const entries: JournalEntry[] = [];
  let expected = startSeq;
  let off = 0;

  const corrupt = (reason: string): SegmentScan => ({ entries, fileSize: n, corrupt: new JournalCorruptError(path, off, reason) });
  // Only the final segment can hold an interrupted write: older ones were fsynced
  // whole before the next was created, so damage there is corruption.
  const torn = (reason: string): SegmentScan =>
    isLast ? { entries, fileSize: n, tornAt: off, tornReason: reason } : corrupt(`${reason} in a segment that is not the last`);

  while (off < n) {
    const rem = n - off;
    if (rem < RECORD_HEADER_BYTES) return torn(`incomplete record header (${rem} of ${RECORD_HEADER_BYTES} bytes)`);
    const len = view.getUint32(off, true);
    const seqHi = view.getUint32(off + 4, true);
    const seqLo = view.getUint32(off + 8, true);
    const storedCrc = view.getUint32(off + 12, true);
    // File systems that extend a file before its data lands leave zeros after a
    // crash; nothing after such a tail was ever written, so nothing is lost by dropping it.
    if (len > maxRecordBytes) {
      return isAllZero(buf, off) ? torn('zero-filled tail') : corrupt(`impossible record length ${len} (limit ${maxRecordBytes})`);
    }
    const end = off + RECORD_HEADER_BYTES + len;
    if (end > n) return torn(`record cut short (${rem} of ${RECORD_HEADER_BYTES + len} bytes)`);
    if (recordCrc(buf, off, len) !== storedCrc) {
      if (end === n) return torn('checksum mismatch in the final record');
      if (isAllZero(buf, off)) return torn('zero-filled tail');
      return corrupt(`checksum mismatch in a ${len}-byte record with data after it`);
    }
    if (seqHi >= 0x20_0000) return corrupt(`impossible sequence number (high word ${seqHi})`);
    const seq = seqHi * TWO_32 + seqLo;
    if (seq !== expected) return corrupt(`sequence ${seq > expected ? 'gap' : 'regression'}: expected ${expected}, found ${seq}`);
    entries.push({ seq, payload: buf.subarray(off + RECORD_HEADER_BYTES, end) });
    expected++;
    off = end;
  }
  return { entries, fileSize: n };
}
