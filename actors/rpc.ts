// Request/reply and streams over the Env's fire-and-forget sends: correlation
// ids, deadlines (DEADLINE_EXCEEDED), and errors as values. Written against the
// Env so the same code runs on a real host and in the simulator.
import type { Env, NodeId, Timer } from './env.js';
import { StrataError, isStrataError, type Envelope, type ErrorReply, type Message } from './protocol/envelope.js';
import { METRIC, metricsOf } from './metrics.js';

interface Pending {
  to: NodeId;
  expect: string;
  resolve(m: Message): void;
  reject(e: StrataError): void;
  timer: Timer;
  timeoutMs: number;
  /** For streams: called per frame; returns true when the stream is complete. */
  onFrame?: (m: Message) => boolean;
}

export interface StreamHandle {
  readonly id: number;
  readonly done: Promise<void>;
  cancel(reason?: string): void;
}

export class Rpc {
  private nextId: number;
  private readonly pending = new Map<number, Pending>();
  private stopped = false;
  /** Who this node's requests act for; clients set it, servers leave it unset. */
  identity: { user: string; groups: readonly string[] } | undefined;

  constructor(
    private readonly env: Env,
    private readonly defaultTimeoutMs: number,
  ) {
    // A random start keeps ids of a restarted node from matching replies meant for its previous life.
    this.nextId = 1 + Math.floor(env.random() * 2 ** 40);
    env.onPeerDown?.((node, reason) => this.failPeer(node, reason));
  }

  get self(): NodeId {
    return this.env.self;
  }

  /** Starts timing a served request; the returned function records it (with the error code when it failed). */
  timeServe(op: string): (code?: string) => void {
    const start = this.env.now();
    return (code) => {
      const m = metricsOf(this.env);
      m.observe(METRIC.rpcServer, (this.env.now() - start) / 1000, { op });
      if (code) m.inc(METRIC.rpcServerErrors, 1, { op, code });
    };
  }

  /** One-way message; `re` makes it part of a stream or a late answer. */
  send<S extends Message>(to: NodeId, m: S, re?: number): void {
    if (this.stopped) return;
    const env: Envelope = { f: this.env.self, to, id: 0, m };
    if (re !== undefined) env.re = re;
    this.env.send(to, env);
  }

  request<T extends Message, S extends Message = Message>(to: NodeId, m: S, expect: T['t'], timeoutMs = this.defaultTimeoutMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.open(to, m, expect, timeoutMs, resolve as (m: Message) => void, reject);
    });
  }

  /**
   * Sends a request answered by several frames. `onFrame` sees each one (the idle
   * deadline restarts with every frame) and returns true on the last.
   */
  stream<S extends Message>(to: NodeId, m: S, expect: string, idleTimeoutMs: number, onFrame: (m: Message) => boolean): StreamHandle {
    let id = 0;
    const done = new Promise<void>((resolve, reject) => {
      id = this.open(to, m, expect, idleTimeoutMs, () => resolve(), reject, onFrame);
    });
    return {
      id,
      done,
      cancel: (reason = 'cancelled') => this.fail(id, new StrataError('FAILED_PRECONDITION', reason)),
    };
  }

  private open(
    to: NodeId,
    m: Message,
    expect: string,
    timeoutMs: number,
    resolve: (m: Message) => void,
    reject: (e: StrataError) => void,
    onFrame?: (m: Message) => boolean,
  ): number {
    const id = this.nextId++;
    if (this.stopped) {
      reject(new StrataError('UNAVAILABLE', `${this.env.self} is shutting down`));
      return id;
    }
    const p: Pending = { to, expect, resolve, reject, timeoutMs, timer: this.deadline(id, to, m.t, timeoutMs), ...(onFrame ? { onFrame } : {}) };
    this.pending.set(id, p);
    const env: Envelope = { f: this.env.self, to, id, ttl: timeoutMs, m };
    if (this.identity) {
      env.u = this.identity.user;
      env.g = [...this.identity.groups];
    }
    this.env.send(to, env);
    return id;
  }

  private deadline(id: number, to: NodeId, what: string, ms: number): Timer {
    return this.env.setTimer(ms, () => this.fail(id, new StrataError('DEADLINE_EXCEEDED', `${what} to ${to} got no answer within ${ms} ms`)));
  }

  private fail(id: number, e: StrataError): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.timer.cancel();
    p.reject(e);
  }

  /** Routes replies and stream frames; returns false for envelopes that are requests or one-way messages. */
  handle(env: Envelope): boolean {
    if (env.re === undefined || env.re === 0) return false;
    const p = this.pending.get(env.re);
    // A late, duplicated or misaddressed answer: nothing waits for it any more.
    if (!p || p.to !== env.f) return true;
    if (env.m.t === 'Error') {
      const er = env.m as ErrorReply;
      this.fail(env.re, new StrataError(er.code, er.message, er.leader ?? undefined));
      return true;
    }
    if (env.m.t !== p.expect) {
      this.fail(env.re, new StrataError('INTERNAL', `expected ${p.expect} from ${env.f}, got ${env.m.t}`));
      return true;
    }
    if (p.onFrame) {
      p.timer.cancel();
      let last: boolean;
      try {
        last = p.onFrame(env.m);
      } catch (e) {
        this.fail(env.re, isStrataError(e) ? e : new StrataError('INTERNAL', String(e)));
        return true;
      }
      if (last) {
        this.pending.delete(env.re);
        p.resolve(env.m);
      } else {
        p.timer = this.deadline(env.re, p.to, p.expect, p.timeoutMs);
      }
      return true;
    }
    this.pending.delete(env.re);
    p.timer.cancel();
    p.resolve(env.m);
    return true;
  }

  /** Whether `env` answers a request this Rpc is waiting on (for hosts that run several Rpcs on one node). */
  expects(env: Envelope): boolean {
    return env.re !== undefined && this.pending.has(env.re);
  }

  reply<S extends Message>(req: Envelope, m: S): void {
    if (req.id === 0) return;
    this.send(req.f, m, req.id);
  }

  replyError(req: Envelope, e: unknown): void {
    this.reply(req, toStrataError(e).toReply());
  }

  /** Fails every outstanding request to `node` at once (e.g. it was declared dead). */
  failPeer(node: NodeId, reason: string): void {
    for (const [id, p] of [...this.pending]) if (p.to === node) this.fail(id, new StrataError('UNAVAILABLE', reason));
  }

  stop(): void {
    this.stopped = true;
    for (const id of [...this.pending.keys()]) this.fail(id, new StrataError('UNAVAILABLE', `${this.env.self} is shutting down`));
  }
}

