// The simulated host of one node: the Env an actor gets in simulation. Time is
// the simulation's clock plus this node's skew, timers are simulation events
// that die with the node's incarnation, randomness is a per-incarnation PRNG
// fork, sends go through the network model, and storage is in memory with
// latency and (opt-in) faults. A crash bumps the incarnation, so nothing the old
// life started (timers, disk completions, sends) can touch the next one.
import { DiskError, type Disk, type Env, type FileStat, type Kv, type LogLevel, type Logger, type NodeId, type Timer } from '../actors/env.js';
import type { Envelope } from '../actors/protocol/envelope.js';
import type { MemDisk } from './disk.js';
import type { Network } from './network.js';
import type { Prng } from './prng.js';
import type { EventKind, Simulation } from './simulation.js';

/** Virtual time 0 is this wall-clock instant, so timestamps look like Date.now() values. */
export const SIM_EPOCH_MS = 1_700_000_000_000;

/** Latency and fault rates of one kind of storage. Faults are zero unless a scenario opts in. */
export interface StorageModel {
  /** Fixed cost of one operation, uniform in this range (ms). */
  opLatencyMs: readonly [number, number];
  /** Extra cost of an fsync (ms). */
  fsyncLatencyMs: readonly [number, number];
  /** Transfer rate for reads and writes. */
  bytesPerMs: number;
  /** Chance that an operation fails with EIO. */
  eioP: number;
  /** Chance that a read returns data with one bit flipped (checksums must catch it). */
  corruptReadP: number;
  /** Chance, per file with unsynced bytes at a crash, that a prefix of them survives (a torn write). */
  tornWriteP: number;
}

export const LOCAL_DISK: StorageModel = Object.freeze({
  opLatencyMs: [0.02, 0.1] as const,
  fsyncLatencyMs: [0.5, 2] as const,
  bytesPerMs: 1_000_000,
  eioP: 0,
  corruptReadP: 0,
  tornWriteP: 0,
});

/** An object store or NFS: slower per operation, never crashes with a node. */
export const SHARED_UFS: StorageModel = Object.freeze({
  opLatencyMs: [1, 8] as const,
  fsyncLatencyMs: [0, 0] as const,
  bytesPerMs: 200_000,
  eioP: 0,
  corruptReadP: 0,
  tornWriteP: 0,
});

/** Fault rates for one seed: each fault on for about half the seeds, within modest ranges. */
export function swarmDiskFaults(rng: Prng, base: StorageModel = LOCAL_DISK): StorageModel {
  return {
    ...base,
    eioP: rng.chance(0.5) ? rng.range(0, 0.002) : 0,
    corruptReadP: rng.chance(0.5) ? rng.range(0, 0.01) : 0,
    tornWriteP: rng.chance(0.5) ? rng.range(0.2, 1) : 0,
  };
}

/** What an env needs to know about the node it serves. */
export interface NodeLife {
  readonly id: NodeId;
  readonly incarnation: number;
  readonly skewMs: number;
}

/**
 * How operations on one device queue. 'fifo' (a node's own disk): operations
 * complete in issue order, each after its own service time, as on a
 * single-queue disk; it also keeps an actor's back-to-back appends in order, as
 * the page cache would. 'per-path' (a shared UFS such as an object store):
 * requests to different objects proceed in parallel, requests to one object in
 * order.
 */
export class Device {
  private busyUntil = 0;
  private readonly busyByPath = new Map<string, number>();
  constructor(
    readonly sim: Simulation,
    public model: StorageModel,
    readonly rng: Prng,
    readonly queue: 'fifo' | 'per-path' = 'fifo',
  ) {}

  serviceTime(bytes: number, fsync: boolean): number {
    const m = this.model;
    const r = this.rng;
    let t = m.opLatencyMs[0] + r.next() * (m.opLatencyMs[1] - m.opLatencyMs[0]) + bytes / m.bytesPerMs;
    if (fsync) t += m.fsyncLatencyMs[0] + r.next() * (m.fsyncLatencyMs[1] - m.fsyncLatencyMs[0]);
    return t;
  }

  /** Completion time of an operation on `path` issued now. */
  reserve(bytes: number, fsync: boolean, path = ''): number {
    const now = this.sim.now;
    if (this.queue === 'fifo') {
      const done = Math.max(now, this.busyUntil) + this.serviceTime(bytes, fsync);
      this.busyUntil = done;
      return done;
    }
    const by = this.busyByPath;
    const done = Math.max(now, by.get(path) ?? 0) + this.serviceTime(bytes, fsync);
    if (by.size > 4096) for (const [p, t] of by) if (t <= now) by.delete(p);
    by.set(path, done);
    return done;
  }
}

