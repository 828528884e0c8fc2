// The simulated network between nodes. Every message is encoded at send and
// decoded and validated at delivery with the real host's codec, so schema and
// codec bugs show in simulation. Faults follow TigerBeetle's packet simulator:
// per-link delays with jitter and a long tail, loss, duplication, reordering,
// partitions (isolate, majority/minority split, one-way) and clogged links,
// with rates drawn per seed within ranges so each seed explores a different
// mix (swarm testing), and a quiet mode for liveness phases.
import type { NodeId } from '../actors/env.js';
import type { Envelope } from '../actors/protocol/envelope.js';
import { DEFAULT_MAX_FRAME_BYTES, decode, decodeParts, encodeParts } from '../transport/codec.js';
import type { Prng } from './prng.js';
import type { Simulation } from './simulation.js';

export interface NetworkFaults {
  /** Each link's base one-way delay is drawn once, uniformly in this range (ms). */
  baseDelayMs: readonly [number, number];
  /** Extra per-message delay, uniform in [0, jitterMs). */
  jitterMs: number;
  /** Chance that a message also suffers a long-tail delay (exponential, mean longTailMs). */
  longTailP: number;
  longTailMs: number;
  /** Serialization rate of one link: a 1 MiB chunk occupies a 10 Gbit/s link for ~0.84 ms. */
  bandwidthBytesPerMs: number;
  lossP: number;
  duplicateP: number;
  /** false keeps each link FIFO, as TCP does; true lets jitter reorder messages. */
  reorder: boolean;
  /** Chance per nemesis tick of starting a partition while none is active. */
  partitionP: number;
  partitionMs: readonly [number, number];
  /** Chance per nemesis tick of clogging one random link. */
  clogP: number;
  clogMs: readonly [number, number];
  nemesisIntervalMs: number;
}

/** A healthy LAN: small delays, no faults. */
export const QUIET_NETWORK: NetworkFaults = Object.freeze({
  baseDelayMs: [0.1, 0.3] as const,
  jitterMs: 0.1,
  longTailP: 0,
  longTailMs: 0,
  bandwidthBytesPerMs: 1_250_000,
  lossP: 0,
  duplicateP: 0,
  reorder: false,
  partitionP: 0,
  partitionMs: [0, 0] as const,
  clogP: 0,
  clogMs: [0, 0] as const,
  nemesisIntervalMs: 1000,
});

/**
 * Fault rates for one seed. Each fault is switched on for about half the seeds,
 * so some seeds stress one fault hard while others combine several.
 */
export function swarmFaults(rng: Prng): NetworkFaults {
  const lo = rng.range(0.05, 1);
  const on = (p: number): boolean => rng.chance(p);
  return {
    baseDelayMs: [lo, lo + rng.range(0, 4)],
    jitterMs: rng.range(0, 2),
    longTailP: on(0.5) ? rng.range(0.001, 0.02) : 0,
    longTailMs: rng.range(10, 200),
    bandwidthBytesPerMs: rng.range(125_000, 1_250_000),
    lossP: on(0.5) ? rng.range(0.001, 0.05) : 0,
    duplicateP: on(0.5) ? rng.range(0.001, 0.03) : 0,
    reorder: on(0.5),
    partitionP: on(0.5) ? rng.range(0.02, 0.2) : 0,
    partitionMs: [200, rng.range(1000, 8000)],
    clogP: on(0.5) ? rng.range(0.02, 0.2) : 0,
    clogMs: [20, rng.range(100, 3000)],
    nemesisIntervalMs: 1000,
  };
}

/** What the network needs from a node to deliver to it. */
export interface Endpoint {
  /** Bumped on every start, crash and stop: a message sent to one life never reaches the next. */
  readonly incarnation: number;
  /** Whether an actor is there to receive (starting or up). */
  readonly receiving: boolean;
  deliver(envelope: Envelope): void;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  bytes: number;
  duplicated: number;
  clogged: number;
  droppedLoss: number;
  droppedPartition: number;
  droppedDown: number;
  droppedUnknown: number;
  invalid: number;
}

interface Link {
  readonly base: number;
  blocked: boolean;
  clogUntil: number;
  busyUntil: number;
  lastAt: number;
}

const SEP = '\u0001';

/**
 * A frame in flight: msgpack `head`, and for a message with a large byte field
 * that field's bytes as `tail`, as the real links carry them (codec.encodeParts).
 * The head is encoded, decoded and validated like any frame and the tail's
 * length checked against it; the tail itself travels by reference, so a 1 MiB
 * chunk costs no copy. Production actors never write into bytes they sent or
 * received (blocks are immutable once stored), so sharing cannot hide a bug: an
 * actor that did would corrupt the sender's copy and fail the run's checkers.
 */
interface Frame {
  readonly head: Uint8Array;
  readonly tail: Uint8Array | undefined;
  readonly bytes: number;
}

