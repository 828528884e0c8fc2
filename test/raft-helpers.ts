// A tiny in-memory Raft cluster for the core's tests: each node's "disk" is a plain
// record of what its Readys asked to persist, its state machine a list of applied
// commands, and the network a FIFO queue of messages that tests can cut, drop,
// reorder or hold. Every message goes through the real codec, so a message the
// core emits that the protocol schemas reject fails the test.
import { decode, encode } from '../transport/codec.js';
import { RaftChecker } from '../sim/checkers/raft.js';
import { RaftNode, type Entry, type HardState, type RaftMessage, type RaftOptions, type ReadState, type Snapshot } from '../actors/raft/index.js';

export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const te = new TextEncoder();
export const td = new TextDecoder();

export interface Store {
  hard: HardState | undefined;
  snapshot: Snapshot | undefined;
  entries: Entry[];
}

export interface Applied {
  readonly index: number;
  readonly term: number;
  readonly data: string;
}

export interface Node {
  core: RaftNode;
  readonly store: Store;
  /** Applied normal entries, in order (a restored snapshot replaces the prefix). */
  applied: Applied[];
  appliedIndex: number;
  reads: ReadState[];
  up: boolean;
}

export interface Packet {
  readonly from: string;
  readonly to: string;
  readonly m: RaftMessage;
}

export type ClusterOptions = Partial<Omit<RaftOptions, 'id' | 'voters' | 'random' | 'restore' | 'applied'>> & {
  seed?: number;
  /** Round-trip every message through the msgpack codec and the schemas (default true). */
  codec?: boolean;
};

/** Snapshot data of the test state machine: its applied commands. */
export function encodeSm(applied: readonly Applied[]): Uint8Array {
  return te.encode(JSON.stringify(applied));
}

export class Cluster {
  readonly nodes = new Map<string, Node>();
  queue: Packet[] = [];
  /** Links that drop everything: `${from}>${to}`. */
  private readonly cut = new Set<string>();
  /** Return false to drop a packet. */
  filter: ((p: Packet) => boolean) | null = null;
  readonly random: () => number;
  private readonly opts: ClusterOptions;
  /** The safety checks shared with the simulator's Raft scenarios. */
  readonly checker = new RaftChecker();
  delivered = 0;

  constructor(ids: readonly string[], opts: ClusterOptions = {}, voters: readonly string[] = ids) {
    this.opts = opts;
    this.random = prng(opts.seed ?? 1);
    for (const id of ids) this.add(id, voters);
  }

  add(id: string, voters: readonly string[]): Node {
    const node: Node = {
      core: this.makeCore(id, voters, { hard: undefined, snapshot: undefined, entries: [] }),
      store: { hard: undefined, snapshot: undefined, entries: [] },
      applied: [],
      appliedIndex: 0,
      reads: [],
      up: true,
    };
    this.nodes.set(id, node);
    return node;
  }

  private makeCore(id: string, voters: readonly string[], store: Store, applied?: number): RaftNode {
    const o = this.opts;
    return new RaftNode({
      id,
      voters,
      random: this.random,
      electionTick: o.electionTick ?? 10,
      heartbeatTick: o.heartbeatTick ?? 1,
      preVote: o.preVote,
      checkQuorum: o.checkQuorum,
      readOnly: o.readOnly,
      maxEntriesPerAppend: o.maxEntriesPerAppend,
      maxBytesPerAppend: o.maxBytesPerAppend,
      maxInflight: o.maxInflight,
      snapshotChunkBytes: o.snapshotChunkBytes,
      restore: { hardState: store.hard, snapshot: store.snapshot, entries: store.entries },
      applied,
    });
  }

