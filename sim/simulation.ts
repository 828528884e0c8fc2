// The deterministic event loop: a virtual clock, a queue of events ordered by
// (time, seq), and a run loop that fires one event at a time and lets every
// promise continuation it caused settle before the next. Nothing real (wall
// time, I/O, real randomness) decides what happens next, so a seed replays bit
// for bit, and the trace hash proves it.
import { EventQueue } from './queue.js';
import { hashString32 } from './prng.js';

export type EventKind = 'timer' | 'deliver' | 'disk' | 'ufs' | 'nemesis' | 'scenario' | 'internal';

const KIND_CODE: Record<EventKind, number> = { timer: 1, deliver: 2, disk: 3, ufs: 4, nemesis: 5, scenario: 6, internal: 7 };

export interface Handle {
  /** Virtual time at which the event fires. */
  readonly time: number;
  cancel(): void;
}

interface CancelSink {
  noteCancel(): void;
}

class SimEvent implements Handle {
  cancelled = false;
  constructor(
    readonly time: number,
    readonly seq: number,
    readonly kind: EventKind,
    readonly label: string,
    readonly fn: () => void,
    private readonly sink: CancelSink,
  ) {}
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.sink.noteCancel();
  }
}

/**
 * A 64-bit running hash kept as two 32-bit lanes (FNV-1a over words, and a
 * murmur3-style mix), because JS has no cheap 64-bit multiply. Each FNV step is
 * a bijection of the state, so a single differing word always shows.
 */
export class TraceHash {
  private h1 = 0x811c9dc5 | 0;
  private h2 = 0x9747b28c | 0;
  private readonly f64 = new Float64Array(1);
  private readonly u32 = new Uint32Array(this.f64.buffer);
  private readonly strings = new Map<string, number>();

  word(w: number): void {
    this.h1 = Math.imul(this.h1 ^ w, 0x01000193);
    let k = Math.imul(w, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    let h = this.h2 ^ Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    this.h2 = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }

  num(x: number): void {
    if (x >>> 0 === x) {
      this.word(x);
      return;
    }
    this.f64[0] = x;
    this.word(this.u32[0]!);
    this.word(this.u32[1]!);
  }

  str(s: string): void {
    let h = this.strings.get(s);
    if (h === undefined) {
      h = hashString32(s);
      // Labels are mostly a fixed vocabulary; the cap only guards against unbounded ones.
      if (this.strings.size > 50_000) this.strings.clear();
      this.strings.set(s, h);
    }
    this.word(h);
  }

  hex(): string {
    // Finalize copies so the running state is untouched and hex() can be called mid-run.
    let a = this.h1;
    a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
    a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35);
    a ^= a >>> 16;
    let b = this.h2;
    b = Math.imul(b ^ (b >>> 16), 0x85ebca6b);
    b = Math.imul(b ^ (b >>> 13), 0xc2b2ae35);
    b ^= b >>> 16;
    return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
  }
}

/** A bounded log of what happened, printed when a run fails. */
export class LogRing {
  private readonly buf: string[] = [];
  private next = 0;
  constructor(readonly capacity = 2000) {}
  push(line: string): void {
    if (this.buf.length < this.capacity) this.buf.push(line);
    else this.buf[this.next] = line;
    this.next = (this.next + 1) % this.capacity;
  }
  lines(): string[] {
    if (this.buf.length < this.capacity) return this.buf.slice();
    return [...this.buf.slice(this.next), ...this.buf.slice(0, this.next)];
  }
}

/** What a run reports when it stops for a reason other than failure. */
export interface RunOutcome {
  reason: 'until' | 'stopWhen' | 'maxEvents' | 'idle';
  events: number;
}

export interface RunOptions {
  /** Absolute virtual time (ms) to stop at; the clock is advanced to it. */
  until?: number;
  /** Virtual ms from now; combined with `until` by taking the earlier. */
  for?: number;
  /** Checked after every event once its continuations have settled. */
  stopWhen?: () => boolean;
  maxEvents?: number;
}