function flipBit(data: Uint8Array, rng: Prng): Uint8Array {
  const out = data.slice();
  const bit = rng.int(out.byteLength * 8);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

/**
 * A Disk over a MemDisk that takes simulated time and may fail. An operation
 * takes effect when it completes; if the node crashed meanwhile it never
 * completes (its promise stays pending and the old actor is gone).
 */
export class SimDisk implements Disk {
  constructor(
    readonly raw: MemDisk,
    private readonly device: Device,
    private readonly life: NodeLife,
    private readonly kind: EventKind,
    private readonly label: string,
  ) {}

  private op<T>(name: string, path: string, bytes: number, fsync: boolean, fn: () => Promise<T>, isRead = false): Promise<T> {
    const { sim, model, rng } = this.device;
    const inc = this.life.incarnation;
    const at = this.device.reserve(bytes, fsync, path);
    return new Promise<T>((resolve, reject) => {
      sim.at(at, this.kind, this.label, () => {
        if (this.life.incarnation !== inc) return;
        if (model.eioP > 0 && rng.next() < model.eioP) {
          sim.traceFault('eio', this.label, path);
          reject(new DiskError('EIO', `simulated I/O error in ${name} ${path}`));
          return;
        }
        const p = fn();
        if (isRead && model.corruptReadP > 0) {
          p.then((data) => {
            const d = data as unknown as Uint8Array;
            if (d.byteLength > 0 && rng.next() < model.corruptReadP) {
              sim.traceFault('corrupt-read', this.label, path);
              resolve(flipBit(d, rng) as unknown as T);
            } else resolve(data);
          }, reject);
        } else p.then(resolve, reject);
      });
    });
  }

  stat(path: string): Promise<FileStat | null> {
    return this.op('stat', path, 0, false, () => this.raw.stat(path));
  }
  list(dir: string): Promise<string[]> {
    return this.op('list', dir, 0, false, () => this.raw.list(dir));
  }
  mkdir(dir: string): Promise<void> {
    return this.op('mkdir', dir, 0, false, () => this.raw.mkdir(dir));
  }
  readFile(path: string): Promise<Uint8Array> {
    // The size is unknown until the read happens; charge by the current size.
    return this.op('readFile', path, 0, false, () => this.raw.readFile(path), true);
  }
  read(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.op('read', path, length, false, () => this.raw.read(path, offset, length), true);
  }
  writeFile(path: string, data: Uint8Array): Promise<void> {
    // Copied now: the caller may reuse its buffer before the write completes.
    const copy = data.slice();
    return this.op('writeFile', path, copy.byteLength, false, () => this.raw.writeFile(path, copy));
  }
  append(path: string, data: Uint8Array): Promise<void> {
    const copy = data.slice();
    return this.op('append', path, copy.byteLength, false, () => this.raw.append(path, copy));
  }
  truncate(path: string, size: number): Promise<void> {
    return this.op('truncate', path, 0, false, () => this.raw.truncate(path, size));
  }
  fsync(path: string): Promise<void> {
    return this.op('fsync', path, 0, true, () => this.raw.fsync(path));
  }
  rename(from: string, to: string): Promise<void> {
    return this.op('rename', from, 0, false, () => this.raw.rename(from, to));
  }
  remove(path: string): Promise<void> {
    return this.op('remove', path, 0, false, () => this.raw.remove(path));
  }
}

/** The disk of a node that shares its machine: other nodes there can open it by `localUri`. */
class LocalSimDisk extends SimDisk {
  constructor(raw: MemDisk, device: Device, life: NodeLife, kind: EventKind, label: string, readonly localUri: string) {
    super(raw, device, life, kind, label);
  }
}

type KvOp = readonly [string, Uint8Array | undefined];

/**
 * The durable state of one key-value store on a node's disk. Writes are visible
 * at once; a batch written without sync is lost on a crash unless a later synced
 * batch covered it (a synced write flushes the log up to it, as LevelDB's does).
 * Keys are ordered by UTF-16 code units, which matches classic-level's byte order
 * for every key outside the astral planes.
 */
export class KvStore {
  private readonly keys: string[] = [];
  private readonly values = new Map<string, Uint8Array>();
  /** Per unsynced batch, what each key held before it, to undo on a crash. */
  private unsynced: Array<Array<[string, Uint8Array | undefined]>> = [];

  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private put(key: string, value: Uint8Array | undefined): void {
    if (value === undefined) {
      if (this.values.delete(key)) this.keys.splice(this.lowerBound(key), 1);
    } else {
      if (!this.values.has(key)) this.keys.splice(this.lowerBound(key), 0, key);
      this.values.set(key, value);
    }
  }

  get(key: string): Uint8Array | undefined {
    return this.values.get(key)?.slice();
  }

  apply(ops: readonly KvOp[], sync: boolean): void {
    const undo: Array<[string, Uint8Array | undefined]> = [];
    for (const [k, v] of ops) {
      undo.push([k, this.values.get(k)]);
      this.put(k, v === undefined ? undefined : v.slice());
    }
    if (sync) this.unsynced = [];
    else this.unsynced.push(undo);
  }

  clear(): void {
    this.apply(this.keys.map((k) => [k, undefined] as const), false);
  }

  scan(prefix: string): Array<[string, Uint8Array]> {
    const out: Array<[string, Uint8Array]> = [];
    for (let i = this.lowerBound(prefix); i < this.keys.length; i++) {
      const k = this.keys[i]!;
      if (!k.startsWith(prefix)) break;
      out.push([k, this.values.get(k)!.slice()]);
    }
    return out;
  }

  get size(): number {
    return this.keys.length;
  }

  /** Loses unsynced batches except the first `keep` (batches are atomic: never half of one). */
  crash(keep = 0): number {
    const lost = this.unsynced.length - keep;
    for (let i = this.unsynced.length - 1; i >= keep; i--) {
      const undo = this.unsynced[i]!;
      for (let j = undo.length - 1; j >= 0; j--) this.put(undo[j]![0], undo[j]![1]);
    }
    this.unsynced = [];
    return Math.max(0, lost);
  }

  get unsyncedBatches(): number {
    return this.unsynced.length;
  }
}

class SimKv implements Kv {
  private closed = false;
  constructor(
    private readonly store: KvStore,
    private readonly device: Device,
    private readonly life: NodeLife,
    private readonly name: string,
  ) {}

  private op<T>(bytes: number, fsync: boolean, fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new DiskError('EINVAL', `kv ${this.name} is closed`));
    const { sim, model, rng } = this.device;
    const inc = this.life.incarnation;
    const at = this.device.reserve(bytes, fsync);
    return new Promise<T>((resolve, reject) => {
      sim.at(at, 'disk', this.life.id, () => {
        if (this.life.incarnation !== inc) return;
        if (model.eioP > 0 && rng.next() < model.eioP) {
          sim.traceFault('eio', this.life.id, 'kv:' + this.name);
          reject(new DiskError('EIO', `simulated I/O error in kv ${this.name}`));
          return;
        }
        try {
          resolve(fn());
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.op(0, false, () => this.store.get(key));
  }
  /** Blocking reads cost no simulated time: the state machine that makes them runs in an instant anyway. */
  getSync(key: string): Uint8Array | undefined {
    if (this.closed) throw new DiskError('EINVAL', `kv ${this.name} is closed`);
    return this.store.get(key);
  }
  getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    return this.op(0, false, () => keys.map((k) => this.store.get(k)));
  }
  clear(): Promise<void> {
    return this.op(0, false, () => this.store.clear());
  }
  batch(ops: ReadonlyArray<readonly [string, Uint8Array | undefined]>, sync: boolean): Promise<void> {
    let bytes = 0;
    // Copied now so later mutation of the caller's buffers cannot change what is written.
    const copy: KvOp[] = ops.map(([k, v]) => {
      bytes += k.length + (v?.byteLength ?? 0);
      return [k, v?.slice()];
    });
    return this.op(bytes, sync, () => this.store.apply(copy, sync));
  }
  scan(prefix: string): Promise<Array<[string, Uint8Array]>> {
    return this.op(0, false, () => this.store.scan(prefix));
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** Everything on one node's disk: it outlives the node's incarnations. */
export interface NodeStorage {
  readonly disk: MemDisk;
  readonly kvs: Map<string, KvStore>;
}

/** The cluster services an env draws on (implemented by SimCluster). */
export interface SimHost {
  readonly sim: Simulation;
  readonly network: Network;
  /** The shared MemDisk behind a UFS URI. */
  ufsDisk(uri: string): MemDisk;
  readonly ufsModel: StorageModel;
  readonly logLevel: LogLevel;
  readonly echoLog: ((line: string) => void) | undefined;
  /** The machine a node runs on (NodeOptions.host), if it shares one. */
  hostOf(id: NodeId): string | undefined;
  /** A node's disk as it lies on its machine, whatever the node's state. */
  diskOf(id: NodeId): MemDisk | undefined;
}

/** How a node's disk is named to other nodes on its machine (Disk.localUri). */
const LOCAL_SCHEME = 'sim-local://';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

function formatFields(fields: Record<string, unknown> | undefined): string {
  if (fields === undefined) return '';
  try {
    return ' ' + JSON.stringify(fields, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? `<${v.byteLength} B>` : v));
  } catch {
    return ' <unprintable fields>';
  }
}

export class SimEnv implements Env {
  readonly self: NodeId;
  readonly disk: SimDisk;
  readonly log: Logger;
  readonly hostName?: string;
  private readonly inc: number;
  private readonly ufs = new Map<string, SimDisk>();
  private readonly timerLabel: string;

  constructor(
    private readonly host: SimHost,
    private readonly life: NodeLife,
    private readonly storage: NodeStorage,
    private readonly device: Device,
    private readonly rng: Prng,
  ) {
    this.self = life.id;
    this.inc = life.incarnation;
    this.timerLabel = life.id;
    const hostName = host.hostOf(life.id);
    if (hostName !== undefined) this.hostName = hostName;
    this.disk = hostName === undefined ? new SimDisk(storage.disk, device, life, 'disk', life.id) : new LocalSimDisk(storage.disk, device, life, 'disk', life.id, LOCAL_SCHEME + life.id);
    const min = LEVEL_RANK[host.logLevel];
    this.log = {
      log: (level, msg, fields) => {
        if (LEVEL_RANK[level] < min) return;
        const line = `${this.self} ${level} ${msg}${formatFields(fields)}`;
        host.sim.log(line);
        host.echoLog?.(line);
      },
    };
  }

  /** Whether this env's life is still the node's current one. */
  get alive(): boolean {
    return this.life.incarnation === this.inc;
  }

  /** Like Date.now(): whole milliseconds, on this node's (skewed) clock. */
  now(): number {
    return Math.floor(SIM_EPOCH_MS + this.host.sim.now + this.life.skewMs);
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const inc = this.inc;
    const life = this.life;
    const sim = this.host.sim;
    return sim.schedule(delayMs, 'timer', this.timerLabel, () => {
      if (life.incarnation !== inc) return;
      try {
        fn();
      } catch (e) {
        sim.failFrom(life.id, 'a timer', e);
      }
    });
  }

  random(): number {
    return this.rng.next();
  }

  send(to: NodeId, envelope: Envelope): void {
    // A crashed node's leftover promise chains must not reach the network.
    if (!this.alive) return;
    this.host.network.send(this.self, to, envelope);
  }

  learnAddress(): void {}

  async openKv(name: string): Promise<Kv> {
    let store = this.storage.kvs.get(name);
    if (store === undefined) {
      store = new KvStore();
      this.storage.kvs.set(name, store);
    }
    const kv = new SimKv(store, this.device, this.life, name);
    // Opening reads the store's log: charge one operation.
    await kv.scan('\uffff');
    return kv;
  }

  /**
   * Another node's disk on this machine (short-circuit reads). Reads go through
   * this node's own device model: its latency, and its faults if it has any.
   */
  openLocal(dirUri: string): Disk | undefined {
    if (this.hostName === undefined || !dirUri.startsWith(LOCAL_SCHEME)) return undefined;
    const owner = dirUri.slice(LOCAL_SCHEME.length);
    const raw = this.host.hostOf(owner) === this.hostName ? this.host.diskOf(owner) : undefined;
    return raw && new SimDisk(raw, this.device, this.life, 'disk', this.self);
  }

  openUfs(uri: string): Disk {
    let d = this.ufs.get(uri);
    if (d === undefined) {
      const device = new Device(this.host.sim, this.host.ufsModel, this.rng.fork('ufs:' + uri), 'per-path');
      d = new SimDisk(this.host.ufsDisk(uri), device, this.life, 'ufs', this.self);
      this.ufs.set(uri, d);
    }
    return d;
  }
}
