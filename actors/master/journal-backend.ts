// Where the master's journal entries go. The single master writes its own
// write-ahead journal (LocalJournal, Alluxio's UFS journal type); the embedded
// Raft journal replicates entries to standby masters. Either way an entry is
// applied to the namespace only once it is durable, through the same `apply`.
import { Journal } from '../../storage/journal.js';
import { packRecord, unpackRecord } from '../../transport/codec.js';
import type { Disk, Env, Logger } from '../env.js';
import type { Envelope } from '../protocol/envelope.js';
import { RaftDriver, isRaftMessage } from '../raft/driver.js';
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
  /** Whether this master may serve: the only master, or the Raft leader. */
  isLeader(): boolean;
  /** The current Raft term (0 for the local journal). */
  term(): number;
  /** The master believed to lead, when known (for NOT_LEADER hints). */
  leader(): string | undefined;
  /** Resolves once reads here see every change committed before the call (Raft ReadIndex). */
  readBarrier(): Promise<void>;
  /** Takes messages meant for the journal itself (Raft); false for everything else. */
  receive(envelope: Envelope): boolean;
  /** Why the journal can no longer accept entries here (a disk failure): the master must be restarted. */
  readonly failed: string | undefined;
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
  private applyTail: Promise<unknown> = Promise.resolve();
  failed: string | undefined;

  isLeader(): boolean {
    return true;
  }

  term(): number {
    return 0;
  }

  leader(): string | undefined {
    return undefined;
  }

  async readBarrier(): Promise<void> {}

  receive(): boolean {
    return false;
  }

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
    const apply = this.apply;
    const durable = this.journal.append(encodeEntry(entry));
    // Appends may overlap (they share fsyncs); entries are applied strictly in
    // journal order, each only once durable: a reader must never see a change
    // that a crash could take back.
    const applied = this.applyTail.then(async () => {
      try {
        this.seq = await durable;
      } catch (e) {
        this.failed ??= `journal write failed: ${(e as Error).message}`;
        throw e;
      }
      return apply(entry);
    });
    this.applyTail = applied.catch(() => undefined);
    return applied;
  }

  async stop(): Promise<void> {
    await this.journal?.close();
  }
}

export interface RaftJournalOptions {
  /** Every master of the group (its node ids); this one included. */
  readonly voters: readonly string[];
  readonly electionTimeoutMinMs: number;
  readonly electionTimeoutMaxMs: number;
  readonly heartbeatIntervalMs: number;
  /** strata.master.embedded.journal.read.lease.enabled: reads skip the ReadIndex round (see the key's description). */
  readonly leaseReads?: boolean;
  /** strata.master.journal.checkpoint.period.entries */
  readonly checkpointEntries: number;
  /** Folder on the master's disk for the Raft log, hard state and snapshots. */
  readonly dir: string;
}

/**
 * The masters' Raft tick: a quarter heartbeat. Election timeouts are drawn in
 * whole ticks, and with one tick per heartbeat two standbys drew the same timeout
 * one time in five (a split vote: another whole timeout before a failover ends).
 */
export function journalTickMs(heartbeatIntervalMs: number): number {
  return Math.max(1, Math.round(heartbeatIntervalMs / 4));
}

/**
 * The embedded Raft journal: entries are proposed by the leader, replicated to a
 * majority, and applied on every master in the same order (hot standbys). The
 * namespace's snapshot is the Raft checkpoint.
 */
export class RaftJournal implements JournalBackend {
  private driver: RaftDriver<unknown> | undefined;

  constructor(
    private readonly env: Env,
    private readonly opts: RaftJournalOptions,
    private readonly state: { snapshot(): Uint8Array; restore(bytes: Uint8Array): void },
    /** Told when this master becomes the leader, so it can finish what the last leader left. */
    private readonly onLeadership: () => void,
  ) {}

  get lastSeq(): number {
    return this.driver?.status().applied ?? 0;
  }

  get failed(): string | undefined {
    const f = this.driver?.failed;
    return f === null || f === undefined ? undefined : `raft journal failed: ${f instanceof Error ? f.message : String(f)}`;
  }

  status() {
    return this.driver?.status();
  }

  get raft(): RaftDriver<unknown> | undefined {
    return this.driver;
  }

  async start(apply: ApplyFn): Promise<JournalEntry | undefined> {
    let wasLeader = false;
    this.driver = new RaftDriver<unknown>(
      this.env,
      {
        apply: (data, index) => apply(decodeEntry(data, `raft entry ${index}`)),
        snapshot: () => this.state.snapshot(),
        restore: (data) => this.state.restore(data),
      },
      {
        voters: this.opts.voters,
        dir: this.opts.dir,
        electionTimeoutMinMs: this.opts.electionTimeoutMinMs,
        electionTimeoutMaxMs: this.opts.electionTimeoutMaxMs,
        heartbeatIntervalMs: this.opts.heartbeatIntervalMs,
        tickMs: journalTickMs(this.opts.heartbeatIntervalMs),
        checkpointEntries: this.opts.checkpointEntries,
        readOnly: this.opts.leaseReads ? 'lease' : 'safe',
        observer: {
          afterReady: () => {
            const leading = this.driver?.status().role === 'leader';
            if (leading && !wasLeader) this.onLeadership();
            wasLeader = leading;
          },
        },
      },
    );
    await this.driver.start();
    // The UFS side of the last entry is finished by whichever master next leads.
    return undefined;
  }

  append(entry: JournalEntry): Promise<unknown> {
    if (!this.driver) return Promise.reject(new StrataError('UNAVAILABLE', 'master is starting'));
    return this.driver.propose(encodeEntry(entry));
  }

  isLeader(): boolean {
    return this.driver?.status().role === 'leader';
  }

  term(): number {
    // -1 before start: never equal to a term in which a leader caught up.
    return this.driver?.status().term ?? -1;
  }

  leader(): string | undefined {
    return this.driver?.status().leader ?? undefined;
  }

  readBarrier(): Promise<void> {
    if (!this.driver) return Promise.reject(new StrataError('UNAVAILABLE', 'master is starting'));
    return this.driver.read();
  }

  receive(envelope: Envelope): boolean {
    if (!isRaftMessage(envelope.m)) return false;
    this.driver?.receive(envelope);
    return true;
  }

  async stop(): Promise<void> {
    await this.driver?.stop();
  }
}