/** A run's first failure; `run()` and `settle()` reject with it. */
export class SimFailure extends Error {
  constructor(
    readonly reason: string,
    readonly at: number,
    readonly detail?: string,
  ) {
    super(reason);
    this.name = 'SimFailure';
  }
}

export function describeError(e: unknown): string {
  if (e instanceof SimFailure) return e.reason;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** How many events fire between yields to the real event loop (which never affect the run). */
const YIELD_EVERY = 4096;

export class Simulation {
  private readonly queue = new EventQueue<SimEvent>();
  private seq = 0;
  private cancelledInQueue = 0;
  private readonly sink: CancelSink = { noteCancel: () => this.noteCancel() };
  private running = false;
  private _now = 0;
  private _events = 0;
  private _failure: SimFailure | undefined;
  readonly trace = new TraceHash();
  /** How many faults of each kind were traced (crash, drop-loss, partition, torn-write, ...). */
  readonly faultCounts = new Map<string, number>();
  readonly logs: LogRing;

  constructor(opts: { logCapacity?: number } = {}) {
    this.logs = new LogRing(opts.logCapacity ?? 2000);
  }

  /** Virtual milliseconds since the start of the run (fractional). */
  get now(): number {
    return this._now;
  }
  /** Events fired so far. */
  get events(): number {
    return this._events;
  }
  get failure(): SimFailure | undefined {
    return this._failure;
  }
  get pending(): number {
    return this.queue.size;
  }

  schedule(delayMs: number, kind: EventKind, label: string, fn: () => void): Handle {
    if (!(delayMs >= 0)) {
      if (Number.isNaN(delayMs)) throw new RangeError(`schedule(${label}): delay is NaN`);
      delayMs = 0;
    }
    return this.push(this._now + delayMs, kind, label, fn);
  }

  at(time: number, kind: EventKind, label: string, fn: () => void): Handle {
    return this.push(Math.max(time, this._now), kind, label, fn);
  }

  private push(time: number, kind: EventKind, label: string, fn: () => void): Handle {
    const e = new SimEvent(time, this.seq++, kind, label, fn, this.sink);
    this.queue.push(e);
    return e;
  }

  /** Folds a fault (a drop, a crash, a partition, ...) into the trace and the log. */
  traceFault(kind: string, a = '', b: string | number = ''): void {
    this.faultCounts.set(kind, (this.faultCounts.get(kind) ?? 0) + 1);
    const t = this.trace;
    t.word(0xfa017);
    t.num(this._now);
    t.str(kind);
    t.str(a);
    if (typeof b === 'number') t.num(b);
    else t.str(b);
  }

  log(line: string): void {
    this.logs.push(`${this._now.toFixed(3).padStart(12)} ${line}`);
  }

  /** Records the run's first failure and stops it; later failures only go to the log. */
  fail(reason: unknown, detail?: string): SimFailure {
    const text = describeError(reason).replace(/\s*\n\s*/g, ' | ');
    const stack = reason instanceof SimFailure ? reason.detail : reason instanceof Error ? reason.stack : undefined;
    this.log(`FAIL ${text}${stack ? `\n${stack}` : ''}`);
    if (!this._failure) this._failure = reason instanceof SimFailure ? reason : new SimFailure(text, this._now, detail ?? stack);
    return this._failure;
  }

  /** Records an exception thrown by a node's code (or a checker it called) as the run's failure. */
  failFrom(node: string, where: string, e: unknown): SimFailure {
    if (e instanceof SimFailure) return this.fail(e);
    const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return this.fail(new SimFailure(`${node} threw in ${where}: ${what}`.replace(/\s*\n\s*/g, ' | '), this._now, e instanceof Error ? e.stack : undefined));
  }

  /**
   * Fires events until a stop condition holds. After each event the loop waits
   * for the microtask queue to drain completely: the next step is queued as a
   * process.nextTick from a microtask, and Node runs ticks only once V8 has
   * emptied the microtask queue (including continuations queued while draining).
   * That costs a fraction of a setImmediate round trip; every few thousand events
   * the loop still yields to the real event loop so the process stays responsive.
   */
  run(opts: RunOptions = {}): Promise<RunOutcome> {
    if (this.running) return Promise.reject(new Error('Simulation.run() is already in progress'));
    if (this._failure) return Promise.reject(this._failure);
    this.running = true;
    const until = Math.min(opts.until ?? Number.POSITIVE_INFINITY, opts.for !== undefined ? this._now + opts.for : Number.POSITIVE_INFINITY);
    const stopWhen = opts.stopWhen;
    const maxEvents = opts.maxEvents ?? Number.POSITIVE_INFINITY;
    return new Promise<RunOutcome>((resolve, reject) => {
      let fired = 0;
      const finish = (reason: RunOutcome['reason']): void => {
        this.running = false;
        if (this._failure) reject(this._failure);
        else resolve({ reason, events: fired });
      };
      const step = (): void => {
        if (this._failure) return finish('idle');
        if (stopWhen !== undefined) {
          let stop: boolean;
          try {
            stop = stopWhen();
          } catch (e) {
            this.fail(e);
            return finish('idle');
          }
          if (stop) return finish('stopWhen');
        }
        if (fired >= maxEvents) return finish('maxEvents');
        const e = this.nextLive();
        if (e === undefined) {
          if (until !== Number.POSITIVE_INFINITY) this._now = until;
          return finish('idle');
        }
        if (e.time > until) {
          this._now = until;
          return finish('until');
        }
        this.queue.pop();
        // Marks it spent so a late cancel() does not count it as waiting in the heap.
        e.cancelled = true;
        this._now = e.time;
        fired++;
        this._events++;
        const t = this.trace;
        t.word(KIND_CODE[e.kind]);
        t.num(e.time);
        t.str(e.label);
        try {
          e.fn();
        } catch (err) {
          this.fail(err);
        }
        if (fired % YIELD_EVERY === 0) setImmediate(step);
        else queueMicrotask(tick);
      };
      const tick = (): void => {
        process.nextTick(step);
      };
      // Start from a clean macrotask so whatever the caller is still doing settles first.
      setImmediate(step);
    });
  }

  /** Runs until `p` settles and returns its result (or rejects with its error). */
  async settle<T>(p: Promise<T>, opts: { timeoutMs?: number; maxEvents?: number } = {}): Promise<T> {
    let state: { ok: true; v: T } | { ok: false; e: unknown } | undefined;
    p.then(
      (v) => (state = { ok: true, v }),
      (e: unknown) => (state = { ok: false, e }),
    );
    const start = this._now;
    const out = await this.run({
      stopWhen: () => state !== undefined,
      ...(opts.timeoutMs !== undefined ? { until: start + opts.timeoutMs } : {}),
      ...(opts.maxEvents !== undefined ? { maxEvents: opts.maxEvents } : {}),
    });
    // The promise may settle in the same drain that emptied the queue.
    if (state === undefined) await Promise.resolve();
    if (state === undefined) {
      const why =
        out.reason === 'idle'
          ? 'deadlock: no events left while waiting for a promise'
          : out.reason === 'until'
            ? `timed out after ${opts.timeoutMs} virtual ms`
            : `gave up after ${out.events} events`;
      throw new SimFailure(why, this._now);
    }
    const s = state as { ok: true; v: T } | { ok: false; e: unknown };
    if (s.ok) return s.v;
    throw s.e;
  }

  private nextLive(): SimEvent | undefined {
    for (;;) {
      const e = this.queue.peek();
      if (e === undefined || !e.cancelled) return e;
      this.queue.pop();
      this.cancelledInQueue--;
    }
  }

  private noteCancel(): void {
    // Cancelled events normally just wait to be skipped; when they dominate the
    // heap (many cancelled deadlines) dropping them keeps pushes and pops cheap.
    if (++this.cancelledInQueue > 4096 && this.cancelledInQueue * 2 > this.queue.size) {
      this.queue.filter((e) => !e.cancelled);
      this.cancelledInQueue = 0;
    }
  }
}
