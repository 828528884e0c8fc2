// A worker's metrics: read from its counters and its store when a snapshot is
// taken, and the same values summarised for the master in every heartbeat.
import { METRIC, type Labels, type MetricDef, type Metrics } from '../metrics.js';
import type { WorkerActor } from './worker.js';

/** One value a worker reports to the master; `tier` for capacities. */
export interface ReportedMetric {
  name: string;
  tier?: string;
  value: number;
}

type Counters = WorkerActor['counters'];
type CounterName = keyof Counters;

const COUNTERS: ReadonlyArray<readonly [MetricDef, CounterName]> = [
  [METRIC.bytesReadCache, 'bytesReadCache'],
  [METRIC.bytesReadRemote, 'bytesServed'],
  [METRIC.bytesReadUfs, 'bytesReadUfs'],
  [METRIC.bytesWrittenCache, 'bytesWrittenCache'],
  [METRIC.bytesWrittenUfs, 'bytesWrittenUfs'],
  [METRIC.evictions, 'blocksEvicted'],
];

const baselines = new WeakMap<WorkerActor, Partial<Counters>>();

function counter(w: WorkerActor, k: CounterName): number {
  return w.counters[k] - (baselines.get(w)?.[k] ?? 0);
}

/** Capacity per tier; empty until the store has been opened. */
function tiers(w: WorkerActor): Array<{ tier: string; total: number; used: number }> {
  // Undefined until start() has opened it.
  const store = w.store as WorkerActor['store'] | undefined;
  if (!store) return [];
  return store.levels.map((tier) => ({ tier, total: store.capacityBytes(tier), used: store.usedBytes(tier) }));
}

/** Makes the worker's metrics part of `m`; `metrics clear` restarts its counters from zero. */
export function registerWorkerMetrics(m: Metrics, w: WorkerActor): void {
  for (const [d, k] of COUNTERS) m.collect(d, 'counter', () => [[{}, counter(w, k)]]);
  const perTier = (f: (t: { total: number; used: number }) => number) => () => tiers(w).map((t) => [{ tier: t.tier } as Labels, f(t)] as const);
  m.collect(METRIC.capacityTotal, 'gauge', perTier((t) => t.total));
  m.collect(METRIC.capacityUsed, 'gauge', perTier((t) => t.used));
  m.collect(METRIC.capacityFree, 'gauge', perTier((t) => t.total - t.used));
  m.onClear(() => baselines.set(w, { ...w.counters }));
}

/** What a heartbeat carries: the counters and per-tier capacity, for the cluster totals. */
export function workerReport(w: WorkerActor): ReportedMetric[] {
  const out: ReportedMetric[] = COUNTERS.map(([d, k]) => ({ name: d.name, value: counter(w, k) }));
  for (const t of tiers(w)) {
    out.push({ name: METRIC.capacityTotal.name, tier: t.tier, value: t.total });
    out.push({ name: METRIC.capacityUsed.name, tier: t.tier, value: t.used });
  }
  return out;
}
