// Which actors one process hosts, and how: each as a nact actor whose mailbox
// feeds Actor.receive one envelope at a time, with the process's WsNetwork
// carrying envelopes to and from other processes. Envelopes between two nodes
// of the same process are encoded and decoded too, so there is one code path.
import { dispatch, spawnStateless, start as startNact, stop as stopNact, type Ref } from 'nact';
import { K, type Conf } from '../conf.js';
import type { Actor, Env, LogLevel, Logger, NodeId } from '../env.js';
import type { Envelope } from '../protocol/envelope.js';
import { createLogger, createRealEnv, randomHex, type RealEnv } from '../../transport/real-env.js';
import { WsNetwork, type TransportStats, type WsNetworkOptions } from '../../transport/ws-network.js';
import { startWebServer, type WebServer } from '../../transport/metrics-http.js';
import { metricsOf } from '../metrics.js';
import { OPS_REQUESTS, type OpsRequest } from '../protocol/ops.js';
import { toStrataError } from '../rpc.js';
import { answerOps } from './ops-service.js';

/** What an actor may want to know about the process hosting it. */
export interface HostInfo {
  /** ws://host:port when the process listens; undefined for a client-only process. */
  readonly address: string | undefined;
}

export interface HostedNode {
  id: NodeId;
  /** This node's own storage: journal, block files, key-value stores. */
  dataDir: string;
  create: (env: Env, host: HostInfo) => Actor;
}

export interface NodeHostOptions {
  conf: Conf;
  listen?: { host: string; port: number };
  /** The web port: Prometheus metrics at /metrics (strata.master.web.port, strata.worker.web.port). */
  web?: { host: string; port: number };
  nodes: HostedNode[];
  /** Defaults to strata.logger.level. */
  logLevel?: LogLevel;
  /** Who may use the operations service's administrative requests (with the supergroup): the user running the process. */
  superuser?: string;
  logSink?: (line: string) => void;
  /** Peer addresses known before any actor starts. */
  peers?: Readonly<Record<NodeId, string>>;
  /** Transport tuning (tests); cluster id, secret and frame limit come from `conf`. */
  network?: Omit<WsNetworkOptions, 'clusterId' | 'clusterSecret' | 'maxFrameBytes' | 'log'>;
}

export interface HostStats {
  nodes: NodeId[];
  delivered: number;
  actorErrors: number;
  transport: TransportStats;
}

interface Hosted {
  id: NodeId;
  env: RealEnv;
  actor: Actor;
  ref: Ref<Envelope[]>;
  started: boolean;
  open: () => void;
}

