// A simulated cluster: named nodes, each an Actor built by a factory over a
// SimEnv, with crash (memory gone, timers dead, unsynced disk writes lost or
// torn, messages in flight to it dropped), clean stop, and restart from the same
// disk. Scenarios reach into nodes through `actor()` to drive clients and check
// state, exactly as a test harness would on real processes.
import type { Actor, Env, LogLevel, NodeId } from '../actors/env.js';
import type { Envelope } from '../actors/protocol/envelope.js';
import { MemDisk } from './disk.js';
import { Device, LOCAL_DISK, SHARED_UFS, SIM_EPOCH_MS, SimEnv, type KvStore, type NodeStorage, type SimHost, type StorageModel } from './env.js';
import type { Network } from './network.js';
import type { Prng } from './prng.js';
import type { Simulation } from './simulation.js';

export type ActorFactory = (env: Env) => Actor;

export type NodeState = 'down' | 'starting' | 'up';

export interface NodeOptions {
  /** This node's clock offset (ms); drawn within ±maxSkewMs when omitted. */
  skewMs?: number;
  /** Its disk's model (latency, faults); the cluster default when omitted. */
  disk?: StorageModel;
  /** When true a failing actor.start() leaves the node down instead of failing the run. */
  allowStartFailure?: boolean;
  /**
   * The machine the node runs on. Nodes on one machine see each other's disks, so
   * a client on a worker's machine reads its block files short-circuit; a node
   * without one shares nothing (Env.hostName stays undefined).
   */
  host?: string;
}

export interface ClusterOptions {
  disk?: StorageModel;
  ufs?: StorageModel;
  /** Node clocks are offset by up to this much either way. */
  maxSkewMs?: number;
  logLevel?: LogLevel;
  /** Also hands every log line here (e.g. stderr while debugging a seed). */
  echoLog?: (line: string) => void;
}

class SimNode {
  incarnation = 0;
  state: NodeState = 'down';
  actor: Actor | undefined;
  env: SimEnv | undefined;
  device: Device | undefined;
  constructor(
    readonly id: NodeId,
    readonly factory: ActorFactory,
    readonly skewMs: number,
    readonly storage: NodeStorage,
    public diskModel: StorageModel,
    readonly rng: Prng,
    readonly allowStartFailure: boolean,
    readonly host: string | undefined,
  ) {}
}

export class SimCluster implements SimHost {
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly ufsDisks = new Map<string, MemDisk>();
  readonly diskModel: StorageModel;
  /** Applies to UFS clients opened from now on. */
  ufsModel: StorageModel;
  readonly maxSkewMs: number;
  readonly logLevel: LogLevel;
  readonly echoLog: ((line: string) => void) | undefined;

  constructor(
    readonly sim: Simulation,
    readonly network: Network,
    private readonly rng: Prng,
    opts: ClusterOptions = {},
  ) {
    this.diskModel = opts.disk ?? LOCAL_DISK;
    this.ufsModel = opts.ufs ?? SHARED_UFS;
    this.maxSkewMs = opts.maxSkewMs ?? 0;
    this.logLevel = opts.logLevel ?? 'info';
    this.echoLog = opts.echoLog;
  }

  addNode(id: NodeId, factory: ActorFactory, opts: NodeOptions = {}): void {
    if (this.nodes.has(id)) throw new Error(`node ${id} already exists`);
    const rng = this.rng.fork('node:' + id);
    const skew = opts.skewMs ?? (this.maxSkewMs > 0 ? rng.range(-this.maxSkewMs, this.maxSkewMs) : 0);
    const model = opts.disk ?? this.diskModel;
    const node = new SimNode(id, factory, skew, { disk: new MemDisk(() => Math.floor(SIM_EPOCH_MS + this.sim.now + skew)), kvs: new Map<string, KvStore>() }, model, rng, opts.allowStartFailure ?? false, opts.host);
    const diskRng = rng.fork('crash');
    node.storage.disk.faults.tornBytes = (path, unsynced) => {
      if (node.diskModel.tornWriteP > 0 && diskRng.next() < node.diskModel.tornWriteP) {
        const keep = diskRng.int(unsynced + 1);
        this.sim.traceFault('torn-write', id + ':' + path, keep);
        return keep;
      }
      return 0;
    };
    this.nodes.set(id, node);
    const sim = this.sim;
    this.network.attach(id, {
      get incarnation() {
        return node.incarnation;
      },
      get receiving() {
        return node.actor !== undefined;
      },
      deliver(envelope: Envelope) {
        try {
          node.actor!.receive(envelope);
        } catch (e) {
          sim.failFrom(id, `receive(${envelope.m.t})`, e);
        }
      },
    });
  }

