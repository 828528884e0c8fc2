// A node's metrics as plain data: counters, gauges and histograms keyed by name
// and labels. Actors update them through `metricsOf(env)`; nothing here reads the
// clock or does I/O, so the simulator runs the same code and stays deterministic.
// The real host renders a registry as Prometheus text (transport/metrics-http.ts).
import type { Env } from './env.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';
export type Labels = Readonly<Record<string, string>>;

export interface MetricSample {
  readonly labels: Labels;
  /** Counters and gauges. */
  readonly value: number;
  /** Histograms: cumulative counts per upper bound (the last bound is +Inf), their sum and count. */
  readonly buckets?: readonly number[];
  readonly sum?: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly bounds?: readonly number[];
  readonly samples: readonly MetricSample[];
}

/** Seconds; from 1 ms (a cached reply) to 10 s (a request near its deadline). */
export const LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Series {
  labels: Labels;
  value: number;
  counts?: number[];
  sum?: number;
}

interface Family {
  name: string;
  help: string;
  type: MetricType;
  bounds?: readonly number[];
  series: Map<string, Series>;
  /** Read at snapshot time: values that live elsewhere (a store's used bytes, a Raft term). */
  collect?: () => ReadonlyArray<readonly [Labels, number]>;
}

export interface MetricDef {
  readonly name: string;
  readonly help: string;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

export class Metrics {
  private readonly families = new Map<string, Family>();

  private family(name: string, help: string, type: MetricType, bounds?: readonly number[]): Family {
    let f = this.families.get(name);
    if (f) {
      if (f.type !== type) throw new Error(`metric ${name} is a ${f.type}, not a ${type}`);
      return f;
    }
    if (!NAME.test(name)) throw new Error(`bad metric name ${JSON.stringify(name)}`);
    f = { name, help, type, series: new Map(), ...(bounds ? { bounds } : {}) };
    this.families.set(name, f);
    return f;
  }

  private series(f: Family, labels: Labels): Series {
    const k = labelKey(labels);
    let s = f.series.get(k);
    if (!s) {
      s = { labels: { ...labels }, value: 0 };
      if (f.bounds) {
        s.counts = new Array<number>(f.bounds.length + 1).fill(0);
        s.sum = 0;
      }
      f.series.set(k, s);
    }
    return s;
  }

  /** Declares a metric so it shows (at zero) before anything happens. */
  declare(def: MetricDef, type: MetricType, bounds: readonly number[] = LATENCY_BUCKETS): void {
    const f = this.family(def.name, def.help, type, type === 'histogram' ? bounds : undefined);
    if (f.series.size === 0 && !f.collect) this.series(f, {});
  }

  inc(def: MetricDef, by = 1, labels: Labels = {}): void {
    if (!(by >= 0)) throw new Error(`counter ${def.name} cannot go down (by ${by})`);
    this.series(this.family(def.name, def.help, 'counter'), labels).value += by;
  }

  set(def: MetricDef, value: number, labels: Labels = {}): void {
    this.series(this.family(def.name, def.help, 'gauge'), labels).value = value;
  }

  observe(def: MetricDef, value: number, labels: Labels = {}, bounds: readonly number[] = LATENCY_BUCKETS): void {
    const f = this.family(def.name, def.help, 'histogram', bounds);
    const s = this.series(f, labels);
    const b = f.bounds!;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    s.counts![i]!++;
    s.sum! += value;
    s.value++;
  }

  /** A counter or gauge whose samples are read when a snapshot is taken. */
  collect(def: MetricDef, type: 'counter' | 'gauge', fn: () => ReadonlyArray<readonly [Labels, number]>): void {
    this.family(def.name, def.help, type).collect = fn;
  }

  private readonly clearListeners: Array<() => void> = [];

  /** Lets counters kept outside the registry (collected ones) restart from zero on clear(). */
  onClear(fn: () => void): void {
    this.clearListeners.push(fn);
  }

