// WebSocket links between processes. One WsNetwork serves every node hosted by
// one process: it listens on at most one port, dials each peer address at most
// once (all nodes behind that address share the link), and routes by the node
// ids each side declared in the handshake. Local nodes are declared with
// addLocal() before links are made; a node added later is reachable only over
// links set up after it was added.
//
// Messages are fire-and-forget: anything that cannot be sent (no route, queue
// full, link gone) is dropped and counted, and the RPC layer above times out.
// Nothing thrown while handling a socket escapes to the process.
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { IncomingMessage } from 'node:http';
import type { LogLevel, NodeId } from '../actors/env.js';
import { StrataError, type Envelope, type ErrorCode } from '../actors/protocol/envelope.js';
import { decode, decodeParts, encode, encodeParts, tailLengthOf, DEFAULT_MAX_FRAME_BYTES, type DecodeResult } from './codec.js';
import { CLOSE_CODES, ClientHandshake, ServerHandshake, type HandshakeStep, type PeerInfo } from './handshake.js';

export interface TransportStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Frames between two nodes of this process (encoded and decoded all the same). */
  loopbackFrames: number;
  invalidFrames: number;
  oversizedFrames: number;
  errorRepliesSent: number;
  /** Valid envelopes for a node this process does not host. */
  misrouted: number;
  linksOpened: number;
  linksClosed: number;
  /** Links closed because the peer kept sending invalid frames. */
  garbageClosed: number;
  handshakesRefused: number;
  dropped: number;
  reconnects: number;
  /** Currently authenticated links. */
  links: number;
}

export type TransportLog = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

export interface WsNetworkOptions {
  clusterId: string;
  clusterSecret: string;
  maxFrameBytes?: number;
  log?: TransportLog;
  /** Messages held per peer address while its link is being made. */
  queueLimit?: number;
  /** Bytes held per peer address while connecting, and per link while its socket is saturated. */
  queueBytesLimit?: number;
  /** Bytes handed to a socket and not yet written; above this, frames wait in the link's queue. */
  maxBufferedBytes?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  handshakeTimeoutMs?: number;
  /** Consecutive invalid frames tolerated on one link before it is closed. */
  garbageLimit?: number;
  /** Keepalive ping period; a link silent for two periods is dropped. 0 disables. */
  pingIntervalMs?: number;
  /** Tests only: speak another protocol version. */
  protocolVersion?: number;
}

export type Deliver = (envelope: Envelope) => void;

/** An encoded envelope: `head` then, for a message with a large byte field, that field's bytes. */
interface OutFrame {
  head: Uint8Array;
  tail?: Uint8Array | undefined;
}

const frameBytes = (f: OutFrame): number => f.head.byteLength + (f.tail?.byteLength ?? 0);

/**
 * On a link, an envelope with a large byte field travels as two websocket
 * messages: SPLIT_MARKER ‖ head, then the field's bytes, which are thus never
 * copied into a frame buffer on either side. 0xc1 is never the first byte of a
 * msgpack value, so a split head cannot be mistaken for a whole envelope.
 */
const SPLIT_MARKER = 0xc1;

interface Required_ {
  maxFrameBytes: number;
  queueLimit: number;
  queueBytesLimit: number;
  maxBufferedBytes: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  handshakeTimeoutMs: number;
  garbageLimit: number;
  pingIntervalMs: number;
}

class Link {
  readonly nodes: string[];
  private waiting: OutFrame[] = [];
  private waitingBytes = 0;
  private inflight = 0;
  invalidStreak = 0;
  /** A split head waiting for its tail. */
  pendingHead: { head: Uint8Array; length: number } | undefined;
  alive = true;
  closed = false;
  private corked = false;

  constructor(
    readonly net: WsNetwork,
    readonly ws: WebSocket,
    readonly peerLabel: string,
    peer: PeerInfo,
    readonly dialer: Dialer | undefined,
  ) {
    this.nodes = peer.nodes;
  }

