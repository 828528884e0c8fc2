// The Raft scenarios' cluster: RaftDrivers hosted in small actors whose state
// machine is a deduplicating command log, clients that propose through whichever
// node they believe leads and follow NOT_LEADER hints, a fault schedule, the Raft
// safety checker evaluated throughout, a liveness phase, and the end-of-run
// checks (every acknowledged command applied exactly once, at the position it
// was acknowledged with, in the same order on every node).
import type { Actor, Env, NodeId } from '../actors/env.js';
import { isStrataError, type Envelope } from '../actors/protocol/envelope.js';
import { NotLeaderError, RaftDriver, isRaftMessage, type RaftDriverOptions, type RaftNode, type StateMachine } from '../actors/raft/index.js';
import { RaftChecker, type RaftView } from './checkers/raft.js';
import { LOCAL_DISK, swarmDiskFaults, type StorageModel } from './env.js';
import type { Prng } from './prng.js';
import type { ScenarioContext } from './scenario.js';

const te = new TextEncoder();
const td = new TextDecoder();

/**
 * A log of command ids. A command applied again (a client's retry after an
 * unknown outcome) is not appended twice, and answers with its first position,
 * as the master's namespace answers a retried create.
 */
export class CommandLog implements StateMachine<number> {
  log: string[] = [];
  private readonly at = new Map<string, number>();

  apply(data: Uint8Array): number {
    const id = td.decode(data);
    const seen = this.at.get(id);
    if (seen !== undefined) return seen;
    this.log.push(id);
    this.at.set(id, this.log.length);
    return this.log.length;
  }

  snapshot(): Uint8Array {
    return te.encode(JSON.stringify(this.log));
  }

  restore(data: Uint8Array): void {
    this.log = data.byteLength === 0 ? [] : (JSON.parse(td.decode(data)) as string[]);
    this.at.clear();
    this.log.forEach((id, i) => this.at.set(id, i + 1));
  }
}

export class RaftKvActor implements Actor {
  readonly sm = new CommandLog();
  readonly driver: RaftDriver<number>;

  constructor(env: Env, opts: RaftDriverOptions) {
    this.driver = new RaftDriver(env, this.sm, opts);
  }

  start(): Promise<void> {
    return this.driver.start();
  }

  receive(e: Envelope): void {
    if (isRaftMessage(e.m)) this.driver.receive(e);
  }

  stop(): Promise<void> {
    return this.driver.stop();
  }
}

export type FaultEvent =
  | { readonly at: number; readonly k: 'crash'; readonly node: number; readonly downMs: number }
  | { readonly at: number; readonly k: 'crash-leader'; readonly downMs: number }
  | { readonly at: number; readonly k: 'isolate'; readonly node: number; readonly ms: number }
  | { readonly at: number; readonly k: 'isolate-leader'; readonly ms: number }
  | { readonly at: number; readonly k: 'split'; readonly ms: number }
  | { readonly at: number; readonly k: 'restart-all' }
  | { readonly at: number; readonly k: 'transfer'; readonly to: number }
  | { readonly at: number; readonly k: 'add' | 'remove'; readonly node: number };

export interface RaftSimConfig {
  readonly nodes: number;
  /** Nodes that start as voters (the rest wait to be added); all by default. */
  readonly initialVoters?: number;
  readonly clients: number;
  /** Virtual ms of faults and load. */
  readonly faultMs: number;
  /** The faults, by virtual ms from the start of the fault phase. */
  readonly schedule: readonly FaultEvent[];
  readonly checkpointEntries?: number;
  readonly snapshotChunkBytes?: number;
  readonly diskFaults?: boolean;
  /** Client think time between commands (ms). */
  readonly thinkMs?: readonly [number, number];
  /** Bound on the liveness phase (virtual ms). */
  readonly livenessMs?: number;
  /** Check that a leader is elected within this long after start, before any fault. */
  readonly initialElectionMs?: number;
  /** After each leader crash or isolation, a new leader must appear within this long. */
  readonly reelectionMs?: number;
}

export const RAFT_TIMING = {
  heartbeatIntervalMs: 50,
  electionTimeoutMinMs: 300,
  electionTimeoutMaxMs: 600,
} as const;

