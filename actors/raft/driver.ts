// The driver that runs a RaftNode on an Env: it turns timers into ticks and
// envelopes into steps, and works through each Ready in the order the core asks —
// persist (RaftStorage), then send, then apply to the state machine, then
// advance. Proposals and reads are promises that settle when the state machine
// has caught up with them, or reject with NotLeaderError pointing at the leader.
import type { Env, NodeId, Timer } from '../env.js';
import { StrataError, type Envelope, type Message } from '../protocol/envelope.js';
import { RAFT_MESSAGES, type RaftMessage } from '../protocol/raft.js';
import { RaftNode, decodeConfChange } from './core.js';
import { RaftStorage, type RaftStorageOptions } from './storage.js';
import type { Entry, HardState, ProposeResult, RaftOptions, Ready, Role, Snapshot } from './types.js';

/** The replicated state: every node applies the same committed entries in the same order. */
export interface StateMachine<R> {
  /** Applies one committed entry; what it returns settles the proposal that made it. Must be deterministic. */
  apply(data: Uint8Array, index: number): R;
  /** The whole state as of the last applied index, for a checkpoint. */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot's (taken at `index`). */
  restore(data: Uint8Array, index: number): void;
}

/** The core's tuning, passed through as it is (documented on RaftOptions). */
type CoreTuning = Pick<RaftOptions, 'preVote' | 'checkQuorum' | 'readOnly' | 'maxEntriesPerAppend' | 'maxBytesPerAppend' | 'maxInflight' | 'snapshotChunkBytes'>;

export interface RaftDriverOptions extends RaftStorageOptions, CoreTuning {
  /** The bootstrap voters; empty for a server that waits to be added. */
  readonly voters: readonly NodeId[];
  /** Where the log lives on env.disk. */
  readonly dir: string;
  /** strata.master.embedded.journal.election.timeout.min / .max (ms). The core draws from [min, 2·min): max only widens the tick. */
  readonly electionTimeoutMinMs: number;
  readonly electionTimeoutMaxMs: number;
  /** strata.master.embedded.journal.heartbeat.interval (ms). */
  readonly heartbeatIntervalMs: number;
  /** The tick length; defaults to the heartbeat interval, so a heartbeat is one tick. */
  readonly tickMs?: number;
  /** strata.master.journal.checkpoint.period.entries: take a snapshot and compact after this many applied entries (0 = never). */
  readonly checkpointEntries: number;
  /** Seen after each Ready is done, and for each applied entry (checkers and tests). */
  readonly observer?: RaftObserver;
}

export interface RaftObserver {
  applied?(node: RaftNode, entry: Entry): void;
  afterReady?(node: RaftNode): void;
}

export interface RaftDriverStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly voters: readonly NodeId[];
}

/**
 * This node cannot serve the request: it is not the leader, or lost leadership
 * before the request completed. It is a NOT_LEADER refusal in the protocol's
 * sense (code UNAVAILABLE, message starting NOT_LEADER, `leader` the hint when
 * known; see isNotLeader in protocol/envelope.ts). `outcome` says whether a
 * proposal can still take effect: 'not-applied' means it was never appended or
 * was overwritten; 'unknown' means a later leader may still commit it, so a retry
 * must be deduplicated by the state machine.
 */
export class NotLeaderError extends StrataError {
  constructor(
    leader: NodeId | null,
    readonly outcome: 'not-applied' | 'unknown',
    detail = '',
  ) {
    super('UNAVAILABLE', `NOT_LEADER${leader !== null ? `; the leader is ${leader}` : ''}${detail ? ` (${detail})` : ''}`, leader ?? undefined);
    this.name = 'NotLeaderError';
  }
}

const RAFT_TYPES: ReadonlySet<string> = new Set(RAFT_MESSAGES.map((s) => s.name));

export function isRaftMessage(m: Message): m is RaftMessage {
  return RAFT_TYPES.has(m.t);
}

