// What a scenario is and how one seed of it runs. A scenario builds a cluster
// from production actors, drives a workload, injects faults and checks
// invariants; everything it does goes through the context, so the seed alone
// decides the run. Adding one is a file in sim/scenarios/ plus a line in its index.
import { performance } from 'node:perf_hooks';
import { SimCluster, type ClusterOptions } from './cluster.js';
import { Network, QUIET_NETWORK, swarmFaults, type NetworkFaults } from './network.js';
import { Prng } from './prng.js';
import { SCENARIOS } from './scenarios/index.js';
import { SimFailure, Simulation, describeError, type RunOptions, type RunOutcome } from './simulation.js';

export interface ScenarioContext {
  readonly seed: number;
  readonly sim: Simulation;
  readonly cluster: SimCluster;
  readonly net: Network;
  /** The scenario's own stream (workload choices, fault schedule). */
  readonly rng: Prng;
  /** Fails the run with `reason`; throws, so it also aborts the caller. */
  fail(reason: string): never;
  /** Fails the run unless `cond` holds. */
  check(cond: boolean, reason: string | (() => string)): void;
  /** Runs the simulation (see Simulation.run). */
  run(opts: RunOptions): Promise<RunOutcome>;
  /** Runs the simulation until `p` settles and returns its value. */
  settle<T>(p: Promise<T>, opts?: { timeoutMs?: number }): Promise<T>;
  /** Adds a line to the run's log (printed when it fails). */
  log(line: string): void;
}

export interface Scenario {
  readonly name: string;
  /** One line, shown by `strata sim list`. */
  readonly description: string;
  /**
   * The network's fault rates: 'swarm' (the default) draws them from the seed,
   * 'quiet' starts without faults; a function may derive them from the seed's draw.
   */
  readonly network?: 'swarm' | 'quiet' | ((rng: Prng) => NetworkFaults);
  readonly cluster?: ClusterOptions;
  run(ctx: ScenarioContext): Promise<void>;
}

export interface ScenarioResult {
  seed: number;
  trace: string;
  ok: boolean;
  reason?: string;
  events: number;
  simMs: number;
  wallMs: number;
  logs?: string[];
}

export interface RunScenarioOptions {
  /** Return the log even when the run passes. */
  logs?: boolean;
  /** A run that fires more events than this fails (a livelock guard). */
  maxEvents?: number;
  /** Extra cluster options (e.g. echoLog while debugging). */
  cluster?: ClusterOptions;
}

export function listScenarios(): readonly Scenario[] {
  return SCENARIOS;
}

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

/** Simulations running in this process: where an unhandled rejection is charged. */
const active = new Set<Simulation>();
let rejectionHook: ((e: unknown) => void) | undefined;

function watchRejections(sim: Simulation): () => void {
  active.add(sim);
  if (rejectionHook === undefined) {
    // An actor's floating promise that rejects is a bug in that actor: fail the
    // run rather than the process. Runs are sequential in practice; if several
    // are active the rejection cannot be attributed, so all of them fail.
    rejectionHook = (e: unknown) => {
      for (const s of active) s.fail(new SimFailure(`unhandled rejection: ${describeError(e)}`, s.now, e instanceof Error ? e.stack : undefined));
    };
    process.on('unhandledRejection', rejectionHook);
  }
  return () => {
    active.delete(sim);
    if (active.size === 0 && rejectionHook !== undefined) {
      process.off('unhandledRejection', rejectionHook);
      rejectionHook = undefined;
    }
  };
}

export interface SimBed {
  sim: Simulation;
  net: Network;
  cluster: SimCluster;
  /** The scenario's stream, independent of the network's and the nodes'. */
  rng: Prng;
}

/**
 * A simulation, network and empty cluster for one seed: what a scenario runs on,
 * and what unit tests use directly. `network` as in Scenario.network.
 */
export function createSimBed(seed: number, opts: { network?: Scenario['network']; cluster?: ClusterOptions } = {}): SimBed {
  const sim = new Simulation();
  const root = new Prng(seed);
  const n = opts.network ?? 'swarm';
  const faults = n === 'quiet' ? QUIET_NETWORK : typeof n === 'function' ? n(root.fork('faults')) : swarmFaults(root.fork('faults'));
  const net = new Network(sim, root.fork('network'), faults);
  // Swarm runs also vary how far node clocks drift apart: from NTP-tight to seconds off.
  const skew = n === 'quiet' ? 0 : root.fork('skew').pick([0, 2, 50, 500, 3000]);
  const cluster = new SimCluster(sim, net, root.fork('cluster'), { maxSkewMs: skew, ...opts.cluster });
  return { sim, net, cluster, rng: root.fork('scenario') };
}

export async function runScenarioObject(scenario: Scenario, seed: number, opts: RunScenarioOptions = {}): Promise<ScenarioResult> {
  const wallStart = performance.now();
  const { sim, net, cluster, rng } = createSimBed(seed, {
    ...(scenario.network !== undefined ? { network: scenario.network } : {}),
    cluster: { ...scenario.cluster, ...opts.cluster },
  });
  const budget = opts.maxEvents ?? 20_000_000;
  const ctx: ScenarioContext = {
    seed,
    sim,
    cluster,
    net,
    rng,
    fail(reason: string): never {
      throw sim.fail(new SimFailure(reason, sim.now));
    },
    check(cond, reason) {
      if (!cond) ctx.fail(typeof reason === 'function' ? reason() : reason);
    },
    async run(runOpts) {
      const left = budget - sim.events;
      const out = await sim.run({ ...runOpts, maxEvents: Math.min(runOpts.maxEvents ?? Number.POSITIVE_INFINITY, left) });
      if (sim.events >= budget) ctx.fail(`event budget of ${budget} exhausted at ${sim.now.toFixed(0)} ms (livelock?)`);
      return out;
    },
    settle(p, settleOpts) {
      // Bounded by default: a promise nobody will settle must fail the seed, not hang it.
      return sim.settle(p, { timeoutMs: 600_000, ...settleOpts, maxEvents: Math.max(0, budget - sim.events) });
    },
    log(line) {
      sim.log(`scenario ${line}`);
    },
  };
  net.startNemesis();
  const unwatch = watchRejections(sim);
  let reason: string | undefined;
  try {
    await scenario.run(ctx);
  } catch (e) {
    // The recorded failure is the root cause; what the scenario threw may be its echo.
    reason = sim.failure?.reason ?? describeError(sim.fail(e));
  } finally {
    // Node reports unhandled rejections only once its tick queue is empty, which
    // the run loop reaches at its periodic yields; one macrotask turn here makes
    // sure a rejection from the last stretch is charged to this run.
    await new Promise<void>((r) => setImmediate(r));
    unwatch();
  }
  if (reason === undefined && sim.failure) reason = sim.failure.reason;
  const ok = reason === undefined;
  return {
    seed,
    trace: sim.trace.hex(),
    ok,
    ...(ok ? {} : { reason }),
    events: sim.events,
    simMs: sim.now,
    wallMs: performance.now() - wallStart,
    ...(!ok || opts.logs ? { logs: sim.logs.lines() } : {}),
  };
}

export function runScenario(name: string, seed: number, opts: RunScenarioOptions = {}): Promise<ScenarioResult> {
  const s = findScenario(name);
  if (!s) return Promise.reject(new Error(`unknown scenario ${JSON.stringify(name)}; known: ${SCENARIOS.map((x) => x.name).join(', ')}`));
  return runScenarioObject(s, seed, opts);
}