  node(id: string): Node {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  core(id: string): RaftNode {
    return this.node(id).core;
  }

  /** Drains one node's Readys the way a driver would: persist, send, apply, advance. */
  process(id: string): void {
    const n = this.node(id);
    if (!n.up) return;
    while (n.core.hasReady()) {
      const rd = n.core.ready();
      if (rd.snapshot) {
        n.store.snapshot = rd.snapshot;
        n.store.entries = [];
      }
      if (rd.entries.length > 0) {
        const first = rd.entries[0]!.index;
        n.store.entries = n.store.entries.filter((e) => e.index < first).concat(rd.entries);
      }
      if (rd.hardState) n.store.hard = rd.hardState;
      for (const out of rd.messages) this.send({ from: id, to: out.to, m: out.m });
      if (rd.snapshot) this.restoreSm(n, rd.snapshot);
      for (const e of rd.committedEntries) this.apply(id, n, e);
      n.reads.push(...rd.readStates);
      n.core.advance();
      this.checker.observe(n.core);
    }
  }

  private restoreSm(n: Node, snap: Snapshot): void {
    n.applied = JSON.parse(td.decode(snap.data)) as Applied[];
    n.appliedIndex = snap.meta.index;
  }

  private apply(id: string, n: Node, e: Entry): void {
    if (e.index !== n.appliedIndex + 1) throw new Error(`${id} applied ${e.index} after ${n.appliedIndex}`);
    n.appliedIndex = e.index;
    const a: Applied = { index: e.index, term: e.term, data: e.type === 'normal' ? td.decode(e.data) : `<${e.type}>` };
    this.checker.applied(n.core, e);
    if (e.type === 'normal') n.applied.push(a);
  }

  private send(p: Packet): void {
    let m = p.m;
    if (this.opts.codec !== false) {
      const res = decode(encode({ f: p.from, to: p.to, id: 0, m }));
      if (!res.ok) throw new Error(`codec rejected ${m.t}: ${res.error.message}`);
      m = res.envelope.m as RaftMessage;
    }
    this.queue.push({ from: p.from, to: p.to, m });
  }

  isCut(from: string, to: string): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  /** Delivers one queued packet (by position); false when none. */
  deliverOne(i = 0): boolean {
    const p = this.queue.splice(i, 1)[0];
    if (!p) return false;
    const to = this.nodes.get(p.to);
    if (!to || !to.up || this.isCut(p.from, p.to) || (this.filter && !this.filter(p))) return true;
    this.delivered++;
    to.core.step(p.from, p.m);
    this.process(p.to);
    return true;
  }

  /** Processes every node and delivers until the network is quiet. */
  stabilize(limit = 100_000): void {
    for (const id of this.nodes.keys()) this.process(id);
    let n = 0;
    while (this.deliverOne()) {
      if (++n > limit) throw new Error('network did not quiesce');
    }
  }

  tick(id: string, times = 1): void {
    const n = this.node(id);
    if (!n.up) return;
    for (let i = 0; i < times; i++) {
      n.core.tick();
      this.process(id);
    }
  }

  /** Ticks every node `times` times, delivering everything after each round. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.nodes.keys()) this.tick(id);
      this.stabilize();
    }
  }

  /** Makes `id` campaign now and lets the election run. */
  elect(id: string): void {
    this.core(id).campaign();
    this.stabilize();
  }

  propose(id: string, data: string): ReturnType<RaftNode['propose']> {
    const r = this.core(id).propose(te.encode(data));
    this.process(id);
    return r;
  }

  /** Cuts `group` off from everyone else (both directions). */
  isolate(...group: string[]): void {
    for (const a of this.nodes.keys()) {
      for (const b of this.nodes.keys()) {
        if (group.includes(a) !== group.includes(b)) {
          this.cut.add(`${a}>${b}`);
        }
      }
    }
  }

  heal(): void {
    this.cut.clear();
    this.filter = null;
  }

  /** Stops a node: its in-memory core is lost, its store survives. */
  crash(id: string): void {
    this.node(id).up = false;
  }

  restart(id: string, voters: readonly string[] = [...this.nodes.keys()]): void {
    const n = this.node(id);
    const snap = n.store.snapshot;
    n.core = this.makeCore(id, voters, { ...n.store, entries: [...n.store.entries] });
    n.applied = snap ? (JSON.parse(td.decode(snap.data)) as Applied[]) : [];
    n.appliedIndex = snap ? snap.meta.index : 0;
    n.reads = [];
    n.up = true;
  }

  /** The state machine snapshots at its applied index; the core compacts and the store keeps the snapshot. */
  compact(id: string): void {
    const n = this.node(id);
    if (!n.up || n.appliedIndex <= n.core.snapshotMeta().index) return;
    const data = encodeSm(n.applied);
    n.core.compact(n.appliedIndex, data);
    n.store.snapshot = { meta: n.core.snapshotMeta(), data };
    n.store.entries = n.store.entries.filter((e) => e.index > n.appliedIndex);
  }

  leader(): string | undefined {
    let best: string | undefined;
    let bestTerm = -1;
    for (const [id, n] of this.nodes) {
      const st = n.core.status();
      if (n.up && st.role === 'leader' && st.term > bestTerm) {
        best = id;
        bestTerm = st.term;
      }
    }
    return best;
  }

  data(id: string): string[] {
    return this.node(id).applied.map((a) => a.data);
  }
}

/** Takes one Ready from a lone core (no cluster), advancing it, for message-level tests. */
export function drain(core: RaftNode): { messages: Array<{ to: string; m: RaftMessage }>; committed: Entry[] } {
  const messages: Array<{ to: string; m: RaftMessage }> = [];
  const committed: Entry[] = [];
  while (core.hasReady()) {
    const rd = core.ready();
    messages.push(...rd.messages);
    committed.push(...rd.committedEntries);
    core.advance();
  }
  return { messages, committed };
}

export function lone(id: string, voters: readonly string[], extra: Partial<RaftOptions> = {}): RaftNode {
  return new RaftNode({ id, voters, electionTick: 10, heartbeatTick: 1, random: prng(7), ...extra });
}

/** Log Matching and Leader Completeness over the live cores of a cluster (throws RaftSafetyError). */
export function checkLogs(c: Cluster): void {
  c.checker.checkLogs([...c.nodes.values()].map((n) => n.core));
}