/** Confirmation rounds a leader keeps in flight at once (see read()). */
const READ_ROUNDS_IN_FLIGHT = 2;

interface PendingProposal<R> {
  readonly term: number;
  readonly resolve: (r: R | undefined) => void;
  readonly reject: (e: unknown) => void;
}

interface ReadWaiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface PendingRead {
  readonly term: number;
  index: number | null;
  /** Everyone waiting on this round. */
  readonly waiters: ReadWaiter[];
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

export class RaftDriver<R> {
  private core: RaftNode | undefined;
  private storage: RaftStorage | undefined;
  private timer: Timer | undefined;
  private readonly tickMs: number;
  private running = false;
  private stopped = false;
  private fatal: unknown = null;
  private applied = 0;
  private snapshotIndex = 0;
  private checkpointing = false;
  private role: Role = 'follower';
  private term = 0;
  private lead: NodeId | null = null;
  private readonly proposals = new Map<number, PendingProposal<R>>();
  private readonly reads = new Map<string, PendingRead>();
  private readonly readsWaitingApply: PendingRead[] = [];
  /** Reads asked while a round was in flight: they share the next one. */
  private readonly queuedReads: ReadWaiter[] = [];
  private readSeq = 0;
  /** The read round the next Ready will start, which later reads may still join. */
  private openRead: PendingRead | undefined;
  /** Widens the read round in flight to every follower if it finds no quorum in time. */
  private widenTimer: Timer | undefined;
  private readonly readWidenMs: number;
  /** The hard state last written to disk, and the newest one the core has handed out. */
  private savedHard: HardState | undefined;
  private latestHard: HardState | undefined;

  constructor(
    private readonly env: Env,
    private readonly sm: StateMachine<R>,
    private readonly opts: RaftDriverOptions,
  ) {
    if (!(opts.heartbeatIntervalMs > 0) || !(opts.electionTimeoutMinMs > opts.heartbeatIntervalMs) || opts.electionTimeoutMaxMs < opts.electionTimeoutMinMs) {
      throw new StrataError('INVALID_ARGUMENT', 'raft timing: need 0 < heartbeat interval < election timeout min <= max');
    }
    this.tickMs = opts.tickMs ?? opts.heartbeatIntervalMs;
    // Far above a round trip between healthy masters (even on a busy host), well below a heartbeat interval.
    this.readWidenMs = Math.max(1, Math.min(50, Math.floor(opts.heartbeatIntervalMs / 4)));
  }

  /** Recovers the log from disk, restores the state machine and starts ticking. */
  async start(): Promise<void> {
    const o = this.opts;
    const { storage, state } = await RaftStorage.open(this.env.disk, o.dir, this.env.log, {
      ...(o.segmentBytes !== undefined ? { segmentBytes: o.segmentBytes } : {}),
      ...(o.maxRecordBytes !== undefined ? { maxRecordBytes: o.maxRecordBytes } : {}),
    });
    if (this.stopped) return;
    this.storage = storage;
    if (state.snapshot) {
      this.sm.restore(state.snapshot.data, state.snapshot.meta.index);
      this.applied = state.snapshot.meta.index;
      this.snapshotIndex = state.snapshot.meta.index;
    }
    const heartbeatTick = Math.max(1, Math.round(o.heartbeatIntervalMs / this.tickMs));
    const electionTick = Math.max(heartbeatTick + 1, Math.round(o.electionTimeoutMinMs / this.tickMs));
    this.core = new RaftNode({
      id: this.env.self,
      voters: o.voters,
      electionTick,
      heartbeatTick,
      random: () => this.env.random(),
      preVote: o.preVote ?? true,
      checkQuorum: o.checkQuorum ?? true,
      ...(o.readOnly !== undefined ? { readOnly: o.readOnly } : {}),
      ...(o.maxEntriesPerAppend !== undefined ? { maxEntriesPerAppend: o.maxEntriesPerAppend } : {}),
      ...(o.maxBytesPerAppend !== undefined ? { maxBytesPerAppend: o.maxBytesPerAppend } : {}),
      ...(o.maxInflight !== undefined ? { maxInflight: o.maxInflight } : {}),
      ...(o.snapshotChunkBytes !== undefined ? { snapshotChunkBytes: o.snapshotChunkBytes } : {}),
      restore: {
        ...(state.hardState ? { hardState: state.hardState } : {}),
        ...(state.snapshot ? { snapshot: state.snapshot } : {}),
        entries: state.entries,
      },
      applied: this.applied,
    });
    this.term = state.hardState?.term ?? 0;
    this.savedHard = state.hardState;
    this.latestHard = state.hardState;
    this.schedule();
    this.kick();
  }

