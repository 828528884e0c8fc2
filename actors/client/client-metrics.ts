// The client's metrics heartbeat (Alluxio's client metrics heartbeat): every
// interval, the client sends the leading master its byte counters since it
// started, which the master sums into cluster metrics (strata_cluster_bytes_read_local_total).
// Totals rather than increments, so a lost report or a change of leader loses
// nothing: the next report carries everything.
import type { Env, Timer } from '../env.js';
import { METRIC } from '../metrics.js';
import type * as M from '../protocol/master.js';
import type { Infer } from '../../transport/schema.js';

export interface ReadCounters {
  readonly bytesRead: number;
  readonly bytesReadShortCircuit: number;
}

type Send = (m: Infer<typeof M.ClientMetrics>) => Promise<unknown>;

export class ClientMetricsReporter {
  private timer: Timer | undefined;
  /** The report the master last acknowledged: an unchanged one is not sent again (nor one of nothing read). */
  private acked: string;
  private inFlight: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly env: Env,
    private readonly intervalMs: number,
    private readonly counters: ReadCounters,
    private readonly send: Send,
  ) {
    this.acked = keyOf(this.metrics());
  }

  start(): void {
    this.schedule();
  }

  /**
   * Stops the heartbeat. No last report: a stopping host no longer delivers the
   * master's answer to its actors, so waiting for one would hold up every short
   * CLI command; what was read since the last heartbeat is reported only if
   * `flush` ran first.
   */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /**
   * Sends the counters now and waits for the master's answer, at most `waitMs`:
   * for a short-lived client (a shell command) that ends before its first
   * heartbeat. Call it before the host stops, which would drop the answer.
   */
  async flush(waitMs: number): Promise<void> {
    let timer: Timer | undefined;
    await Promise.race([this.report(), new Promise<void>((r) => (timer = this.env.setTimer(waitMs, r)))]);
    timer?.cancel();
  }

  /** Sends the counters unless the master has them already; one report at a time. */
  report(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const metrics = this.metrics();
    const key = keyOf(metrics);
    if (key === this.acked) return Promise.resolve();
    const p = this.send({ t: 'ClientMetrics', clientId: this.env.self, metrics }).then(
      () => void (this.acked = key),
      // Nothing lost: the next report carries the same totals and more.
      () => undefined,
    );
    this.inFlight = p.finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private metrics(): Array<{ name: string; value: number }> {
    return [
      { name: METRIC.clientBytesReadLocal.name, value: this.counters.bytesReadShortCircuit },
      { name: METRIC.clientBytesReadRemote.name, value: this.counters.bytesRead - this.counters.bytesReadShortCircuit },
    ];
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.env.setTimer(this.intervalMs, () => {
      void this.report().finally(() => this.schedule());
    });
  }
}

const keyOf = (metrics: ReadonlyArray<{ value: number }>): string => metrics.map((m) => m.value).join(',');
