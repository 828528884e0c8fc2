// Failover time of the embedded journal: from killing the leader to the first
// entry committed by the new leader (its no-op of the new term), measured two ways
// with the same Raft timing (election timeout min 500 ms, max 1000 ms, heartbeat
// 100 ms; GROUP_TIMING):
//
// - in simulation: 3 Raft nodes (the production driver and core with the
//   masters' tick, on the simulated network and disks), the leader crashed BENCH_KILLS times per seed
//   over BENCH_SEEDS seeds, at a random point of the heartbeat period; the time is
//   virtual, up to the first node that applies an entry of a newer term;
// - with real processes: 3 strata masters as in the journal benchmark (fsync on),
//   the leader SIGKILLed BENCH_REAL_KILLS times (default 10), each time once the
//   group is idle and in agreement; the parent polls the survivors' GetMasterInfo
//   every millisecond or so until one leads a newer term with a commit index past
//   the old leader's. The killed master is restarted on its old port before the next kill.
//
// Prints p50/p99/max for both and `RESULT failover ratio=<real p99 / election timeout max>`:
// lower is better, and below 1 means the p99 failover is shorter than the longest
// election timeout (with PreVote a follower campaigns between min and 2·min after
// its last heartbeat, so the floor is about min plus one election round).
// Environment: BENCH_SEEDS (default 40), BENCH_KILLS (per seed, default 5),
// BENCH_REAL_KILLS (default 10), BENCH_ONLY=sim|real.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RaftKvActor } from '../sim/raft-kv.js';
import { runScenarioObject, type Scenario } from '../sim/scenario.js';
import type { Entry, RaftNode } from '../actors/raft/index.js';
import type { StrataClient } from '../actors/client/client.js';
import { journalTickMs } from '../actors/master/journal-backend.js';
import { fail, runMain } from './entry.js';
import { Child, GROUP_TIMING, VOTERS, connectClient, masterChild, now, quantile, spawnScript, startMasterGroup, tellPeers } from './master-group.js';

const SCRIPT = fileURLToPath(import.meta.url);
const SEEDS = Number(process.env.BENCH_SEEDS ?? 40);
const KILLS = Number(process.env.BENCH_KILLS ?? 5);
const REAL_KILLS = Number(process.env.BENCH_REAL_KILLS ?? 10);
const ONLY = process.env.BENCH_ONLY;

// ---- simulation ----

function simFailovers(out: number[]): Scenario {
  return {
    name: 'bench-failover',
    description: 'leader crashes in a 3-node Raft group; time to the first entry the new leader commits',
    network: 'quiet',
    async run(ctx) {
      const { sim, cluster, rng } = ctx;
      const ids = [...VOTERS];
      let watch: { term: number; at: number } | undefined;
      const applied = (_node: RaftNode, e: Entry): void => {
        if (watch && e.term > watch.term) {
          out.push(sim.now - watch.at);
          watch = undefined;
        }
      };
      for (const id of ids) {
        cluster.addNode(id, (env) => new RaftKvActor(env, { ...GROUP_TIMING, tickMs: journalTickMs(GROUP_TIMING.heartbeatIntervalMs), voters: ids, dir: 'raft', checkpointEntries: 0, observer: { applied } }));
      }
      await ctx.settle(Promise.all(ids.map((id) => cluster.start(id))));
      const actor = (id: string): RaftKvActor | undefined => (cluster.state(id) === 'down' ? undefined : cluster.actor<RaftKvActor>(id));
      const leader = (): string | undefined => ids.find((id) => actor(id)?.driver.status().role === 'leader');
      const settled = (): boolean => {
        const l = leader();
        if (l === undefined) return false;
        const commit = actor(l)!.driver.status().commit;
        return ids.every((id) => actor(id)?.driver.status().applied === commit);
      };
      for (let k = 0; k < KILLS; k++) {
        await ctx.run({ for: 10_000, stopWhen: settled });
        ctx.check(settled(), 'the group did not settle with a leader within 10 s');
        // Somewhere in the heartbeat period, so the followers' timers are at any phase.
        await ctx.run({ for: 200 + rng.int(GROUP_TIMING.heartbeatIntervalMs) });
        const old = leader();
        if (old === undefined) continue;
        watch = { term: actor(old)!.driver.status().term, at: sim.now };
        cluster.crash(old);
        await ctx.run({ for: 20_000, stopWhen: () => watch === undefined });
        ctx.check(watch === undefined, `no entry committed by a new leader within 20 s of crashing ${old}`);
        await ctx.settle(cluster.start(old));
      }
    },
  };
}

async function simPhase(): Promise<number[]> {
  const out: number[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = await runScenarioObject(simFailovers(out), seed);
    if (!r.ok) throw new Error(`simulation seed ${seed} failed: ${r.reason}`);
  }
  return out;
}

// ---- real processes ----

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface View {
  id: string;
  role: string | undefined;
  term: number;
  commit: number;
}