export function nodeName(i: number): NodeId {
  return `master-${i}`;
}

interface Acked {
  readonly id: string;
  readonly pos: number;
}

/** Runs one Raft simulation as configured; fails the context on any violation. */
export async function runRaftSim(ctx: ScenarioContext, cfg: RaftSimConfig): Promise<void> {
  const { sim, cluster, net, rng } = ctx;
  const ids = Array.from({ length: cfg.nodes }, (_, i) => nodeName(i));
  const initial = ids.slice(0, cfg.initialVoters ?? cfg.nodes);
  const checker = new RaftChecker();
  const guard = (fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      ctx.fail(e instanceof Error ? e.message : String(e));
    }
  };
  const figure8 = new Figure8Detector();
  const observer = {
    applied: (node: RaftNode, e: Parameters<RaftChecker['applied']>[1]) => guard(() => checker.applied(node, e)),
    afterReady: (node: RaftNode) => {
      guard(() => checker.observe(node));
      if (node.status().role === 'leader') figure8.observe(node, views());
    },
  };
  const diskModels = new Map<NodeId, StorageModel>();
  for (const id of ids) {
    const voters = initial.includes(id) ? initial : [];
    const model = cfg.diskFaults ? swarmDiskFaults(rng.fork('disk:' + id)) : LOCAL_DISK;
    diskModels.set(id, model);
    const opts: RaftDriverOptions = {
      ...RAFT_TIMING,
      voters,
      dir: 'raft',
      checkpointEntries: cfg.checkpointEntries ?? 0,
      ...(cfg.snapshotChunkBytes !== undefined ? { snapshotChunkBytes: cfg.snapshotChunkBytes } : {}),
      segmentBytes: 2048,
      observer,
    };
    cluster.addNode(id, (env) => new RaftKvActor(env, opts), { disk: model, allowStartFailure: true });
  }
  const up = (id: NodeId): RaftKvActor | undefined => (cluster.state(id) === 'down' ? undefined : cluster.actor<RaftKvActor>(id));
  const views = (): RaftView[] => {
    const out: RaftView[] = [];
    for (const id of ids) {
      const n = up(id)?.driver.node;
      if (n) out.push(n);
    }
    return out;
  };
  const leaderNow = (): NodeId | undefined => {
    let best: NodeId | undefined;
    let term = -1;
    for (const id of ids) {
      const a = up(id);
      const st = a?.driver.status();
      if (st && st.role === 'leader' && st.term > term && a!.driver.failed === null) {
        best = id;
        term = st.term;
      }
    }
    return best;
  };
  const describeNodes = (): string => {
    const l = leaderNow();
    const progress = l !== undefined ? up(l)!.driver.node?.status().progress : undefined;
    return ids
      .map((id) => {
        const a = up(id);
        if (!a) return `${id}=down`;
        const st = a.driver.status();
        const pr = progress?.get(id);
        return `${id}=${st.role}/t${st.term}/commit${st.commit}/applied${st.applied}/last${st.lastIndex}/snap${st.snapshotIndex}${pr ? `/pr(${pr.state} m${pr.match} n${pr.next})` : ''}`;
      })
      .join(' ');
  };
  // The pairwise log checks, on a short timer for the whole run.
  let sweeping = true;
  const sweep = (): void => {
    if (!sweeping) return;
    guard(() => checker.checkLogs(views()));
    figure8.sweep(views());
    sim.schedule(100, 'scenario', 'raft-check', sweep);
  };

  const start = (id: NodeId): void => {
    if (cluster.state(id) === 'down') cluster.start(id).catch(() => undefined);
  };
  await ctx.settle(Promise.all(ids.map((id) => cluster.start(id).catch(() => undefined))));
  sweep();

  if (cfg.initialElectionMs !== undefined) {
    const t0 = sim.now;
    await ctx.run({ for: cfg.initialElectionMs, stopWhen: () => leaderNow() !== undefined });
    ctx.check(leaderNow() !== undefined, `no leader elected within ${cfg.initialElectionMs} ms of start`);
    ctx.log(`initial leader ${leaderNow()} after ${(sim.now - t0).toFixed(0)} ms`);
  }

  // ---- fault schedule ----
  const phaseStart = sim.now;
  const faultEnd = phaseStart + cfg.faultMs;
  const reelections: Array<{ at: number; old: NodeId; term: number }> = [];
  const electionTimes: number[] = [];
  // After the leader is lost, the others must elect a new one within the bound
  // (scenarios that ask for this keep a connected majority up meanwhile).
  const expectReelection = (old: NodeId, faultMs: number): void => {
    const bound = cfg.reelectionMs;
    if (bound === undefined) return;
    const term = up(old)!.driver.status().term;
    const at = sim.now;
    reelections.push({ at, old, term });
    const newer = (): NodeId | undefined => ids.find((id) => id !== old && up(id)?.driver.status().role === 'leader' && up(id)!.driver.status().term > term);
    const poll = (): void => {
      // A short isolation may end before anyone times out: the old leader simply carries on.
      const resumed = sim.now >= at + faultMs && leaderNow() === old;
      if (newer() !== undefined || resumed) {
        electionTimes.push(sim.now - at);
        return;
      }
      if (sim.now - at >= bound) ctx.fail(`no new leader within ${bound} ms after losing ${old} (term ${term}): ${describeNodes()}`);
      sim.schedule(10, 'scenario', 'reelection-check', poll);
    };
    poll();
  };
  const restartLater = (id: NodeId, ms: number): void => void sim.schedule(ms, 'scenario', 'restart', () => start(id));
  for (const ev of cfg.schedule) {
    sim.at(phaseStart + ev.at, 'scenario', 'fault:' + ev.k, () => {
      if (sim.now >= faultEnd) return;
      switch (ev.k) {
        case 'crash':
        case 'crash-leader': {
          const id = ev.k === 'crash' ? ids[ev.node % ids.length]! : leaderNow();
          if (id === undefined || cluster.state(id) === 'down') return;
          if (ev.k === 'crash-leader') expectReelection(id, ev.downMs);
          cluster.crash(id);
          restartLater(id, ev.downMs);
          return;
        }
        case 'isolate':
        case 'isolate-leader': {
          const id = ev.k === 'isolate' ? ids[ev.node % ids.length]! : leaderNow();
          if (id === undefined) return;
          if (ev.k === 'isolate-leader') expectReelection(id, ev.ms);
          net.isolate(id);
          sim.schedule(ev.ms, 'scenario', 'heal', () => net.heal());
          return;
        }
        case 'split':
          net.splitRandom(rng);
          sim.schedule(ev.ms, 'scenario', 'heal', () => net.heal());
          return;
        case 'restart-all':
          for (const id of ids) cluster.crash(id);
          for (const id of ids) restartLater(id, rng.range(0, 200));
          return;
        case 'transfer': {
          const l = leaderNow();
          if (l !== undefined) up(l)!.driver.transferLeadership(ids[ev.to % ids.length]!);
          return;
        }
        case 'add':
        case 'remove': {
          const l = leaderNow();
          if (l === undefined) return;
          const target = ids[ev.node % ids.length]!;
          const d = up(l)!.driver;
          const p = ev.k === 'add' ? d.addServer(target) : d.removeServer(target);
          ctx.log(`${ev.k} ${target} via ${l}`);
          p.then(() => ctx.log(`${ev.k} ${target} applied`), (e: unknown) => ctx.log(`${ev.k} ${target} failed: ${String(e)}`));
          return;
        }
      }
    });
  }
  // Nodes whose disk failed stop; the operator's answer is a restart.
  const medic = (): void => {
    if (sim.now >= faultEnd) return;
    for (const id of ids) {
      const a = up(id);
      if (a && a.driver.failed !== null) {
        cluster.crash(id);
        restartLater(id, rng.range(50, 500));
      } else if (cluster.state(id) === 'down' && rng.chance(0.1)) start(id);
    }
    sim.schedule(250, 'scenario', 'medic', medic);
  };
  medic();

  // ---- clients ----
  const acked: Acked[] = [];
  const clientsDone = new Set<number>();
  let livenessDeadline = Infinity;
  const think = cfg.thinkMs ?? [5, 40];
  const clientLoop = async (c: number, crng: Prng): Promise<void> => {
    let target = ids[crng.int(ids.length)]!;
    for (let seq = 1; sim.now < faultEnd; seq++) {
      const id = `c${c}:${seq}`;
      const data = te.encode(id);
      // Retries keep the same id: the state machine applies it at most once.
      for (let attempt = 0; ; attempt++) {
        if (sim.now > livenessDeadline) ctx.fail(`client ${c} could not commit ${id} within the liveness bound: ${describeNodes()}`);
        const a = up(target);
        let outcome: { ok: true; pos: number } | { ok: false; hint: NodeId | null } = { ok: false, hint: null };
        if (a) {
          const res = await new Promise<{ ok: true; pos: number } | { ok: false; hint: NodeId | null }>((resolve) => {
            const timer = sim.schedule(1000, 'scenario', 'client-timeout', () => resolve({ ok: false, hint: null }));
            a.driver.propose(data).then(
              (pos) => {
                timer.cancel();
                resolve({ ok: true, pos });
              },
              (e: unknown) => {
                timer.cancel();
                if (!isStrataError(e)) ctx.fail(`propose rejected with a non-StrataError: ${String(e)}`);
                resolve({ ok: false, hint: e instanceof NotLeaderError ? (e.leader ?? null) : null });
              },
            );
          });
          outcome = res;
        }
        if (outcome.ok) {
          acked.push({ id, pos: outcome.pos });
          break;
        }
        target = outcome.hint !== null && outcome.hint !== target ? outcome.hint : ids[crng.int(ids.length)]!;
        await new Promise<void>((r) => sim.schedule(crng.range(5, 50), 'scenario', 'client-backoff', r));
      }
      await new Promise<void>((r) => sim.schedule(crng.range(think[0], think[1]), 'scenario', 'think', r));
    }
    clientsDone.add(c);
  };
  const clients = Array.from({ length: cfg.clients }, (_, c) => clientLoop(c, rng.fork('client:' + c)));

  // Re-elections: checked as they come, while faults may still be running.
  await ctx.run({ until: faultEnd });
  if (reelections.length > 0) ctx.log(`leaders lost=${reelections.length} re-elected in ms: ${electionTimes.map((t) => t.toFixed(0)).join(',')}`);

  // ---- liveness ----
  net.faultsOff();
  for (const id of ids) {
    cluster.setDiskModel(id, LOCAL_DISK);
    const a = up(id);
    if (a && a.driver.failed !== null) cluster.crash(id);
    start(id);
  }
  const bound = cfg.livenessMs ?? 10_000;
  livenessDeadline = sim.now + bound;
  await ctx.settle(Promise.all(clients), { timeoutMs: bound + 2000 });
  // A leader, and a command of the liveness phase committed and applied everywhere.
  const voters = (): NodeId[] => {
    const l = leaderNow();
    return l ? [...up(l)!.driver.status().voters] : [];
  };
  const probe = `liveness:${ctx.seed}`;
  let probePos = 0;
  for (;;) {
    ctx.check(sim.now <= livenessDeadline, () => `liveness: no leader committed a new entry within ${bound} ms after the faults stopped (leader ${leaderNow() ?? 'none'})`);
    const l = leaderNow();
    if (l !== undefined) {
      const r = await ctx.settle(
        up(l)!.driver.propose(te.encode(probe)).then(
          (pos) => pos,
          () => 0,
        ),
        { timeoutMs: 2000 },
      ).catch(() => 0);
      if (r > 0) {
        probePos = r;
        break;
      }
    }
    await ctx.run({ for: 100 });
  }
  const caughtUp = (): boolean => {
    const l = leaderNow();
    if (l === undefined) return false;
    const commit = up(l)!.driver.status().commit;
    return voters().every((id) => {
      const a = up(id);
      return a !== undefined && a.driver.status().applied >= commit && a.sm.log.length >= probePos;
    });
  };
  await ctx.run({ until: livenessDeadline, stopWhen: caughtUp });
  ctx.check(caughtUp(), () => `liveness: voters did not all apply the leader's commit within ${bound} ms: ${describeNodes()}`);
  sweeping = false;
  guard(() => checker.checkLogs(views()));

  // ---- the final state ----
  const l = leaderNow()!;
  const final = up(l)!.sm.log;
  for (const id of voters()) {
    const log = up(id)!.sm.log;
    for (let i = 0; i < Math.min(log.length, final.length); i++) {
      if (log[i] !== final[i]) ctx.fail(`${id} applied ${log[i]} at position ${i + 1} where ${l} applied ${final[i]}`);
    }
  }
  const count = new Map<string, number>();
  for (const id of final) count.set(id, (count.get(id) ?? 0) + 1);
  for (const a of acked) {
    ctx.check(count.get(a.id) === 1, () => `acknowledged ${a.id} is applied ${count.get(a.id) ?? 0} times`);
    ctx.check(final[a.pos - 1] === a.id, () => `acknowledged ${a.id} at position ${a.pos}, but ${final[a.pos - 1]} is there`);
  }
  ctx.check(clientsDone.size === cfg.clients, 'a client did not finish');
  ctx.log(`acked=${acked.length} applied=${final.length} leaders=${checker.leaders.size} sweeps=${checker.checks}`);
  ctx.log(`figure8: ${figure8.held} old-term entries held by a majority of a leader's group uncommitted, ${figure8.overwritten} of them later overwritten`);
}

