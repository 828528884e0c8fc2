// Raft messages between masters of the embedded journal. The core (actors/raft/)
// produces and consumes exactly these shapes, so what the simulator delivers is
// what the codec validated. Sender and receiver travel in the envelope (f/to), not
// in the message.
import { arr, bool, bytes, msg, obj, oneOf, strMax, uint, type Infer } from '../../transport/schema.js';

/** Largest number of entries one AppendEntries may carry (the core batches below it). */
export const RAFT_MAX_ENTRIES_PER_MESSAGE = 100_000;
/** Largest cluster the protocol admits: bounds the voter list in a snapshot. */
export const RAFT_MAX_VOTERS = 1024;

const nodeId = strMax(256);

/**
 * `noop` is what a new leader appends to commit an entry of its own term; `conf`
 * carries a membership change (see actors/raft/types.ts); `normal` is the state
 * machine's.
 */
export const RaftEntry = obj({
  term: uint,
  index: uint,
  type: oneOf('normal', 'conf', 'noop'),
  data: bytes,
});
export type RaftEntry = Infer<typeof RaftEntry>;

/**
 * A vote or (with `pre`) a pre-vote request. A pre-vote carries the term the sender
 * would campaign in without having moved to it. `transfer` marks a campaign started
 * by TimeoutNow: voters then set aside their leader lease.
 */
export const RaftRequestVote = msg('RaftRequestVote', {
  term: uint,
  lastIndex: uint,
  lastTerm: uint,
  pre: bool,
  transfer: bool,
});
export type RaftRequestVote = Infer<typeof RaftRequestVote>;

/** A granted pre-vote echoes the requested term; a refusal carries the voter's own. */
export const RaftRequestVoteReply = msg('RaftRequestVoteReply', { term: uint, granted: bool, pre: bool });
export type RaftRequestVoteReply = Infer<typeof RaftRequestVoteReply>;

export const RaftAppendEntries = msg('RaftAppendEntries', {
  term: uint,
  prevIndex: uint,
  prevTerm: uint,
  entries: arr(RaftEntry, RAFT_MAX_ENTRIES_PER_MESSAGE),
  commit: uint,
});
export type RaftAppendEntries = Infer<typeof RaftAppendEntries>;

/**
 * On success `index` is the follower's last index matching the leader. On refusal
 * `index` is the refused prevIndex and (hintIndex, hintTerm) is the follower's last
 * entry at or below it whose term is not above prevTerm: the leader skips every
 * entry that cannot match in one round trip rather than one index at a time.
 */
export const RaftAppendEntriesReply = msg('RaftAppendEntriesReply', {
  term: uint,
  success: bool,
  index: uint,
  hintIndex: uint,
  hintTerm: uint,
});
export type RaftAppendEntriesReply = Infer<typeof RaftAppendEntriesReply>;

/**
 * `commit` is capped by what the follower is known to hold, so a heartbeat never
 * commits an entry the follower may not have. `round` confirms ReadIndex requests.
 */
export const RaftHeartbeat = msg('RaftHeartbeat', { term: uint, commit: uint, round: uint });
export type RaftHeartbeat = Infer<typeof RaftHeartbeat>;

export const RaftHeartbeatReply = msg('RaftHeartbeatReply', { term: uint, round: uint });
export type RaftHeartbeatReply = Infer<typeof RaftHeartbeatReply>;

/** One chunk of the snapshot at (index, snapTerm); `size` is the whole snapshot's length. */
export const RaftInstallSnapshot = msg('RaftInstallSnapshot', {
  term: uint,
  index: uint,
  snapTerm: uint,
  voters: arr(nodeId, RAFT_MAX_VOTERS),
  size: uint,
  offset: uint,
  data: bytes,
  done: bool,
});
export type RaftInstallSnapshot = Infer<typeof RaftInstallSnapshot>;

/**
 * `nextOffset` is the byte the follower expects next for the snapshot at `index`;
 * `done` says it installed (or already covers) that snapshot, and then `index` is
 * the follower's commit index.
 */
export const RaftInstallSnapshotReply = msg('RaftInstallSnapshotReply', {
  term: uint,
  index: uint,
  nextOffset: uint,
  done: bool,
});
export type RaftInstallSnapshotReply = Infer<typeof RaftInstallSnapshotReply>;

/** Leadership transfer: the receiver campaigns at once, without a pre-vote. */
export const RaftTimeoutNow = msg('RaftTimeoutNow', { term: uint });
export type RaftTimeoutNow = Infer<typeof RaftTimeoutNow>;

export const RAFT_MESSAGES = [
  RaftRequestVote,
  RaftRequestVoteReply,
  RaftAppendEntries,
  RaftAppendEntriesReply,
  RaftHeartbeat,
  RaftHeartbeatReply,
  RaftInstallSnapshot,
  RaftInstallSnapshotReply,
  RaftTimeoutNow,
] as const;

export type RaftMessage =
  | RaftRequestVote
  | RaftRequestVoteReply
  | RaftAppendEntries
  | RaftAppendEntriesReply
  | RaftHeartbeat
  | RaftHeartbeatReply
  | RaftInstallSnapshot
  | RaftInstallSnapshotReply
  | RaftTimeoutNow;