  /** Hands an inbound Raft message to the core (ignored before start and after stop). */
  receive(envelope: Envelope): void {
    if (!this.core || this.stopped || this.fatal !== null) return;
    this.core.step(envelope.f, envelope.m as RaftMessage);
    this.kick();
  }

  /** Replicates `data`; resolves with the state machine's result once it is applied here. */
  propose(data: Uint8Array): Promise<R> {
    return this.submit(() => this.core!.propose(data)) as Promise<R>;
  }

  /** Resolves once the state machine here reflects every write committed before the call (ReadIndex). */
  read(): Promise<void> {
    const core = this.usable();
    if (core instanceof Error) return Promise.reject(core);
    // Reads asked before the core's next Ready share one ReadIndex round: while
    // the driver is busy with a Ready, any number of them cost one heartbeat.
    const open = this.openRead;
    if (open) return new Promise<void>((resolve, reject) => open.waiters.push({ resolve, reject }));
    // At most READ_ROUNDS_IN_FLIGHT confirmation rounds at a time (etcd's read loop
    // keeps one): reads asked meanwhile wait for the next round, which starts after
    // them, so they stay linearizable and a busy leader sends one heartbeat per
    // round, not per burst. Two rather than one: two clients' bursts then each get
    // a round at once instead of one waiting out the other's round trip.
    if (this.reads.size >= READ_ROUNDS_IN_FLIGHT) return new Promise<void>((resolve, reject) => this.queuedReads.push({ resolve, reject }));
    const done = new Promise<void>((resolve, reject) => this.startRead(core, [{ resolve, reject }]));
    // Not at once: the other reads handed over in this same turn (one socket read
    // often carries many requests) still join this round.
    queueMicrotask(() => this.kick());
    return done;
  }

  /** Registers a ReadIndex round for `waiters`; it stays open for joiners until the next Ready. */
  private startRead(core: RaftNode, waiters: ReadWaiter[]): void {
    const ctx = `${this.env.self}:${++this.readSeq}`;
    const r = core.readIndex(ctx);
    if (!r.ok) {
      const err = new NotLeaderError(r.lead, 'not-applied');
      for (const w of waiters) w.reject(err);
      return;
    }
    const read: PendingRead = {
      term: core.status().term,
      index: null,
      waiters,
      resolve: () => waiters.forEach((w) => w.resolve()),
      reject: (e) => waiters.forEach((w) => w.reject(e)),
    };
    this.reads.set(ctx, read);
    this.openRead = read;
    // A round goes to just enough followers for a quorum; if one of them is slow or
    // gone, the round is sent to all rather than left to wait for the next heartbeat.
    this.widenTimer?.cancel();
    this.widenTimer = this.env.setTimer(this.readWidenMs, () => {
      this.widenTimer = undefined;
      if (!this.reads.has(ctx) || !this.core || this.stopped || this.fatal !== null) return;
      this.core.widenReadRound();
      this.kick();
    });
  }

  /** The reads that waited for the previous round start the next one once it is confirmed (or failed). */
  private startQueuedReads(core: RaftNode): void {
    if (this.reads.size >= READ_ROUNDS_IN_FLIGHT || this.queuedReads.length === 0) return;
    const waiters = this.queuedReads.splice(0);
    this.startRead(core, waiters);
  }