export function toStrataError(e: unknown): StrataError {
  if (isStrataError(e)) return e;
  if (e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    const code = (e as { code: string }).code;
    if (code === 'ENOENT') return new StrataError('NOT_FOUND', e.message);
    if (code === 'ENOSPC') return new StrataError('RESOURCE_EXHAUSTED', e.message);
    if (code === 'EACCES' || code === 'EINVAL') return new StrataError('INVALID_ARGUMENT', e.message);
    if (code === 'EEXIST') return new StrataError('ALREADY_EXISTS', e.message);
  }
  return new StrataError('INTERNAL', e instanceof Error ? e.message : String(e));
}

/**
 * Dispatches requests to handlers by message type; a handler's result is the
 * reply, a thrown error becomes an Error reply. Shared by every server actor.
 */
export type Handler = (req: Envelope) => Promise<Message | void> | Message | void;

export function serve(rpc: Rpc, handlers: ReadonlyMap<string, Handler>, env: Envelope, onInternal: (e: unknown) => void): void {
  if (rpc.handle(env)) return;
  const h = handlers.get(env.m.t);
  if (!h) {
    rpc.replyError(env, new StrataError('INVALID_ARGUMENT', `${rpc.self} does not serve ${env.m.t}`));
    return;
  }
  const done = rpc.timeServe(env.m.t);
  let out: Promise<Message | void> | Message | void;
  try {
    out = h(env);
  } catch (e) {
    done(reportError(rpc, env, e, onInternal));
    return;
  }
  if (out instanceof Promise) {
    out.then(
      (m) => {
        done();
        if (m) rpc.reply(env, m);
      },
      (e: unknown) => done(reportError(rpc, env, e, onInternal)),
    );
  } else {
    done();
    if (out) rpc.reply(env, out);
  }
}

function reportError(rpc: Rpc, env: Envelope, e: unknown, onInternal: (e: unknown) => void): string {
  const se = toStrataError(e);
  if (se.code === 'INTERNAL') onInternal(e);
  rpc.replyError(env, se);
  return se.code;
}

/**
 * Answers a duplicated request (the network may deliver one twice) with the
 * first answer instead of running it again: a mutation applied twice, or one
 * that failed and then succeeded on its duplicate, would break linearizability.
 * Entries live `ttlMs`; a duplicate cannot outlive the connection it came on,
 * and a restarted process never sees messages sent to its previous life.
 */
export class ReplyCache {
  private readonly entries = new Map<string, { at: number; result: Promise<Message | void> }>();

  constructor(
    private readonly now: () => number,
    private readonly ttlMs: number,
    private readonly maxEntries = 200_000,
  ) {}

  wrap(handler: Handler): Handler {
    return (req: Envelope) => {
      if (req.id === 0) return handler(req);
      const key = `${req.f}\u0000${req.id}`;
      const hit = this.entries.get(key);
      if (hit) return hit.result;
      this.expire();
      let result: Promise<Message | void>;
      try {
        result = Promise.resolve(handler(req));
      } catch (e) {
        result = Promise.reject(e);
      }
      result.catch(() => undefined);
      this.entries.set(key, { at: this.now(), result });
      return result;
    };
  }

  private expire(): void {
    const cutoff = this.now() - this.ttlMs;
    for (const [k, v] of this.entries) {
      if (v.at >= cutoff && this.entries.size < this.maxEntries) break;
      this.entries.delete(k);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