  /** Writes now, or queues while the socket is saturated; drops past the queue bound. */
  write(frame: OutFrame): void {
    if (this.closed) {
      this.net.counters.dropped++;
      return;
    }
    if (this.waiting.length === 0 && this.inflight < this.net.opts.maxBufferedBytes) {
      this.push(frame);
      return;
    }
    const n = frameBytes(frame);
    if (this.waitingBytes + n > this.net.opts.queueBytesLimit) {
      this.net.counters.dropped++;
      return;
    }
    this.waiting.push(frame);
    this.waitingBytes += n;
  }

  private push(frame: OutFrame): void {
    if (this.ws.readyState !== WebSocket.OPEN) {
      this.net.counters.dropped++;
      return;
    }
    const n = frameBytes(frame);
    this.inflight += n;
    this.net.counters.framesOut++;
    this.net.counters.bytesOut += n;
    const { head, tail } = frame;
    this.corkUntilIdle();
    if (!tail) {
      this.ws.send(head, { binary: true }, () => this.sent(n));
      return;
    }
    const marked = Buffer.allocUnsafe(head.byteLength + 1);
    marked[0] = SPLIT_MARKER;
    marked.set(head, 1);
    // Corked, the head and the tail leave in one writev instead of two: on a busy
    // host the second system call per chunk (and the lone small TCP segment) cost
    // about a tenth of read throughput (bench/read.ts).
    const socket = (this.ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    socket?.cork();
    this.ws.send(marked, { binary: true });
    this.ws.send(tail, { binary: true }, () => this.sent(n));
    socket?.uncork();
  }

  /**
   * Frames sent in one turn of the event loop leave in one writev: a Raft leader
   * answering hundreds of requests, or a client sending them, otherwise pays a
   * system call (and on loopback the receiver's TCP work) per frame.
   */
  private corkUntilIdle(): void {
    if (this.corked) return;
    const socket = (this.ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (!socket) return;
    this.corked = true;
    socket.cork();
    setImmediate(() => {
      this.corked = false;
      socket.uncork();
    });
  }

  private sent(n: number): void {
    this.inflight -= n;
    this.drain();
  }

  private drain(): void {
    while (!this.closed && this.waiting.length > 0 && this.inflight < this.net.opts.maxBufferedBytes) {
      const f = this.waiting.shift()!;
      this.waitingBytes -= frameBytes(f);
      this.push(f);
    }
  }

  onClosed(): number {
    this.closed = true;
    const lost = this.waiting.length;
    this.waiting = [];
    this.waitingBytes = 0;
    return lost;
  }
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
  deadline: number;
}

/** The outbound side of one peer address: dials, queues while dialing, redials with backoff. */
class Dialer {
  link: Link | undefined;
  private ws: WebSocket | undefined;
  private queue: OutFrame[] = [];
  private queueBytes = 0;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private waiters: Waiter[] = [];
  /** Set once a link was made: from then on a lost link is redialed without waiting for traffic. */
  private wanted = false;
  private everOpened = false;
  stopped = false;

  constructor(
    readonly net: WsNetwork,
    readonly url: string,
  ) {}

  send(frame: OutFrame): void {
    if (this.link && !this.link.closed) {
      this.link.write(frame);
      return;
    }
    const n = frameBytes(frame);
    if (this.queue.length >= this.net.opts.queueLimit || this.queueBytes + n > this.net.opts.queueBytesLimit) {
      this.net.counters.dropped++;
    } else {
      this.queue.push(frame);
      this.queueBytes += n;
    }
    this.ensure();
  }

  connect(retryForMs: number): Promise<void> {
    if (this.link && !this.link.closed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject, deadline: Date.now() + retryForMs });
      this.ensure();
    });
  }

  /** Starts a dial unless one is running or a backoff timer is pending. */
  private ensure(): void {
    if (this.stopped || this.ws || this.retryTimer) return;
    this.dial();
  }

  private dial(): void {
    if (this.stopped) return;
    if (this.everOpened || this.attempt > 0) this.net.counters.reconnects++;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url, {
        maxPayload: this.net.opts.maxFrameBytes,
        perMessageDeflate: false,
        handshakeTimeout: this.net.opts.handshakeTimeoutMs,
        // An all-zero mask, which ws skips on both ends: masking protects browsers'
        // proxies, not links between nodes that prove the cluster secret, and in JS it
        // costs about 3 ms per MiB on each side of every block written.
        generateMask: (mask: Buffer) => void mask.fill(0),
      });
    } catch (e) {
      // A malformed address: no retry will help.
      this.onDown(new StrataError('INVALID_ARGUMENT', `cannot dial ${this.url}: ${(e as Error).message}`), true);
      return;
    }
    this.ws = ws;
    this.net.attach(ws, this.url, new ClientHandshake(this.net.handshakeConfig()), this);
  }

  onUp(link: Link): void {
    this.link = link;
    this.attempt = 0;
    this.wanted = true;
    this.everOpened = true;
    const q = this.queue;
    this.queue = [];
    this.queueBytes = 0;
    for (const f of q) link.write(f);
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w.resolve();
  }

  /** The socket is gone, before or after authentication. `refusal` is set when a handshake failed. */
  onDown(err: StrataError, refused: boolean): void {
    this.ws = undefined;
    this.link = undefined;
    if (this.stopped) return;
    this.net.dialFailed(this.url, err.message);
    const now = Date.now();
    const keep: Waiter[] = [];
    for (const w of this.waiters) {
      if (refused || now >= w.deadline) w.reject(err);
      else keep.push(w);
    }
    this.waiters = keep;
    if (refused) {
      // Retrying will not fix a wrong secret or cluster id; queued messages are lost
      // and the next send (after a backoff) tries again, in case the config changed.
      this.net.counters.dropped += this.queue.length;
      this.queue = [];
      this.queueBytes = 0;
      this.wanted = false;
    }
    const demand = this.wanted || this.queue.length > 0 || this.waiters.length > 0;
    this.attempt++;
    const delay = this.net.backoff(this.attempt);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (demand || this.queue.length > 0 || this.waiters.length > 0) this.dial();
    }, delay);
    this.retryTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.net.counters.dropped += this.queue.length;
    this.queue = [];
    const err = new StrataError('UNAVAILABLE', `connection to ${this.url} closed: transport shut down`);
    for (const w of this.waiters) w.reject(err);
    this.waiters = [];
    if (this.ws && !this.link) this.ws.terminate();
  }
}