export class Network {
  private readonly endpoints = new Map<NodeId, Endpoint>();
  private readonly links = new Map<string, Link>();
  /** The same links by sender then receiver: no string building on the send path. */
  private readonly linksFrom = new Map<NodeId, Map<NodeId, Link>>();
  /** Directed links currently cut, as from SEP to. */
  private readonly cut = new Set<string>();
  private partitionHeal: { cancel(): void } | undefined;
  private nemesisOn = false;
  private nemesisTimer: { cancel(): void } | undefined;
  private _faults: NetworkFaults;
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  readonly stats: NetworkStats = {
    sent: 0, delivered: 0, bytes: 0, duplicated: 0, clogged: 0,
    droppedLoss: 0, droppedPartition: 0, droppedDown: 0, droppedUnknown: 0, invalid: 0,
  };
  /** Sees every delivered envelope before its actor does (for checkers and tests). */
  onDeliver: ((from: NodeId, to: NodeId, envelope: Envelope) => void) | undefined;

  constructor(
    private readonly sim: Simulation,
    private readonly rng: Prng,
    faults: NetworkFaults = QUIET_NETWORK,
  ) {
    this._faults = { ...faults };
  }

  get faults(): Readonly<NetworkFaults> {
    return this._faults;
  }

  configure(changes: Partial<NetworkFaults>): void {
    this._faults = { ...this._faults, ...changes };
    this.armNemesis();
  }

  /** The liveness phase: heal everything, stop injecting faults, keep the delays. */
  faultsOff(): void {
    this.configure({ lossP: 0, duplicateP: 0, longTailP: 0, partitionP: 0, clogP: 0 });
    this.heal();
    for (const l of this.links.values()) l.clogUntil = 0;
    this.sim.traceFault('faults-off');
  }

  attach(id: NodeId, endpoint: Endpoint): void {
    this.endpoints.set(id, endpoint);
  }

  nodes(): NodeId[] {
    return [...this.endpoints.keys()];
  }

  private link(from: NodeId, to: NodeId): Link {
    let out = this.linksFrom.get(from);
    if (out === undefined) {
      out = new Map();
      this.linksFrom.set(from, out);
    }
    let l = out.get(to);
    if (l === undefined) {
      const key = from + SEP + to;
      const [lo, hi] = this._faults.baseDelayMs;
      // Forked by name so a link's delay does not depend on which link was used first.
      const base = from === to ? 0.005 : this.rng.fork('link:' + key).range(lo, hi);
      l = { base, blocked: this.cut.has(key), clogUntil: 0, busyUntil: 0, lastAt: 0 };
      this.links.set(key, l);
      out.set(to, l);
    }
    return l;
  }

  send(from: NodeId, to: NodeId, envelope: Envelope): void {
    const { head, tail } = encodeParts(envelope);
    this.sendParts(from, to, { head, tail, bytes: head.byteLength + (tail?.byteLength ?? 0) });
  }

  /** Sends raw bytes as if `from` had written them to the link (garbage-frame tests). */
  sendFrame(from: NodeId, to: NodeId, frame: Uint8Array): void {
    this.sendParts(from, to, { head: frame, tail: undefined, bytes: frame.byteLength });
  }

  private sendParts(from: NodeId, to: NodeId, frame: Frame): void {
    const sim = this.sim;
    const stats = this.stats;
    stats.sent++;
    const target = this.endpoints.get(to);
    if (target === undefined) {
      stats.droppedUnknown++;
      sim.traceFault('drop-unknown', from, to);
      return;
    }
    const link = this.link(from, to);
    const f = this._faults;
    const loopback = from === to;
    if (link.blocked) {
      stats.droppedPartition++;
      sim.traceFault('drop-partition', from, to);
      return;
    }
    const rng = this.rng;
    if (!loopback && f.lossP > 0 && rng.next() < f.lossP) {
      stats.droppedLoss++;
      sim.traceFault('drop-loss', from, to);
      return;
    }
    const now = sim.now;
    const ready = Math.max(now, link.busyUntil) + frame.bytes / f.bandwidthBytesPerMs;
    link.busyUntil = ready;
    const copies = !loopback && f.duplicateP > 0 && rng.next() < f.duplicateP ? 2 : 1;
    if (copies === 2) {
      stats.duplicated++;
      sim.traceFault('duplicate', from, to);
    }
    const inc = target.incarnation;
    for (let c = 0; c < copies; c++) {
      let at = ready + link.base;
      if (!loopback) {
        if (f.jitterMs > 0) at += rng.next() * f.jitterMs;
        if (f.longTailP > 0 && rng.next() < f.longTailP) at += rng.exp(f.longTailMs);
      }
      if (!f.reorder && at < link.lastAt) at = link.lastAt;
      if (at < link.clogUntil) {
        at = link.clogUntil;
        stats.clogged++;
      }
      link.lastAt = Math.max(link.lastAt, at);
      sim.at(at, 'deliver', to, () => this.arrive(from, to, frame, inc, link));
    }
  }