function actorName(id: NodeId, i: number): string {
  // nact names are restricted to URL-safe characters; ids are not.
  return `n${i}-${id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export class NodeHost implements HostInfo {
  private readonly hosted = new Map<NodeId, Hosted>();
  private delivered = 0;
  private actorErrors = 0;
  private stopping: Promise<void> | undefined;
  private web: WebServer | undefined;

  private constructor(
    readonly network: WsNetwork,
    private readonly system: ReturnType<typeof startNact>,
    private readonly log: Logger,
    private readonly conf: Conf,
    private readonly superuser: string,
  ) {}

  /** The port serving /metrics, when the host has a web port. */
  get webPort(): number | undefined {
    return this.web?.port;
  }

  get address(): string | undefined {
    return this.network.address;
  }

  static async start(opts: NodeHostOptions): Promise<NodeHost> {
    const { conf } = opts;
    const logLevel = opts.logLevel ?? (conf.str(K.logLevel) as LogLevel);
    const hostLog = createLogger('transport', logLevel, opts.logSink);
    const ids = new Set<NodeId>();
    for (const n of opts.nodes) {
      if (ids.has(n.id)) throw new Error(`node ${n.id} is listed twice`);
      ids.add(n.id);
    }
    const network = new WsNetwork({
      ...opts.network,
      clusterId: conf.str(K.clusterId),
      clusterSecret: conf.str(K.clusterSecret),
      maxFrameBytes: conf.bytes(K.maxFrameBytes),
      log: (level, msg, fields) => hostLog.log(level, msg, fields),
    });
    const host = new NodeHost(network, startNact(), hostLog, conf, opts.superuser ?? 'strata');
    try {
      opts.nodes.forEach((n, i) => host.add(n, i, logLevel, opts.logSink));
      if (opts.listen) await network.listen(opts.listen.host, opts.listen.port);
      // Metrics are not worth refusing to serve data for: a busy web port is logged, and the node runs on.
      if (opts.web) {
        host.web = await startWebServer(opts.web.host, opts.web.port, () => [...host.hosted.values()].map((h) => [h.id, metricsOf(h.env)] as const)).catch((e: unknown) => {
          hostLog.log('error', `no metrics web server: ${(e as Error).message}`);
          return undefined;
        });
      }
      for (const [id, addr] of Object.entries(opts.peers ?? {})) network.learnAddress(id, addr);
      for (const n of opts.nodes) {
        const h = host.hosted.get(n.id)!;
        h.actor = n.create(h.env, host);
        await h.actor.start();
        h.started = true;
        h.open();
      }
    } catch (e) {
      await host.shutdown();
      throw e;
    }
    return host;
  }

  private add(node: HostedNode, i: number, logLevel: LogLevel, logSink: ((line: string) => void) | undefined): void {
    let open!: () => void;
    // Envelopes that arrive before the actor has started wait in its mailbox.
    const gate = new Promise<void>((resolve) => (open = resolve));
    const env = createRealEnv({ self: node.id, network: this.network, dataDir: node.dataDir, logLevel, ...(logSink ? { logSink } : {}) });
    const ref = spawnStateless(
      this.system,
      async (batch: Envelope[]) => {
        await gate;
        const h = this.hosted.get(node.id);
        if (!h || !h.started) return;
        for (const envelope of batch) {
          this.delivered++;
          if (envelope.re === undefined && envelope.id !== 0 && OPS_REQUESTS.has(envelope.m.t)) {
            this.answerOps(node.id, env, envelope);
            continue;
          }
          try {
            h.actor.receive(envelope);
          } catch (e) {
            this.actorErrors++;
            env.log.log('error', 'actor failed to handle a message', { t: envelope.m.t, from: envelope.f, error: (e as Error).message });
          }
        }
      },
      actorName(node.id, i),
    );
    const placeholder: Actor = { start: async () => {}, receive: () => {}, stop: async () => {} };
    this.hosted.set(node.id, { id: node.id, env, actor: placeholder, ref, started: false, open });
    // nact runs each mailbox message in its own turn of the event loop.
    // One message per envelope made every reply its own turn, and so its own socket
    // write on each side; the envelopes of one socket read go to the mailbox as one
    // batch instead, handled in order, so what they cause leaves in one write.
    let batch: Envelope[] | undefined;
    this.network.addLocal(node.id, (envelope) => {
      if (batch) {
        batch.push(envelope);
        return;
      }
      batch = [envelope];
      queueMicrotask(() => {
        const b = batch!;
        batch = undefined;
        dispatch(ref, b);
      });
    });
  }

  private answerOps(id: NodeId, env: Env, req: Envelope): void {
    const reply = (m: Envelope['m']) => this.network.send(req.f, { f: id, to: req.f, id: 0, re: req.id, m });
    answerOps(this.conf, this.superuser, id, env, req as Envelope<OpsRequest>).then(reply, (e: unknown) => reply(toStrataError(e).toReply()));
  }

  learnAddress(id: NodeId, address: string): void {
    this.network.learnAddress(id, address);
  }

  /** Makes (or reuses) the link to a peer process; rejects with a StrataError saying why not. */
  connect(address: string, retryForMs = 0): Promise<void> {
    return this.network.connect(address, retryForMs);
  }

  /** The hosted Actor object, for in-process clients and tests. */
  actor(id: NodeId): Actor {
    const h = this.hosted.get(id);
    if (!h) throw new Error(`node ${id} is not hosted here (hosted: ${[...this.hosted.keys()].join(', ')})`);
    return h.actor;
  }

  env(id: NodeId): Env {
    const h = this.hosted.get(id);
    if (!h) throw new Error(`node ${id} is not hosted here`);
    return h.env;
  }

  nodes(): NodeId[] {
    return [...this.hosted.keys()];
  }

  stats(): HostStats {
    return { nodes: this.nodes(), delivered: this.delivered, actorErrors: this.actorErrors, transport: this.network.stats() };
  }

  /** Stops every actor (they sync their files), closes links, releases storage. Idempotent. */
  shutdown(): Promise<void> {
    this.stopping ??= this.doShutdown();
    return this.stopping;
  }

  private async doShutdown(): Promise<void> {
    const all = [...this.hosted.values()].reverse();
    for (const h of all) {
      if (!h.started) continue;
      h.started = false;
      try {
        await h.actor.stop();
      } catch (e) {
        this.log.log('error', 'actor failed to stop cleanly', { node: h.id, error: (e as Error).message });
      }
    }
    await this.web?.close();
    for (const h of all) this.network.removeLocal(h.id);
    await this.network.close();
    for (const h of all) {
      h.open();
      await h.env.dispose().catch((e: unknown) => this.log.log('error', 'failed to release storage', { node: h.id, error: (e as Error).message }));
    }
    stopNact(this.system);
  }
}

export interface ClientHostOptions {
  conf: Conf;
  create: (env: Env, host: HostInfo) => Actor;
  /** Defaults to client-<random hex>. */
  id?: NodeId;
  dataDir: string;
  peers?: Readonly<Record<NodeId, string>>;
  logLevel?: LogLevel;
  logSink?: (line: string) => void;
}

/** A process that only dials out: one client node, no listening port. */
export function startClientHost(opts: ClientHostOptions): Promise<NodeHost> {
  const id = opts.id ?? `client-${randomHex()}`;
  return NodeHost.start({
    conf: opts.conf,
    nodes: [{ id, dataDir: opts.dataDir, create: opts.create }],
    ...(opts.peers ? { peers: opts.peers } : {}),
    ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
    ...(opts.logSink ? { logSink: opts.logSink } : {}),
  });
}