  /** Zeroes every counter and histogram (fsadmin metrics clear); gauges stay. */
  clear(): void {
    for (const fn of this.clearListeners) fn();
    for (const f of this.families.values()) {
      if (f.type === 'gauge' || f.collect) continue;
      for (const s of f.series.values()) {
        s.value = 0;
        if (s.counts) s.counts.fill(0);
        if (s.sum !== undefined) s.sum = 0;
      }
    }
  }

  /** One sample's value (counters and gauges; a histogram's count), or undefined. */
  value(name: string, labels: Labels = {}): number | undefined {
    const fam = this.snapshot().find((f) => f.name === name);
    return fam?.samples.find((s) => labelKey(s.labels) === labelKey(labels))?.value;
  }

  snapshot(): MetricFamily[] {
    const out: MetricFamily[] = [];
    for (const f of [...this.families.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      let samples: MetricSample[];
      if (f.collect) {
        samples = f.collect().map(([labels, value]) => ({ labels, value }));
      } else {
        samples = [...f.series.values()].map((s) => {
          if (!s.counts) return { labels: s.labels, value: s.value };
          let acc = 0;
          const buckets = s.counts.map((c) => (acc += c));
          return { labels: s.labels, value: s.value, buckets, sum: s.sum! };
        });
      }
      out.push({ name: f.name, help: f.help, type: f.type, ...(f.bounds ? { bounds: f.bounds } : {}), samples });
    }
    return out;
  }
}

const registries = new WeakMap<object, Metrics>();

/** The registry of the node an Env belongs to (made on first use). */
export function metricsOf(env: Env): Metrics {
  let m = registries.get(env);
  if (!m) registries.set(env, (m = new Metrics()));
  return m;
}

/** Awaits `work` and records how long it took, in seconds of the Env's clock, failed or not. */
export async function timed<T>(env: Env, def: MetricDef, work: Promise<T>, labels: Labels = {}): Promise<T> {
  const start = env.now();
  try {
    return await work;
  } finally {
    metricsOf(env).observe(def, (env.now() - start) / 1000, labels);
  }
}

/** A metric's name and help text, for the tables of metrics each part of strata declares. */
export const metricDef = (name: string, help: string): MetricDef => ({ name, help });

/**
 * Every metric strata exports, with the Alluxio metric it mirrors. Worker metrics
 * are summed by the leading master into the cluster ones (from heartbeats).
 */
export const METRIC = {
  rpcServer: metricDef('strata_rpc_server_duration_seconds', 'Time to serve one request, by operation (Alluxio: Master.<Op>/Worker.<Op> timers).'),
  rpcServerErrors: metricDef('strata_rpc_server_errors_total', 'Requests answered with an error, by operation and code.'),
  journalCommit: metricDef('strata_master_journal_commit_duration_seconds', 'Time from proposing a journal entry until it is durable and applied (Alluxio: Master.JournalFlushTimer).'),
  raftTerm: metricDef('strata_master_raft_term', 'The embedded journal\'s current Raft term (0 with the UFS journal).'),
  isLeader: metricDef('strata_master_is_leader', '1 while this master leads (serves the namespace), else 0.'),
  leaderChanges: metricDef('strata_master_leader_changes_total', 'Times this master became the leader (Alluxio: Master.JournalGainPrimacyTimer count).'),
  totalPaths: metricDef('strata_master_total_paths', 'Files and directories in the namespace (Alluxio: Master.TotalPaths).'),
  workers: metricDef('strata_cluster_workers', 'Live workers (Alluxio: Cluster.Workers).'),
  lostWorkers: metricDef('strata_cluster_lost_workers', 'Workers marked lost (Alluxio: Cluster.LostWorkers).'),
  bytesReadCache: metricDef('strata_worker_bytes_read_cache_total', 'Bytes served from worker storage (Alluxio: Worker.BytesReadAlluxio).'),
  bytesReadRemote: metricDef('strata_worker_bytes_read_remote_total', 'Bytes streamed to clients over the network, from storage or read through from the UFS (Alluxio: Worker.BytesReadRemote; strata has no short-circuit reads).'),
  bytesReadUfs: metricDef('strata_worker_bytes_read_ufs_total', 'Bytes read from under file systems (Alluxio: Worker.BytesReadPerUfs).'),
  bytesWrittenCache: metricDef('strata_worker_bytes_written_cache_total', 'Bytes written to worker storage (Alluxio: Worker.BytesWrittenAlluxio).'),
  bytesWrittenUfs: metricDef('strata_worker_bytes_written_ufs_total', 'Bytes written to under file systems (Alluxio: Worker.BytesWrittenPerUfs).'),
  evictions: metricDef('strata_worker_blocks_evicted_total', 'Blocks evicted to make room (Alluxio: Worker.BlocksEvicted).'),
  capacityTotal: metricDef('strata_worker_capacity_total_bytes', 'Storage capacity, by tier (Alluxio: Worker.CapacityTotal).'),
  capacityUsed: metricDef('strata_worker_capacity_used_bytes', 'Storage in use, by tier (Alluxio: Worker.CapacityUsed).'),
  capacityFree: metricDef('strata_worker_capacity_free_bytes', 'Free storage, by tier (Alluxio: Worker.CapacityFree).'),
  clusterBytesReadCache: metricDef('strata_cluster_bytes_read_cache_total', 'Bytes all workers served from their storage (Alluxio: Cluster.BytesReadAlluxio).'),
  clusterBytesReadRemote: metricDef('strata_cluster_bytes_read_remote_total', 'Bytes all workers streamed to clients (Alluxio: Cluster.BytesReadRemote).'),
  clusterBytesReadUfs: metricDef('strata_cluster_bytes_read_ufs_total', 'Bytes all workers read from under file systems (Alluxio: Cluster.BytesReadUfsAll).'),
  clusterBytesWrittenCache: metricDef('strata_cluster_bytes_written_cache_total', 'Bytes all workers wrote to their storage (Alluxio: Cluster.BytesWrittenAlluxio).'),
  clusterBytesWrittenUfs: metricDef('strata_cluster_bytes_written_ufs_total', 'Bytes all workers wrote to under file systems (Alluxio: Cluster.BytesWrittenUfsAll).'),
  clientBytesReadLocal: metricDef('strata_client_bytes_read_local_total', 'Bytes a client read short-circuit from block files on its host, by client, from its metrics heartbeats (Alluxio: Client.BytesReadLocal).'),
  clientBytesReadRemote: metricDef('strata_client_bytes_read_remote_total', 'Bytes a client had streamed from workers, by client, from its metrics heartbeats (Alluxio: Client.BytesReadRemote).'),
  clusterBytesReadLocal: metricDef('strata_cluster_bytes_read_local_total', 'Bytes all clients read short-circuit, from their metrics heartbeats (Alluxio: Cluster.BytesReadLocal).'),
  clusterEvictions: metricDef('strata_cluster_blocks_evicted_total', 'Blocks evicted on all workers.'),
  clusterThroughput: metricDef('strata_cluster_throughput_bytes_per_second', 'Bytes per second between the last two worker reports, by kind (Alluxio: Cluster.*Throughput).'),
  clusterHitRate: metricDef('strata_cluster_cache_hit_rate', 'Share of bytes read that came from worker storage rather than the UFS, 0 to 1 (Alluxio: Cluster.CacheHitRate).'),
  clusterCapacityTotal: metricDef('strata_cluster_capacity_total_bytes', 'Storage capacity of all live workers, by tier (Alluxio: Cluster.CapacityTotal).'),
  clusterCapacityUsed: metricDef('strata_cluster_capacity_used_bytes', 'Storage in use on all live workers, by tier (Alluxio: Cluster.CapacityUsed).'),
  clusterCapacityFree: metricDef('strata_cluster_capacity_free_bytes', 'Free storage on all live workers, by tier (Alluxio: Cluster.CapacityFree).'),
} as const;