  /** Adds a voter; resolves once the change is applied here. One change at a time. */
  addServer(id: NodeId): Promise<void> {
    return this.submit(() => this.core!.proposeConfChange({ type: 'add', node: id })).then(() => undefined);
  }

  removeServer(id: NodeId): Promise<void> {
    return this.submit(() => this.core!.proposeConfChange({ type: 'remove', node: id })).then(() => undefined);
  }

  /** Starts handing leadership to `to`; false when this node cannot (not leader, unknown voter). */
  transferLeadership(to: NodeId): boolean {
    if (!this.core || this.stopped) return false;
    const ok = this.core.transferLeadership(to);
    this.kick();
    return ok;
  }

  status(): RaftDriverStatus {
    const st = this.core?.status();
    return {
      id: this.env.self,
      role: st?.role ?? 'follower',
      term: st?.term ?? 0,
      leader: st?.lead ?? null,
      commit: st?.commit ?? 0,
      applied: this.applied,
      lastIndex: st?.lastIndex ?? 0,
      snapshotIndex: this.snapshotIndex,
      voters: st?.voters ?? [...this.opts.voters],
    };
  }

  /** The core, for checkers and tests: read it, do not drive it. */
  get node(): RaftNode | undefined {
    return this.core;
  }

  /** Set when the disk failed: the node has stopped and must be restarted to recover. */
  get failed(): unknown {
    return this.fatal;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    this.failAll(new StrataError('UNAVAILABLE', 'raft node stopped'));
    // A clean stop leaves the newest commit index behind, so a restart applies
    // everything at once instead of waiting for a leader to tell it again.
    const latest = this.latestHard;
    if (this.storage && this.fatal === null && latest && this.savedHard?.commit !== latest.commit) {
      await this.storage.setHardState(latest).catch(() => undefined);
    }
    await this.storage?.close();
  }

  // ---- internals ------------------------------------------------------------------------

  private usable(): RaftNode | StrataError {
    if (this.stopped) return new StrataError('UNAVAILABLE', 'raft node stopped');
    if (this.fatal !== null) return new StrataError('UNAVAILABLE', 'raft node failed after a disk error');
    if (!this.core) return new StrataError('UNAVAILABLE', 'raft node is starting');
    return this.core;
  }

  private submit(propose: () => ProposeResult): Promise<R | undefined> {
    const core = this.usable();
    if (core instanceof Error) return Promise.reject(core);
    const r = propose();
    if (!r.ok) {
      if (r.reason === 'NOT_LEADER') return Promise.reject(new NotLeaderError(r.lead, 'not-applied'));
      return Promise.reject(new StrataError('UNAVAILABLE', `${r.reason}: the leader cannot take this proposal now; retry`));
    }
    return new Promise<R | undefined>((resolve, reject) => {
      this.proposals.set(r.index, { term: r.term, resolve, reject });
      this.kick();
    });
  }

  private schedule(): void {
    this.timer = this.env.setTimer(this.tickMs, () => {
      if (this.stopped || this.fatal !== null) return;
      this.core!.tick();
      this.kick();
      this.schedule();
    });
  }

  private kick(): void {
    if (this.running || !this.core || this.stopped || this.fatal !== null) return;
    if (!this.core.hasReady()) return;
    this.running = true;
    this.loop().then(
      () => {
        this.running = false;
        // Work that arrived during the last await.
        this.kick();
      },
      (e: unknown) => {
        this.running = false;
        this.die(e);
      },
    );
  }