async function views(client: StrataClient, ids: readonly string[]): Promise<View[]> {
  const got = await Promise.all(
    ids.map((id) =>
      client.masterInfoOf(id).then(
        (i) => ({ id, role: i.role, term: i.term ?? -1, commit: i.commit ?? -1 }),
        () => undefined,
      ),
    ),
  );
  return got.filter((v): v is View => v !== undefined);
}

async function realPhase(cleanup: Array<() => Promise<void>>): Promise<number[]> {
  const workDir = mkdtempSync(join(tmpdir(), 'strata-bench-failover-'));
  cleanup.push(async () => rmSync(workDir, { recursive: true, force: true }));
  mkdirSync(join(workDir, 'ufs'), { recursive: true });
  const { masters, addrs } = await startMasterGroup(SCRIPT, workDir, cleanup);
  const { host, client } = await connectClient(workDir, addrs);
  cleanup.push(() => host.shutdown());
  // The first write waits out the first election (the client follows NOT_LEADER hints).
  await client.mkdir('/failover', false);
  const out: number[] = [];
  for (let k = 0; k < REAL_KILLS; k++) {
    // Idle and in agreement: one leader, every master at its commit index.
    let before: View | undefined;
    const deadline = now() + 30_000;
    while (!before) {
      if (now() > deadline) throw new Error('the masters did not settle with one leader within 30 s');
      const vs = await views(client, VOTERS);
      const leaders = vs.filter((v) => v.role === 'leader');
      if (vs.length === VOTERS.length && leaders.length === 1 && vs.every((v) => v.commit === leaders[0]!.commit)) before = leaders[0];
      else await sleep(20);
    }
    await sleep(200 + Math.random() * GROUP_TIMING.heartbeatIntervalMs);
    const index = VOTERS.indexOf(before.id as (typeof VOTERS)[number]);
    const victim = masters[index]!;
    const t0 = now();
    victim.proc.kill('SIGKILL');
    const survivors = VOTERS.filter((id) => id !== before!.id);
    let took: number | undefined;
    while (took === undefined) {
      if (now() - t0 > 30_000) throw new Error(`no new leader committed within 30 s of killing ${before.id}`);
      const vs = await views(client, survivors);
      if (vs.some((v) => v.role === 'leader' && v.term > before!.term && v.commit > before!.commit)) took = now() - t0;
      else await sleep(1);
    }
    out.push(took);
    console.log(`  kill ${k + 1}: ${before.id} (term ${before.term}) -> a new leader committed after ${took.toFixed(1)} ms`);
    // Back on its old port, so the others' links to it simply reconnect.
    const port = new URL(addrs[before.id]!).port;
    const again = new Child(before.id, spawnScript(SCRIPT, '--master', String(index), workDir, port));
    masters[index] = again;
    const line = await again.next(30_000);
    if (!line.startsWith('listening ')) throw new Error(`${before.id} did not restart: ${line}`);
    await tellPeers(again, addrs);
  }
  await host.shutdown();
  await Promise.all(masters.map((m) => m.stop('quit')));
  return out;
}

// ---- report ----

function summary(name: string, xs: number[]): { p50: number; p99: number } {
  const s = [...xs].sort((a, b) => a - b);
  const p50 = quantile(s, 0.5);
  const p99 = quantile(s, 0.99);
  console.log(`${name.padEnd(10)} n=${String(s.length).padStart(4)}  p50 ${p50.toFixed(1).padStart(7)} ms  p99 ${p99.toFixed(1).padStart(7)} ms  max ${(s[s.length - 1] ?? NaN).toFixed(1).padStart(7)} ms`);
  return { p50, p99 };
}

async function main(): Promise<void> {
  const cleanup: Array<() => Promise<void>> = [];
  const runCleanup = async (): Promise<void> => {
    while (cleanup.length > 0) await cleanup.pop()!().catch((e: unknown) => void process.stderr.write(`cleanup: ${(e as Error).message}\n`));
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void runCleanup().finally(() => process.exit(130)));
  const t = GROUP_TIMING;
  console.log(
    `failover: leader killed -> first entry committed by the new leader, 3 masters; election timeout ${t.electionTimeoutMinMs}-${t.electionTimeoutMaxMs} ms, heartbeat ${t.heartbeatIntervalMs} ms, PreVote and CheckQuorum on`,
  );
  let sim: number[] = [];
  let real: number[] = [];
  try {
    if (ONLY !== 'real') sim = await simPhase();
    if (ONLY !== 'sim') real = await realPhase(cleanup);
  } finally {
    await runCleanup();
  }
  if (sim.length) summary(`simulated (${SEEDS} seeds x ${KILLS})`, sim);
  const r = real.length ? summary('real processes', real) : undefined;
  console.log(`RESULT failover ratio=${r ? (r.p99 / t.electionTimeoutMaxMs).toFixed(3) : 'unavailable'}`);
}

const mode = process.argv[2];
if (mode === '--master') {
  masterChild(Number(process.argv[3]), process.argv[4]!, Number(process.argv[5] ?? 0)).catch(fail(`master ${process.argv[3]}`));
} else {
  runMain(main);
}