/**
 * Spots the situation of the Raft paper's Figure 8: a leader whose log holds an
 * entry of an earlier term, uncommitted, that a majority of the voters store (c);
 * the simulator sees every log, the leader itself may not know it yet. A
 * leader that committed by counting replicas would commit it; the rule commits
 * only entries of its own term, and if the entry is later overwritten (d) the
 * rule is what kept a committed entry from being lost.
 */
export class Figure8Detector {
  /** (index, term) pairs seen in situation (c), and whether each was overwritten since. */
  private readonly seen = new Map<string, { index: number; term: number; overwritten: boolean }>();

  get held(): number {
    return this.seen.size;
  }

  get overwritten(): number {
    let n = 0;
    for (const e of this.seen.values()) if (e.overwritten) n++;
    return n;
  }

  /** `leader` just finished a Ready; `views` are the nodes up now (a lower bound on who holds what). */
  observe(leader: RaftNode, views: readonly RaftView[]): void {
    const st = leader.status();
    const quorum = Math.floor(st.voters.length / 2) + 1;
    for (let i = st.commit + 1; i <= st.lastIndex; i++) {
      const term = leader.termAt(i);
      if (term === undefined || term >= st.term) break;
      if (this.seen.has(`${i}@${term}`)) continue;
      const holders = views.filter((v) => st.voters.includes(v.id) && v.termAt(i) === term).length;
      if (holders >= quorum) this.seen.set(`${i}@${term}`, { index: i, term, overwritten: false });
    }
  }