  private node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id} in the cluster`);
    return n;
  }

  /**
   * Builds a fresh actor over the node's disk and starts it. The returned promise
   * settles when actor.start() does, so only while the simulation runs (use
   * `sim.settle(cluster.start(id))`); it needs no handler.
   */
  start(id: NodeId): Promise<void> {
    const n = this.node(id);
    if (n.state !== 'down') return Promise.reject(new Error(`node ${id} is already ${n.state}`));
    const inc = ++n.incarnation;
    n.device = new Device(this.sim, n.diskModel, n.rng.fork('disk:' + inc));
    const env = new SimEnv(this, n, n.storage, n.device, n.rng.fork('random:' + inc));
    n.env = env;
    this.sim.traceFault('start', id, inc);
    this.sim.log(`${id} start (incarnation ${inc})`);
    let actor: Actor;
    try {
      actor = n.factory(env);
    } catch (e) {
      this.sim.failFrom(id, 'its factory', e);
      return Promise.reject(e);
    }
    n.actor = actor;
    n.state = 'starting';
    let started: Promise<void>;
    try {
      started = actor.start();
    } catch (e) {
      started = Promise.reject(e);
    }
    const done = started.then(
      () => {
        if (n.incarnation === inc) n.state = 'up';
      },
      (e: unknown) => {
        if (n.incarnation === inc) {
          if (n.allowStartFailure) {
            this.sim.log(`${id} failed to start: ${e instanceof Error ? e.message : String(e)}`);
            this.down(n, 'start-failed');
          } else this.sim.failFrom(id, 'start()', e);
        }
        throw e;
      },
    );
    done.catch(() => undefined);
    return done;
  }

  private down(n: SimNode, why: string): void {
    n.incarnation++;
    n.state = 'down';
    n.actor = undefined;
    n.env = undefined;
    n.device = undefined;
    this.sim.traceFault(why, n.id, n.incarnation);
  }

  /** Power loss: no stop(), unsynced writes lost or torn, timers and pending I/O dead. */
  crash(id: NodeId): void {
    const n = this.node(id);
    if (n.state === 'down') return;
    this.sim.log(`${id} CRASH`);
    this.down(n, 'crash');
    n.storage.disk.crash();
    const kvRng = n.rng.fork('kv-crash:' + n.incarnation);
    for (const [name, kv] of n.storage.kvs) {
      const pending = kv.unsyncedBatches;
      const keep = pending > 0 && n.diskModel.tornWriteP > 0 && kvRng.next() < n.diskModel.tornWriteP ? kvRng.int(pending + 1) : 0;
      const lost = kv.crash(keep);
      if (lost > 0) this.sim.traceFault('kv-lost', id + ':' + name, lost);
    }
  }

  /** A clean shutdown: awaits actor.stop(), then the node is down with its disk intact. */
  async stop(id: NodeId): Promise<void> {
    const n = this.node(id);
    if (n.state === 'down') return;
    const inc = n.incarnation;
    try {
      await n.actor!.stop();
    } finally {
      if (n.incarnation === inc) this.down(n, 'stop');
    }
  }

  /** Crashes the node if it is running, then starts a new actor over the same disk. */
  restart(id: NodeId): Promise<void> {
    this.crash(id);
    return this.start(id);
  }

  isUp(id: NodeId): boolean {
    return this.node(id).state === 'up';
  }

  state(id: NodeId): NodeState {
    return this.node(id).state;
  }

  ids(): NodeId[] {
    return [...this.nodes.keys()];
  }

  /** The node's current actor, cast to what the scenario built it as. */
  actor<A extends Actor = Actor>(id: NodeId): A {
    const a = this.node(id).actor;
    if (a === undefined) throw new Error(`node ${id} is down`);
    return a as A;
  }

  env(id: NodeId): SimEnv {
    const e = this.node(id).env;
    if (e === undefined) throw new Error(`node ${id} is down`);
    return e;
  }

  /** The node's raw disk, without latency or faults: for seeding and checking. */
  disk(id: NodeId): MemDisk {
    return this.node(id).storage.disk;
  }

  hostOf(id: NodeId): string | undefined {
    return this.nodes.get(id)?.host;
  }

  diskOf(id: NodeId): MemDisk | undefined {
    return this.nodes.get(id)?.storage.disk;
  }

  kv(id: NodeId, name: string): KvStore | undefined {
    return this.node(id).storage.kvs.get(name);
  }

  /**
   * The shared disk behind a UFS URI, created empty on first use. 'sim://name'
   * is the simulator's own scheme; 'file:///dir' and plain paths map to an
   * in-memory disk keyed by the path, so code configured for a local UFS runs
   * unchanged. Every node sees the same disk: a UFS is shared storage.
   */
  ufsDisk(uri: string): MemDisk {
    const key = ufsKey(uri);
    let d = this.ufsDisks.get(key);
    if (d === undefined) {
      d = new MemDisk(() => Math.floor(SIM_EPOCH_MS + this.sim.now), { shareReads: true });
      this.ufsDisks.set(key, d);
    }
    return d;
  }

  /** Sets a node's disk model from now on (e.g. turn disk faults off for a liveness phase). */
  setDiskModel(id: NodeId, model: StorageModel): void {
    const n = this.node(id);
    n.diskModel = model;
    if (n.device) n.device.model = model;
  }
}

function ufsKey(uri: string): string {
  if (uri.startsWith('file://')) return 'file://' + stripSlashes(uri.slice('file://'.length));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) return uri.replace(/\/+$/, '');
  return 'file://' + stripSlashes(uri);
}

function stripSlashes(p: string): string {
  return '/' + p.split('/').filter((s) => s !== '' && s !== '.').join('/');
}