  private arrive(from: NodeId, to: NodeId, frame: Frame, inc: number, link: Link): void {
    const sim = this.sim;
    if (link.blocked) {
      this.stats.droppedPartition++;
      sim.traceFault('drop-partition', from, to);
      return;
    }
    if (link.clogUntil > sim.now) {
      // Clogged while in flight: held until the link drains.
      this.stats.clogged++;
      sim.at(link.clogUntil, 'deliver', to, () => this.arrive(from, to, frame, inc, link));
      return;
    }
    const target = this.endpoints.get(to)!;
    if (target.incarnation !== inc || !target.receiving) {
      this.stats.droppedDown++;
      sim.traceFault('drop-down', from, to);
      return;
    }
    const r = frame.tail === undefined ? decode(frame.head, this.maxFrameBytes) : decodeParts(frame.head, frame.tail, this.maxFrameBytes);
    const t = sim.trace;
    t.word(0xde11);
    t.num(sim.now);
    t.str(from);
    t.str(to);
    t.num(frame.bytes);
    if (!r.ok) {
      this.stats.invalid++;
      t.str('!invalid');
      sim.log(`net ${from}->${to} invalid frame (${frame.bytes} B): ${r.error.message}`);
      // As the real transport does: an addressable bad request gets a typed error back.
      if (r.header !== undefined && r.header.id > 0) {
        this.send(to, r.header.f, { f: to, to: r.header.f, id: 0, re: r.header.id, m: r.error.toReply() });
      }
      return;
    }
    t.str(r.envelope.m.t);
    this.stats.delivered++;
    this.stats.bytes += frame.bytes;
    this.onDeliver?.(from, to, r.envelope);
    target.deliver(r.envelope);
  }

  // ---- partitions and clogs -------------------------------------------------

  private refreshLinks(): void {
    for (const [key, l] of this.links) l.blocked = this.cut.has(key);
  }

  /** Cuts every link between the two groups, both ways. */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) for (const y of b) if (x !== y) {
      this.cut.add(x + SEP + y);
      this.cut.add(y + SEP + x);
    }
    this.refreshLinks();
    this.sim.traceFault('partition', a.join(','), b.join(','));
  }

  isolate(id: NodeId): void {
    this.partition([id], this.nodes().filter((n) => n !== id));
  }

  /** Cuts only from -> to: `to` still reaches `from`. */
  blockOneWay(from: NodeId, to: NodeId): void {
    this.cut.add(from + SEP + to);
    this.refreshLinks();
    this.sim.traceFault('one-way', from, to);
  }

  /** Splits the nodes into a random majority and minority. Returns [majority, minority]. */
  splitRandom(rng: Prng = this.rng): [NodeId[], NodeId[]] {
    const ids = rng.shuffle(this.nodes());
    const half = Math.floor(ids.length / 2);
    const minority = ids.splice(0, half > 0 ? rng.intRange(1, half) : 0);
    this.partition(ids, minority);
    return [ids, minority];
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(from + SEP + to);
  }

  heal(): void {
    this.partitionHeal?.cancel();
    this.partitionHeal = undefined;
    if (this.cut.size === 0) return;
    this.cut.clear();
    this.refreshLinks();
    this.sim.traceFault('heal');
  }

  /** Holds every message on from -> to for `ms`, then releases them together. */
  clog(from: NodeId, to: NodeId, ms: number): void {
    const l = this.link(from, to);
    l.clogUntil = Math.max(l.clogUntil, this.sim.now + ms);
    this.sim.traceFault('clog', from + '>' + to, ms);
  }

  /**
   * Starts the fault injector: each tick may open a partition (healed after a
   * random time) or clog a link, at the rates in `faults`. It ticks only while
   * those rates are non-zero, so a quiet network lets the event queue drain
   * (which is how a stuck run is told apart from a busy one).
   */
  startNemesis(): void {
    this.nemesisOn = true;
    this.armNemesis();
  }

  private armNemesis(): void {
    const f = this._faults;
    if (!this.nemesisOn || this.nemesisTimer !== undefined || (f.partitionP <= 0 && f.clogP <= 0)) return;
    this.nemesisTimer = this.sim.schedule(f.nemesisIntervalMs, 'nemesis', 'nemesis', () => {
      this.nemesisTimer = undefined;
      this.nemesisTick();
      this.armNemesis();
    });
  }

  private nemesisTick(): void {
    const f = this._faults;
    const rng = this.rng;
    const ids = this.nodes();
    if (ids.length < 2) return;
    if (this.cut.size === 0 && f.partitionP > 0 && rng.next() < f.partitionP) {
      const kind = rng.int(3);
      if (kind === 0) this.isolate(rng.pick(ids));
      else if (kind === 1) this.splitRandom(rng);
      else {
        const from = rng.pick(ids);
        this.blockOneWay(from, rng.pick(ids.filter((x) => x !== from)));
      }
      this.partitionHeal = this.sim.schedule(rng.range(f.partitionMs[0], f.partitionMs[1]), 'nemesis', 'heal', () => this.heal());
    }
    if (f.clogP > 0 && rng.next() < f.clogP) {
      const from = rng.pick(ids);
      this.clog(from, rng.pick(ids.filter((x) => x !== from)), rng.range(f.clogMs[0], f.clogMs[1]));
    }
  }
}
