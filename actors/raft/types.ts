// The vocabulary between the Raft core and its driver: what the driver persists,
// sends and applies, and how the core is configured and restored.
import type { NodeId } from '../env.js';
import type { RaftEntry, RaftMessage } from '../protocol/raft.js';

export type { RaftEntry, RaftMessage } from '../protocol/raft.js';
export type Entry = RaftEntry;
export type EntryType = RaftEntry['type'];

export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

/** What must survive a crash besides the log: a vote must never be forgotten. */
export interface HardState {
  readonly term: number;
  /** The node voted for in `term`, or null. */
  readonly vote: NodeId | null;
  readonly commit: number;
}

export interface SnapshotMeta {
  /** The last entry the snapshot covers, and its term. */
  readonly index: number;
  readonly term: number;
  /** The voters as of `index`. */
  readonly voters: readonly NodeId[];
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The state machine's own encoding of its state at meta.index; opaque to the core. */
  readonly data: Uint8Array;
}

/** Changes that the driver learns about but does not persist. */
export interface SoftState {
  readonly lead: NodeId | null;
  readonly role: Role;
}

/** A linearizable read may be served once the state machine has applied `index`. */
export interface ReadState {
  readonly ctx: string;
  readonly index: number;
}

export interface OutMessage {
  readonly to: NodeId;
  readonly m: RaftMessage;
}

/**
 * One batch of work for the driver, to be done in this order:
 * 1. persist `snapshot` (if any), then `entries` (discarding any persisted entries
 *    at or after entries[0].index first), then `hardState`, durably;
 * 2. send `messages` (only now: a vote or an acknowledgement must not leave before
 *    what it promises is on disk);
 * 3. restore the state machine from `snapshot` if any, then apply
 *    `committedEntries` in order, and serve `readStates` once their index is applied;
 * 4. call `advance()`.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly snapshot?: Snapshot;
  readonly entries: readonly Entry[];
  readonly messages: readonly OutMessage[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

/** A membership change carried in a `conf` entry. `voters` is the configuration it creates. */
export interface ConfChange {
  readonly type: 'add' | 'remove';
  readonly node: NodeId;
  readonly voters: readonly NodeId[];
}

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | {
      readonly ok: false;
      readonly reason: 'NOT_LEADER' | 'TRANSFERRING' | 'CONF_CHANGE_PENDING' | 'INVALID_CONF_CHANGE' | 'NOT_READY';
      /** Where to retry, when known. */
      readonly lead: NodeId | null;
    };

export interface RaftOptions {
  readonly id: NodeId;
  /** The bootstrap configuration, used when neither the snapshot nor the log has one. Empty for a node waiting to be added. */
  readonly voters: readonly NodeId[];
  /** Ticks without a leader's word before a follower campaigns; the actual timeout is drawn from [electionTick, 2 * electionTick). */
  readonly electionTick: number;
  readonly heartbeatTick: number;
  /** Uniform in [0, 1): the only randomness the core uses, so a seeded source replays a run. */
  readonly random: () => number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  /**
   * 'safe' confirms leadership with a heartbeat round for every read; 'lease' answers
   * at once, relying on CheckQuorum and bounded clock drift (requires checkQuorum).
   */
  readonly readOnly?: 'safe' | 'lease';
  /** Bounds on one AppendEntries; at least one entry is always sent. */
  readonly maxEntriesPerAppend?: number;
  readonly maxBytesPerAppend?: number;
  /** Appends in flight to one follower before the leader waits for acknowledgements. */
  readonly maxInflight?: number;
  readonly snapshotChunkBytes?: number;
  /** What the driver recovered from disk. */
  readonly restore?: {
    readonly hardState?: HardState;
    readonly snapshot?: Snapshot;
    readonly entries?: readonly Entry[];
  };
  /** The last index already reflected in the state machine at start (defaults to the snapshot's). */
  readonly applied?: number;
}

export class RaftInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RaftInvariantError';
  }
}
