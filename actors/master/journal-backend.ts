// Where the master's journal entries go. The single master writes its own
// write-ahead journal (LocalJournal, Alluxio's UFS journal type); the embedded
// Raft journal replicates entries to standby masters. Either way an entry is
// applied to the namespace only once it is durable, through the same `apply`.
import { Journal } from '../../storage/journal.js';
import { packRecord, unpackRecord } from '../../transport/codec.js';
import type { Disk, Logger } from '../env.js';
import { StrataError } from '../protocol/envelope.js';
import { checkEntry, type JournalEntry } from './namespace.js';

export type ApplyFn = (entry: JournalEntry) => unknown;

export interface JournalBackend {
  /** Replays what is durable through `apply`; returns the last entry replayed (its UFS side may need finishing). */
  start(apply: ApplyFn): Promise<JournalEntry | undefined>;
  /** Resolves with `apply`'s result once `entry` is durable and applied; rejects if it cannot be made durable. */
  append(entry: JournalEntry): Promise<unknown>;
  /** Sequence number of the last durable entry. */
  readonly lastSeq: number;
  stop(): Promise<void>;
}

export function decodeEntry(payload: Uint8Array, where: string): JournalEntry {
  const entry = unpackRecord(payload);
  const bad = checkEntry(entry);
  if (bad) throw new StrataError('INTERNAL', `${where} is not a valid journal entry: ${bad}`);
  return entry as JournalEntry;
}

export function encodeEntry(entry: JournalEntry): Uint8Array {
  return packRecord(entry);
}

/** The single master's local write-ahead journal (storage/journal.ts). */
export class LocalJournal implements JournalBackend {
  private journal: Journal | undefined;
  private apply: ApplyFn | undefined;
  private seq = 0;

  constructor(
    private readonly disk: Disk,
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  get lastSeq(): number {
    return this.seq;
  }

  async start(apply: ApplyFn): Promise<JournalEntry | undefined> {
    const { journal, entries } = await Journal.open(this.disk, this.dir, this.log);
    let last: JournalEntry | undefined;
    for (const { seq, payload } of entries) {
      last = decodeEntry(payload, `journal record ${seq} in ${this.dir}`);
      apply(last);
      this.seq = seq;
    }
    this.journal = journal;
    this.apply = apply;
    this.log.log('info', `master replayed ${entries.length} journal entries`);
    return last;
  }

  async append(entry: JournalEntry): Promise<unknown> {
    if (!this.journal || !this.apply) throw new StrataError('UNAVAILABLE', 'master is starting');
    this.seq = await this.journal.append(encodeEntry(entry));
    // Applied only once durable: a reader must never see a change that a crash could take back.
    return this.apply(entry);
  }

  async stop(): Promise<void> {
    await this.journal?.close();
  }
}