const CLOSE_REASON_BYTES = 120;

function truncateReason(s: string): string {
  const b = Buffer.from(s, 'utf8');
  return b.byteLength <= CLOSE_REASON_BYTES ? s : b.subarray(0, CLOSE_REASON_BYTES).toString('utf8');
}

function refusalKindOf(code: number): string | undefined {
  for (const [k, v] of Object.entries(CLOSE_CODES)) if (v === code && k !== 'garbage') return k;
  return undefined;
}

function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class WsNetwork {
  readonly opts: Required_;
  readonly counters: Omit<TransportStats, 'links'> = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    loopbackFrames: 0,
    invalidFrames: 0,
    oversizedFrames: 0,
    errorRepliesSent: 0,
    misrouted: 0,
    linksOpened: 0,
    linksClosed: 0,
    garbageClosed: 0,
    handshakesRefused: 0,
    dropped: 0,
    reconnects: 0,
  };
  private readonly locals = new Map<NodeId, Deliver>();
  private readonly addresses = new Map<NodeId, string>();
  private readonly dialers = new Map<string, Dialer>();
  private readonly routes = new Map<NodeId, Link>();
  private readonly links = new Set<Link>();
  private readonly sockets = new Set<WebSocket>();
  private server: WebSocketServer | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly log: TransportLog;
  /** ws://host:port once listening. */
  address: string | undefined;
  private readonly peerDownListeners: Array<(node: NodeId, reason: string) => void> = [];

  constructor(private readonly cfg: WsNetworkOptions) {
    this.opts = {
      maxFrameBytes: cfg.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      queueLimit: cfg.queueLimit ?? 4096,
      queueBytesLimit: cfg.queueBytesLimit ?? 256 * 1024 * 1024,
      maxBufferedBytes: cfg.maxBufferedBytes ?? 8 * 1024 * 1024,
      backoffInitialMs: cfg.backoffInitialMs ?? 100,
      backoffMaxMs: cfg.backoffMaxMs ?? 5000,
      handshakeTimeoutMs: cfg.handshakeTimeoutMs ?? 10_000,
      garbageLimit: cfg.garbageLimit ?? 32,
      pingIntervalMs: cfg.pingIntervalMs ?? 15_000,
    };
    this.log = cfg.log ?? (() => {});
    if (this.opts.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.ping(), this.opts.pingIntervalMs);
      this.pingTimer.unref();
    }
  }

  /** Hears of peers that became unreachable: their requests in flight will get no answer. */
  onPeerDown(listener: (node: NodeId, reason: string) => void): void {
    this.peerDownListeners.push(listener);
  }

  private peerDown(nodes: Iterable<NodeId>, reason: string): void {
    for (const n of nodes) {
      if (this.locals.has(n) || this.routes.has(n)) continue;
      for (const l of this.peerDownListeners) {
        try {
          l(n, reason);
        } catch (e) {
          this.log('error', 'peer-down listener failed', { node: n, error: (e as Error).message });
        }
      }
    }
  }

  /** A dial to `url` failed: every node known at that address is unreachable for now. */
  dialFailed(url: string, reason: string): void {
    const nodes: NodeId[] = [];
    for (const [n, a] of this.addresses) if (a === url) nodes.push(n);
    this.peerDown(nodes, reason);
  }

  /** Hosts `id` here: envelopes addressed to it are validated and handed to `deliver`. */
  addLocal(id: NodeId, deliver: Deliver): void {
    this.locals.set(id, deliver);
  }

  removeLocal(id: NodeId): void {
    this.locals.delete(id);
  }

  localNodes(): NodeId[] {
    return [...this.locals.keys()];
  }

  handshakeConfig(): { clusterId: string; clusterSecret: string; nodes: string[]; version?: number } {
    return {
      clusterId: this.cfg.clusterId,
      clusterSecret: this.cfg.clusterSecret,
      nodes: this.localNodes(),
      ...(this.cfg.protocolVersion !== undefined ? { version: this.cfg.protocolVersion } : {}),
    };
  }

  backoff(attempt: number): number {
    const base = Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** Math.min(attempt - 1, 30));
    // Half fixed, half random: spreads a crowd of clients redialing a restarted master.
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  /** Listens on host:port (0 picks a free port); resolves to the ws:// address. */
  listen(host: string, port: number): Promise<string> {
    if (this.server) return Promise.reject(new Error('already listening'));
    return new Promise<string>((resolve, reject) => {
      const server = new WebSocketServer({ host, port, maxPayload: this.opts.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
      const onError = (e: Error): void => {
        server.close();
        reject(new StrataError('UNAVAILABLE', `cannot listen on ${host}:${port}: ${e.message}`));
      };
      server.once('error', onError);
      server.once('listening', () => {
        server.off('error', onError);
        server.on('error', (e) => this.log('error', 'transport server error', { error: e.message }));
        const a = server.address();
        const actualPort = typeof a === 'object' && a ? a.port : port;
        const h = host.includes(':') ? `[${host}]` : host;
        this.address = `ws://${h}:${actualPort}`;
        this.server = server;
        resolve(this.address);
      });
      server.on('connection', (ws: WebSocket, req: IncomingMessage) => {
        try {
          if (this.closed) {
            ws.terminate();
            return;
          }
          const label = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
          const hs = new ServerHandshake(this.handshakeConfig());
          this.attach(ws, label, hs, undefined);
          this.sendRaw(ws, hs.start());
        } catch (e) {
          this.log('error', 'failed to accept a link', { error: (e as Error).message });
          ws.terminate();
        }
      });
    });
  }

  learnAddress(node: NodeId, address: string): void {
    if (this.locals.has(node)) return;
    if (!/^wss?:\/\/[^\s/]+/.test(address)) {
      this.log('warn', 'ignoring a peer address that is not ws://host:port', { node, address });
      return;
    }
    this.addresses.set(node, address);
  }

  addressOf(node: NodeId): string | undefined {
    return this.addresses.get(node);
  }

  /** Makes (or reuses) the link to `address`; rejects with a StrataError naming the cause. */
  connect(address: string, retryForMs = 0): Promise<void> {
    if (this.closed) return Promise.reject(new StrataError('UNAVAILABLE', 'transport is closed'));
    return this.dialer(address).connect(retryForMs);
  }

  send(to: NodeId, envelope: Envelope): void {
    if (this.closed) {
      this.counters.dropped++;
      return;
    }
    let frame: OutFrame;
    try {
      frame = encodeParts(envelope);
    } catch (e) {
      this.counters.dropped++;
      this.log('error', 'cannot encode an envelope', { to, t: envelope.m?.t, error: (e as Error).message });
      return;
    }
    this.route(to, frame);
  }

  /** Sends bytes as if they were an encoded envelope (benchmarks and fuzz tests use this). */
  sendFrame(to: NodeId, frame: Uint8Array): void {
    this.route(to, { head: frame });
  }

  private route(to: NodeId, frame: OutFrame): void {
    if (this.locals.has(to)) {
      this.counters.loopbackFrames++;
      const { head, tail } = frame;
      // The tail is copied so sender and receiver never share a buffer, as across processes.
      const copy = tail ? Uint8Array.prototype.slice.call(tail) : undefined;
      setImmediate(() => this.receive(undefined, copy ? decodeParts(head, copy, this.opts.maxFrameBytes) : decode(head, this.opts.maxFrameBytes)));
      return;
    }
    const link = this.routes.get(to);
    if (link && !link.closed) {
      link.write(frame);
      return;
    }
    const addr = this.addresses.get(to);
    if (addr) {
      this.dialer(addr).send(frame);
      return;
    }
    this.counters.dropped++;
    this.log('debug', 'no route to node; message dropped', { to });
  }

  stats(): TransportStats {
    return { ...this.counters, links: this.links.size };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const d of this.dialers.values()) d.stop();
    const waits: Array<Promise<void>> = [];
    for (const ws of this.sockets) {
      waits.push(
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          const t = setTimeout(() => {
            ws.terminate();
            resolve();
          }, 2000);
          t.unref();
          ws.once('close', () => {
            clearTimeout(t);
            resolve();
          });
          if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
          else ws.close(1001, 'shutting down');
        }),
      );
    }
    await Promise.all(waits);
    if (this.server) {
      const s = this.server;
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  private dialer(address: string): Dialer {
    let d = this.dialers.get(address);
    if (!d) {
      d = new Dialer(this, address);
      this.dialers.set(address, d);
    }
    return d;
  }

  private sendRaw(ws: WebSocket, frame: Uint8Array): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(frame, { binary: true }, () => {});
  }

  private refuseAndClose(ws: WebSocket, step: Extract<HandshakeStep, { kind: 'refuse' }>): void {
    if (step.frame) this.sendRaw(ws, step.frame);
    if (ws.readyState === WebSocket.OPEN) ws.close(step.closeCode, truncateReason(step.reason));
    else ws.terminate();
  }

  /**
   * Drives one socket through the handshake and then carries frames. One message
   * listener for the socket's whole life: frames that arrive in the same read as
   * the handshake's last frame are not lost.
   */
  attach(ws: WebSocket, label: string, hs: ServerHandshake | ClientHandshake, dialer: Dialer | undefined): void {
    ws.binaryType = 'nodebuffer';
    this.sockets.add(ws);
    let link: Link | undefined;
    let failure: { err: StrataError; refused: boolean } | undefined;
    const side = dialer ? `handshake refused by ${label}` : `handshake with ${label} refused`;
    const hsTimer = setTimeout(() => {
      if (link || ws.readyState === WebSocket.CLOSED) return;
      this.counters.handshakesRefused++;
      failure = { err: new StrataError('DEADLINE_EXCEEDED', `handshake with ${label} timed out`), refused: false };
      this.log('warn', 'handshake timed out', { peer: label });
      if (ws.readyState === WebSocket.OPEN) ws.close(CLOSE_CODES.timeout, 'handshake timed out');
      else ws.terminate();
    }, this.opts.handshakeTimeoutMs);
    hsTimer.unref();

    ws.on('message', (data: RawData, isBinary: boolean) => {
      try {
        const buf = asBuffer(data);
        if (link) {
          link.alive = true;
          if (!isBinary) {
            this.counters.framesIn++;
            this.counters.bytesIn += buf.byteLength;
            link.pendingHead = undefined;
            this.invalid(link, undefined, new StrataError('INVALID_ARGUMENT', 'text frames are not accepted'));
            return;
          }
          this.onFrame(link, buf);
          return;
        }
        if (failure) return;
        const step = hs.onFrame(buf);
        switch (step.kind) {
          case 'send':
            this.sendRaw(ws, step.frame);
            return;
          case 'refuse':
            this.counters.handshakesRefused++;
            failure = {
              err: new StrataError('PERMISSION_DENIED', dialer ? `handshake with ${label} failed: ${step.reason}` : `${side}: ${step.reason}`),
              refused: true,
            };
            this.log('warn', dialer ? 'refused a server' : 'refused a client', { peer: label, reason: step.reason });
            this.refuseAndClose(ws, step);
            return;
          case 'refused':
            this.counters.handshakesRefused++;
            failure = { err: new StrataError('PERMISSION_DENIED', `${side}: ${step.reason}`), refused: true };
            this.log('warn', 'handshake refused', { peer: label, reason: step.reason });
            ws.close();
            return;
          case 'done': {
            clearTimeout(hsTimer);
            if (step.frame) this.sendRaw(ws, step.frame);
            link = new Link(this, ws, label, step.peer, dialer);
            this.linkUp(link);
            return;
          }
        }
      } catch (e) {
        this.log('error', 'unexpected error handling a frame', { peer: label, error: (e as Error).message });
      }
    });

    ws.on('pong', () => {
      if (link) link.alive = true;
    });

    ws.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.counters.oversizedFrames++;
        this.log('warn', 'oversized frame; closing the link', { peer: label, limit: this.opts.maxFrameBytes });
      } else if (typeof e.code === 'string' && e.code.startsWith('WS_ERR_')) {
        this.counters.invalidFrames++;
        this.log('warn', 'websocket protocol error; closing the link', { peer: label, error: e.message });
      } else {
        this.log(link ? 'warn' : 'debug', 'link error', { peer: label, error: e.message });
      }
      if (!failure && !link) {
        const reason = (e as { code?: string }).code ?? e.message;
        failure = { err: new StrataError('UNAVAILABLE', `cannot connect to ${label}: ${reason}`), refused: false };
      }
    });

    ws.on('close', (code: number, reasonBuf: Buffer) => {
      try {
        clearTimeout(hsTimer);
        this.sockets.delete(ws);
        const reason = reasonBuf.toString('utf8');
        const kind = refusalKindOf(code);
        if (link) {
          const lost = link.onClosed();
          this.counters.dropped += lost;
          this.linkDown(link);
          if (kind) {
            // The peer accepted the Welcome-less side of the exchange but then refused us.
            this.counters.handshakesRefused++;
            this.log('warn', 'peer refused the handshake', { peer: label, reason });
          } else {
            this.log('info', 'link closed', { peer: label, code, ...(reason ? { reason } : {}) });
          }
          dialer?.onDown(new StrataError('UNAVAILABLE', `link to ${label} closed (${code}${reason ? ': ' + reason : ''})`), Boolean(kind));
          return;
        }
        if (!failure) {
          if (kind) {
            this.counters.handshakesRefused++;
            failure = { err: new StrataError('PERMISSION_DENIED', `${side}: ${reason || kind}`), refused: true };
          } else {
            failure = { err: new StrataError('UNAVAILABLE', `connection to ${label} closed during the handshake (${code}${reason ? ': ' + reason : ''})`), refused: false };
          }
        }
        dialer?.onDown(failure.err, failure.refused);
      } catch (e) {
        this.log('error', 'unexpected error closing a link', { peer: label, error: (e as Error).message });
      }
    });
  }

  private linkUp(link: Link): void {
    this.links.add(link);
    this.counters.linksOpened++;
    for (const n of link.nodes) if (!this.locals.has(n)) this.routes.set(n, link);
    this.log('info', 'link up', { peer: link.peerLabel, nodes: link.nodes.join(',') });
    link.dialer?.onUp(link);
  }

  private linkDown(link: Link): void {
    if (!this.links.delete(link)) return;
    this.counters.linksClosed++;
    for (const n of link.nodes) {
      if (this.routes.get(n) !== link) continue;
      this.routes.delete(n);
      // Another live link to the same node (both ends dialed each other) takes over.
      for (const other of this.links) if (other.nodes.includes(n)) this.routes.set(n, other);
    }
    this.peerDown(link.nodes, `connection to ${link.peerLabel} lost`);
  }

  /** One websocket message from an authenticated link. */
  private onFrame(link: Link, frame: Buffer): void {
    this.counters.bytesIn += frame.byteLength;
    const pending = link.pendingHead;
    if (pending) {
      link.pendingHead = undefined;
      if (frame.byteLength === pending.length) {
        this.counters.framesIn++;
        this.receive(link, decodeParts(pending.head, frame, this.opts.maxFrameBytes));
        return;
      }
      this.invalid(link, undefined, new StrataError('INVALID_ARGUMENT', 'split frame without its tail'));
    }
    if (frame.byteLength > 0 && frame[0] === SPLIT_MARKER) {
      const head = frame.subarray(1);
      const length = tailLengthOf(head);
      if (length === undefined) {
        this.counters.framesIn++;
        this.invalid(link, undefined, new StrataError('INVALID_ARGUMENT', 'malformed split frame'));
        return;
      }
      link.pendingHead = { head, length };
      return;
    }
    this.counters.framesIn++;
    this.receive(link, decode(frame, this.opts.maxFrameBytes));
  }

  /** A decoded frame, from a link or from a node of this process (`link` undefined). */
  private receive(link: Link | undefined, res: DecodeResult): void {
    if (!res.ok) {
      this.invalid(link, res.header, res.error);
      return;
    }
    if (link) link.invalidStreak = 0;
    const env = res.envelope;
    const deliver = this.locals.get(env.to);
    if (!deliver) {
      this.counters.misrouted++;
      if (env.id > 0 && env.m.t !== 'Error') {
        this.replyError(link, env.f, env.id, 'UNAVAILABLE', `node ${JSON.stringify(env.to)} is not hosted at ${this.address ?? 'this process'}`);
      }
      return;
    }
    try {
      deliver(env);
    } catch (e) {
      this.log('error', 'actor threw while receiving', { node: env.to, t: env.m.t, error: (e as Error).message });
    }
  }

  private invalid(link: Link | undefined, header: { f: string; id: number } | undefined, error: StrataError): void {
    this.counters.invalidFrames++;
    this.log('debug', 'invalid frame', { peer: link?.peerLabel ?? 'loopback', error: error.message });
    if (header && header.id > 0) this.replyError(link, header.f, header.id, error.code, error.message);
    if (!link) return;
    link.invalidStreak++;
    if (link.invalidStreak > this.opts.garbageLimit && !link.closed) {
      this.counters.garbageClosed++;
      this.log('warn', 'too many invalid frames; closing the link', { peer: link.peerLabel });
      link.ws.close(CLOSE_CODES.garbage, 'too many invalid frames');
    }
  }

  private replyError(link: Link | undefined, to: string, re: number, code: ErrorCode, message: string): void {
    const from = this.localNodes()[0] ?? '';
    const env: Envelope = { f: from, to, id: 0, re, m: { t: 'Error', code, message: message.slice(0, 4096) } as Envelope['m'] };
    this.counters.errorRepliesSent++;
    // Answer on the link the frame came on: the sender's id may not be routable from here.
    if (link) link.write({ head: encode(env) });
    else this.send(to, env);
  }

  private ping(): void {
    for (const link of this.links) {
      if (!link.alive) {
        this.log('warn', 'peer stopped answering pings; dropping the link', { peer: link.peerLabel });
        link.ws.terminate();
        continue;
      }
      link.alive = false;
      try {
        link.ws.ping();
      } catch {
        // The socket is closing; its close handler cleans up.
      }
    }
  }
}