  sweep(views: readonly RaftView[]): void {
    for (const e of this.seen.values()) {
      if (e.overwritten) continue;
      if (views.some((v) => v.status().lastIndex >= e.index && v.termAt(e.index) !== undefined && v.termAt(e.index) !== e.term)) e.overwritten = true;
    }
  }
}

/** A random fault schedule over `ms` (for scenarios whose schedule comes from the seed). */
export function randomSchedule(
  rng: Prng,
  ms: number,
  opts: { nodes: number; meanGapMs: number; kinds: ReadonlyArray<FaultEvent['k']>; downMs?: readonly [number, number] },
): FaultEvent[] {
  const out: FaultEvent[] = [];
  const [dlo, dhi] = opts.downMs ?? [100, 1500];
  for (let t = rng.exp(opts.meanGapMs); t < ms; t += rng.exp(opts.meanGapMs)) {
    const k = rng.pick(opts.kinds);
    const node = rng.int(opts.nodes);
    const dur = rng.range(dlo, dhi);
    switch (k) {
      case 'crash':
        out.push({ at: t, k, node, downMs: dur });
        break;
      case 'crash-leader':
        out.push({ at: t, k, downMs: dur });
        break;
      case 'isolate':
        out.push({ at: t, k, node, ms: dur });
        break;
      case 'isolate-leader':
        out.push({ at: t, k, ms: dur });
        break;
      case 'split':
        out.push({ at: t, k, ms: dur });
        break;
      case 'restart-all':
        out.push({ at: t, k });
        break;
      case 'transfer':
        out.push({ at: t, k, to: node });
        break;
      case 'add':
      case 'remove':
        out.push({ at: t, k, node });
        break;
    }
  }
  return out;
}