  private async loop(): Promise<void> {
    const core = this.core!;
    while (!this.stopped && this.fatal === null && core.hasReady()) {
      const rd = core.ready();
      this.openRead = undefined;
      // Committed entries below this Ready's own are durable here already: they
      // are applied (and their proposers answered) while this Ready's write runs,
      // so under load an answer does not also wait for the next batch's fsync.
      const firstNew = rd.entries.length > 0 ? rd.entries[0]!.index : Infinity;
      const durable = rd.snapshot ? 0 : rd.committedEntries.findIndex((e) => e.index >= firstNew);
      const early = durable < 0 ? rd.committedEntries.length : durable;
      if (this.sendsBeforePersist(rd)) {
        this.sendAll(rd);
        for (let i = 0; i < early; i++) this.applyEntry(core, rd.committedEntries[i]!);
        await this.persist(rd);
        if (this.stopped) return;
      } else {
        for (let i = 0; i < early; i++) this.applyEntry(core, rd.committedEntries[i]!);
        await this.persist(rd);
        if (this.stopped) return;
        this.sendAll(rd);
      }
      if (rd.softState) {
        this.role = rd.softState.role;
        this.lead = rd.softState.lead;
      }
      if (rd.hardState) this.term = rd.hardState.term;
      if (rd.snapshot) this.restore(rd.snapshot);
      for (let i = early; i < rd.committedEntries.length; i++) this.applyEntry(core, rd.committedEntries[i]!);
      for (const rs of rd.readStates) {
        const p = this.reads.get(rs.ctx);
        if (!p) continue;
        this.reads.delete(rs.ctx);
        p.index = rs.index;
        this.readsWaitingApply.push(p);
      }
      this.serveReads();
      this.dropStale();
      if (this.reads.size === 0) this.cancelWiden();
      this.startQueuedReads(core);
      core.advance();
      this.opts.observer?.afterReady?.(core);
      this.maybeCheckpoint(core);
    }
  }

  private sendAll(rd: Ready): void {
    for (const out of rd.messages) this.env.send(out.to, { f: this.env.self, to: out.to, id: 0, m: out.m });
  }

  /**
   * A leader's own log write may run while its appends travel to the followers
   * (Raft thesis §10.2.1; etcd does the same): the core counts the leader in a
   * quorum only for entries it has persisted. Anything that depends on a new term
   * or vote, or a snapshot, still waits for the disk first.
   */
  private sendsBeforePersist(rd: Ready): boolean {
    if (rd.snapshot || (rd.softState?.role ?? this.role) !== 'leader') return false;
    const h = rd.hardState;
    const saved = this.savedHard;
    return h === undefined || (saved !== undefined && h.term === saved.term && h.vote === saved.vote);
  }

  private async persist(rd: Ready): Promise<void> {
    const s = this.storage!;
    // Queued together so the storage runs them back to back; the order is the Ready's.
    const steps: Array<Promise<void>> = [];
    if (rd.snapshot) steps.push(s.saveSnapshot(rd.snapshot, true));
    if (rd.entries.length > 0) steps.push(s.append(rd.entries));
    if (rd.hardState) {
      this.latestHard = rd.hardState;
      // Term and vote must be durable before any message that depends on them
      // leaves. The commit index need not be (it is volatile state in the Raft
      // paper; etcd writes it without an fsync): after a crash the node restarts
      // from an older commit, never past its log, and learns the rest from the
      // leader. Writing it durably on every commit cost each create two extra
      // fsyncs and a rename on the leader and on every follower.
      const saved = this.savedHard;
      if (saved === undefined || saved.term !== rd.hardState.term || saved.vote !== rd.hardState.vote) {
        this.savedHard = rd.hardState;
        steps.push(s.setHardState(rd.hardState));
      }
    }
    if (steps.length > 0) await Promise.all(steps);
  }

  private restore(snap: Snapshot): void {
    this.sm.restore(snap.data, snap.meta.index);
    this.applied = snap.meta.index;
    this.snapshotIndex = snap.meta.index;
    // What was pending here is either inside the snapshot or gone; we cannot tell which.
    for (const [index, p] of this.proposals) {
      if (index > snap.meta.index) continue;
      this.proposals.delete(index);
      p.reject(new NotLeaderError(this.lead, 'unknown', 'replaced by a snapshot'));
    }
  }

