// The master's metrics: namespace and journal gauges read when a snapshot is
// taken, and the cluster totals summed from what workers report in heartbeats
// (as Alluxio's master aggregates worker metrics into Cluster.*).
import { METRIC, type Labels, type MetricDef, type Metrics } from '../metrics.js';
import { ClientTotals } from './client-totals.js';

export interface MasterView {
  paths: number;
  liveWorkers: readonly string[];
  lostWorkers: number;
  term: number;
  leader: boolean;
}

interface Reported {
  name: string;
  tier?: string | undefined;
  value: number;
}

/** Worker counters and the cluster counter each one is summed into. */
const SUMMED: ReadonlyArray<readonly [MetricDef, MetricDef, string]> = [
  [METRIC.bytesReadCache, METRIC.clusterBytesReadCache, 'read_cache'],
  [METRIC.bytesReadRemote, METRIC.clusterBytesReadRemote, 'read_remote'],
  [METRIC.bytesReadUfs, METRIC.clusterBytesReadUfs, 'read_ufs'],
  [METRIC.bytesWrittenCache, METRIC.clusterBytesWrittenCache, 'written_cache'],
  [METRIC.bytesWrittenUfs, METRIC.clusterBytesWrittenUfs, 'written_ufs'],
  [METRIC.evictions, METRIC.clusterEvictions, 'evicted'],
];

/** Throughput is measured between samples at least this far apart. */
const SAMPLE_MS = 1000;

export class ClusterMetrics {
  private readonly reports = new Map<string, Reported[]>();
  private last: { at: number; totals: number[] } | undefined;
  private prev: { at: number; totals: number[] } | undefined;
  /** What clients report in their metrics heartbeats. */
  readonly clients = new ClientTotals();

  constructor(private readonly live: () => readonly string[]) {}

  report(workerId: string, metrics: readonly Reported[], now: number): void {
    this.reports.set(workerId, [...metrics]);
    if (this.last && now - this.last.at < SAMPLE_MS) return;
    this.prev = this.last;
    this.last = { at: now, totals: SUMMED.map(([w]) => this.sum(w.name)) };
  }

  /** Sum over every worker that ever reported (counters keep what a lost worker did). */
  sum(name: string): number {
    let n = 0;
    for (const r of this.reports.values()) for (const m of r) if (m.name === name && m.tier === undefined) n += m.value;
    return n;
  }

  /** Per tier, over live workers only. */
  byTier(name: string): Map<string, number> {
    const live = new Set(this.live());
    const out = new Map<string, number>();
    for (const [id, r] of this.reports) {
      if (!live.has(id)) continue;
      for (const m of r) if (m.name === name && m.tier !== undefined) out.set(m.tier, (out.get(m.tier) ?? 0) + m.value);
    }
    return out;
  }

  throughput(): Array<[Labels, number]> {
    const { last, prev } = this;
    return SUMMED.map(([, , kind], i) => {
      const rate = last && prev && last.at > prev.at ? Math.max(0, (last.totals[i]! - prev.totals[i]!) / ((last.at - prev.at) / 1000)) : 0;
      return [{ kind }, rate];
    });
  }

  hitRate(): number {
    const cache = this.sum(METRIC.bytesReadCache.name);
    const ufs = this.sum(METRIC.bytesReadUfs.name);
    return cache + ufs === 0 ? 0 : cache / (cache + ufs);
  }

  /** After `metrics clear`: workers report from zero again with their next heartbeat. */
  clear(): void {
    this.reports.clear();
    this.clients.clear();
    this.last = this.prev = undefined;
  }
}

const clusters = new WeakMap<Metrics, ClusterMetrics>();

/** The cluster aggregate kept in a master's registry (made by registerMasterMetrics). */
export function clusterMetrics(m: Metrics): ClusterMetrics {
  const c = clusters.get(m);
  if (!c) throw new Error('registerMasterMetrics was not called on this registry');
  return c;
}

export function registerMasterMetrics(m: Metrics, view: () => MasterView): ClusterMetrics {
  const cluster = new ClusterMetrics(() => view().liveWorkers);
  clusters.set(m, cluster);
  const one = (f: (v: MasterView) => number) => () => [[{}, f(view())] as const];
  m.collect(METRIC.totalPaths, 'gauge', one((v) => v.paths));
  m.collect(METRIC.workers, 'gauge', one((v) => v.liveWorkers.length));
  m.collect(METRIC.lostWorkers, 'gauge', one((v) => v.lostWorkers));
  m.collect(METRIC.raftTerm, 'gauge', one((v) => v.term));
  m.collect(METRIC.isLeader, 'gauge', one((v) => (v.leader ? 1 : 0)));
  m.declare(METRIC.leaderChanges, 'counter');
  m.declare(METRIC.journalCommit, 'histogram');
  for (const [w, c] of SUMMED) m.collect(c, 'counter', () => [[{}, cluster.sum(w.name)]]);
  m.collect(METRIC.clusterBytesReadLocal, 'counter', () => [[{}, cluster.clients.sum(METRIC.clientBytesReadLocal.name)]]);
  for (const c of [METRIC.clientBytesReadLocal, METRIC.clientBytesReadRemote]) {
    m.collect(c, 'counter', () => cluster.clients.perClient(c.name).map(([client, v]) => [{ client }, v] as const));
  }
  m.collect(METRIC.clusterThroughput, 'gauge', () => cluster.throughput());
  m.collect(METRIC.clusterHitRate, 'gauge', () => [[{}, cluster.hitRate()]]);
  const tiers = (f: (total: number, used: number) => number) => () => {
    const total = cluster.byTier(METRIC.capacityTotal.name);
    const used = cluster.byTier(METRIC.capacityUsed.name);
    return [...total.keys()].sort().map((tier) => [{ tier } as Labels, f(total.get(tier)!, used.get(tier) ?? 0)] as const);
  };
  m.collect(METRIC.clusterCapacityTotal, 'gauge', tiers((t) => t));
  m.collect(METRIC.clusterCapacityUsed, 'gauge', tiers((_, u) => u));
  m.collect(METRIC.clusterCapacityFree, 'gauge', tiers((t, u) => t - u));
  m.onClear(() => cluster.clear());
  return cluster;
}
