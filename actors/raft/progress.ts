// What a leader knows about one follower's log, and how it paces replication to it.
// probe: one append at a time until the follower's match point is found (after an
// election or a refusal); replicate: appends are pipelined optimistically, up to a
// window of unacknowledged ones; snapshot: the follower needs entries the leader
// has compacted, so chunks of the snapshot are sent one acknowledgement at a time.

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe: an append is out and no answer has come. */
  probeSent = false;
  /** Last index of each append in flight, oldest first (replicate state). */
  inflight: number[] = [];
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** Highest ReadIndex heartbeat round acknowledged. */
  ackedRound = 0;
  /** In snapshot state: the snapshot being sent and the byte the follower expects next. */
  snapIndex = 0;
  snapOffset = 0;
  /** `match` at the previous heartbeat tick, to spot a pipeline that lost an append. */
  matchAtLastBeat = -1;

  constructor(next: number) {
    this.next = next;
  }

  becomeProbe(): void {
    // After a snapshot the follower holds at least the snapshot, so probing resumes past it.
    this.next = this.state === 'snapshot' ? Math.max(this.match + 1, this.snapIndex + 1) : this.match + 1;
    this.state = 'probe';
    this.probeSent = false;
    this.inflight = [];
    this.snapIndex = 0;
    this.snapOffset = 0;
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.probeSent = false;
    this.inflight = [];
  }

  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.snapIndex = index;
    this.snapOffset = 0;
    this.inflight = [];
    this.probeSent = false;
  }

  /** Records an acknowledged match; false when the answer is stale. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < index + 1) this.next = index + 1;
    while (this.inflight.length > 0 && this.inflight[0]! <= index) this.inflight.shift();
    return updated;
  }

  isPaused(maxInflight: number): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= maxInflight;
      case 'snapshot':
        return true;
    }
  }

  /** Notes an append just sent whose last entry is `last` (or a bare probe when `last` is undefined). */
  sent(last: number | undefined): void {
    if (this.state === 'replicate') {
      if (last !== undefined) {
        this.inflight.push(last);
        this.next = last + 1;
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }
}