  private applyEntry(core: RaftNode, e: Entry): void {
    if (e.index <= this.applied) return;
    let result: R | undefined;
    if (e.type === 'normal') result = this.sm.apply(e.data, e.index);
    else if (e.type === 'conf') decodeConfChange(e.data);
    this.applied = e.index;
    this.opts.observer?.applied?.(core, e);
    const p = this.proposals.get(e.index);
    if (p) {
      this.proposals.delete(e.index);
      if (p.term === e.term) p.resolve(result);
      else p.reject(new NotLeaderError(this.lead, 'not-applied', `entry ${e.index} was overwritten by a later leader`));
    }
  }

  private serveReads(): void {
    for (let i = 0; i < this.readsWaitingApply.length; ) {
      const r = this.readsWaitingApply[i]!;
      if (r.index! <= this.applied) {
        this.readsWaitingApply.splice(i, 1);
        r.resolve();
      } else i++;
    }
  }

  /** Fails what this node can no longer complete because it stopped leading the term it was asked in. */
  private dropStale(): void {
    const leading = this.role === 'leader';
    for (const [index, p] of this.proposals) {
      if (leading && p.term === this.term) continue;
      this.proposals.delete(index);
      p.reject(new NotLeaderError(leading ? this.env.self : this.lead, 'unknown', `leadership of term ${p.term} lost before entry ${index} was applied`));
    }
    for (const [ctx, r] of this.reads) {
      if (leading && r.term === this.term) continue;
      this.reads.delete(ctx);
      r.reject(new NotLeaderError(this.lead, 'not-applied', 'leadership lost before the read was confirmed'));
    }
  }

  private maybeCheckpoint(core: RaftNode): void {
    const every = this.opts.checkpointEntries;
    if (every <= 0 || this.checkpointing || this.applied - this.snapshotIndex < every) return;
    // A failure has already stopped the node (die); nothing more to do with it here.
    this.checkpointAt(core).catch(() => undefined);
  }

  private checkpointAt(core: RaftNode): Promise<number> {
    const index = this.applied;
    const data = this.sm.snapshot();
    core.compact(index, data);
    this.snapshotIndex = index;
    // The storage queue orders it after the entries it covers and deletes segments
    // only once it is durable, so the Ready loop need not wait for it.
    this.checkpointing = true;
    return this.storage!.saveSnapshot({ meta: core.snapshotMeta(), data }, false).then(
      () => {
        this.checkpointing = false;
        return index;
      },
      (e: unknown) => {
        this.die(e);
        throw e;
      },
    );
  }

  /** Checkpoints now (fsadmin journal checkpoint): snapshot, compact; resolves with the index covered. */
  checkpoint(): Promise<number> {
    const core = this.usable();
    if (core instanceof Error) return Promise.reject(core);
    if (this.checkpointing) return Promise.reject(new StrataError('UNAVAILABLE', 'a checkpoint is already being written; try again'));
    if (this.applied <= this.snapshotIndex) return Promise.resolve(this.snapshotIndex);
    return this.checkpointAt(core);
  }

  private die(e: unknown): void {
    if (this.fatal !== null || this.stopped) return;
    this.fatal = e;
    this.timer?.cancel();
    this.env.log.log('error', 'raft: stopping after a storage failure; restart to recover', { error: e instanceof Error ? e.message : String(e) });
    this.failAll(new StrataError('UNAVAILABLE', 'raft node failed after a disk error'));
  }

  private cancelWiden(): void {
    this.widenTimer?.cancel();
    this.widenTimer = undefined;
  }

  private failAll(err: StrataError): void {
    this.openRead = undefined;
    this.cancelWiden();
    for (const p of this.proposals.values()) p.reject(err);
    this.proposals.clear();
    for (const r of this.reads.values()) r.reject(err);
    this.reads.clear();
    for (const r of this.readsWaitingApply) r.reject(err);
    this.readsWaitingApply.length = 0;
    for (const w of this.queuedReads.splice(0)) w.reject(err);
  }
}
