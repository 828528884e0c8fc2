// Talking to "the master" when there may be several: requests go to the master
// believed to lead; a NOT_LEADER refusal names the leader to try next, and a
// master that does not answer is passed over for the next one. Clients and
// workers share this, so both follow a failover the same way.
import type { Env, NodeId } from './env.js';
import { StrataError, isNotLeader, isStrataError, type Message } from './protocol/envelope.js';
import type { Rpc } from './rpc.js';

/** Refusals after which another master, or the same one a moment later, may succeed. */
function retryable(e: StrataError): boolean {
  return e.code === 'UNAVAILABLE' || e.code === 'DEADLINE_EXCEEDED';
}

export class MasterChannel {
  private leaderIndex = 0;
  private readonly masters: readonly NodeId[];

  constructor(
    private readonly env: Env,
    private readonly rpc: Rpc,
    masters: readonly NodeId[],
    /** How long one call keeps retrying across masters before giving up. */
    private readonly retryForMs: number,
  ) {
    if (masters.length === 0) throw new StrataError('INVALID_ARGUMENT', 'no master addresses configured');
    this.masters = masters;
  }

  /** The master requests go to now. */
  get current(): NodeId {
    return this.masters[this.leaderIndex]!;
  }

  /** Follows a refusal: to the named leader if known, else to the next master. */
  moveOn(e: StrataError): void {
    const hinted = e.leader ? this.masters.indexOf(e.leader) : -1;
    this.leaderIndex = hinted >= 0 ? hinted : (this.leaderIndex + 1) % this.masters.length;
  }

  /**
   * Sends `m` to the leader, retrying on other masters (or the same one after a
   * pause) while the answer is NOT_LEADER, UNAVAILABLE or no answer. Mutations
   * must carry a request id so a retry of an applied request is not applied again.
   */
  async call<T extends Message>(m: Message & Record<string, unknown>, expect: T['t'], timeoutMs?: number): Promise<T> {
    const giveUpAt = this.env.now() + this.retryForMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.rpc.request<T>(this.current, m, expect, timeoutMs);
      } catch (e) {
        if (!isStrataError(e) || !retryable(e) || this.env.now() >= giveUpAt) throw e;
        const hinted = isNotLeader(e) && e.leader !== undefined && e.leader !== this.current;
        this.moveOn(e);
        // A named leader is tried at once; otherwise back off a little, growing, with
        // jitter, but never long: an election takes well under a second, and a client
        // asleep when it ends adds its whole sleep to the failover.
        if (!hinted) await this.pause(Math.min(250, 25 * 2 ** Math.min(attempt, 4)) * (0.5 + this.env.random() / 2));
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => this.env.setTimer(ms, resolve));
  }
}
