// Clients create, delete, rename, stat and list entries of one directory while
// the network misbehaves and the master crashes and restarts; the history they
// observe must be linearizable (operations whose outcome a client never learned
// count as possibly applied). With one master today; the Raft issue runs the same
// workload against a replicated group.
import { StrataClient, type ClientOptions } from '../../actors/client/client.js';
import { isStrataError } from '../../actors/protocol/envelope.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../../actors/master/master.js';
import { checkLinearizable, type Operation } from '../checkers/linearizability.js';
import { namespaceModel, type NsInput, type NsOutput } from '../checkers/namespace-model.js';
import { LOCAL_DISK, swarmDiskFaults } from '../env.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { RAFT_TIMING } from './data-cluster.js';
import { healMasters } from './master-ops.js';

const DIR = '/t';
const NAMES = ['a', 'b', 'c', 'd'];
/** Codes that say for sure what happened; anything else leaves the outcome unknown. */
const DEFINITE = new Set(['ALREADY_EXISTS', 'NOT_FOUND']);

/** Masters under test: one with a local journal, or a Raft group of three. */
function makeScenario(name: string, description: string, masterCount: 1 | 3, metastore: MasterOptions['metastore'] = { type: 'HEAP' }): Scenario {
  return { name, description, run: (ctx) => runNamespaceWorkload(ctx, masterCount, metastore) };
}

export const namespaceLinearizable = makeScenario(
  'namespace-linearizable',
  'create/delete/rename/getStatus/listStatus from 3 clients against 3 Raft masters under partitions, crashes and disk faults; the history is linearizable',
  3,
);

export const namespaceLinearizableSingle = makeScenario(
  'namespace-linearizable-single',
  'the same workload against a single master with a local journal, crashed and restarted',
  1,
);

export const namespaceLinearizableRocks = makeScenario(
  'namespace-linearizable-rocks',
  'the Raft workload with every master on the ROCKS metastore and an inode cache of 8, so lookups miss, write back and evict while snapshots are taken and installed',
  3,
  { type: 'ROCKS', cacheMaxSize: 8, highWaterMark: 0.75, lowWaterMark: 0.5, batchSize: 3 },
);


async function runNamespaceWorkload(ctx: ScenarioContext, masterCount: 1 | 3, metastore: MasterOptions['metastore']): Promise<void> {
    const { sim, cluster, net, rng } = ctx;
    const masters = masterCount === 1 ? [MASTER_ID] : Array.from({ length: masterCount }, (_, i) => `master-${i}`);
    const diskModel = swarmDiskFaults(rng.fork('disk'));
    for (const id of masters) {
      const masterOpts: MasterOptions = {
        rootUfs: 'sim://ufs', blockSize: 1 << 20, workerTimeoutMs: 3000, rpcTimeoutMs: 2000, journalDir: 'journal', metastore,
        ...(masterCount > 1 ? { journal: { type: 'EMBEDDED' as const, voters: masters, checkpointEntries: 50, ...RAFT_TIMING } } : {}),
      };
      cluster.addNode(id, (env) => new MasterActor(env, masterOpts), { disk: diskModel, allowStartFailure: true });
    }
    const clientOpts: ClientOptions = {
      masterId: masters[0]!, masterIds: masters, rpcTimeoutMs: 800, retryForMs: 2400, chunkSize: 1 << 16, readWindow: 4, blockSize: 1 << 20,
      writeType: 'CACHE_THROUGH', readType: 'CACHE', user: 'strata',
    };
    const clients = ['client-0', 'client-1', 'client-2'];
    for (const c of clients) cluster.addNode(c, (env) => new StrataClient(env, clientOpts));
    await ctx.settle(Promise.allSettled([...masters, ...clients].map((id) => cluster.start(id))));
    // The directory must exist before the workload; faults may need a few tries.
    for (let attempt = 0; ; attempt++) {
      if (await ctx.settle(cluster.actor<StrataClient>(clients[0]!).mkdir(DIR, true).then(() => true, () => false))) break;
      ctx.check(attempt < 100, `could not create ${DIR} in 100 attempts`);
      await healMasters(ctx, masters);
    }

    const history: Array<Operation<NsInput, NsOutput>> = [];
    /** When the client stopped retrying an operation whose outcome it never learned. */
    const gaveUp = new Map<number, number>();
    const path = () => `${DIR}/${rng.pick(NAMES)}`;
    const randomInput = (): NsInput => {
      const r = rng.next();
      if (r < 0.25) return { op: 'create', path: path() };
      if (r < 0.45) return { op: 'delete', path: path() };
      if (r < 0.6) return { op: 'rename', src: path(), dst: path() };
      if (r < 0.85) return { op: 'getStatus', path: path() };
      return { op: 'listStatus', dir: DIR };
    };
    const perform = async (c: StrataClient, i: NsInput): Promise<NsOutput> => {
      switch (i.op) {
        case 'create':
          await c.mkdir(i.path, false);
          return { code: 'OK' };
        case 'delete':
          await c.delete(i.path, false);
          return { code: 'OK' };
        case 'rename':
          await c.rename(i.src, i.dst);
          return { code: 'OK' };
        case 'getStatus':
          await c.getStatus(i.path);
          return { code: 'OK', value: 'exists' };
        case 'listStatus':
          return { code: 'OK', value: (await c.listStatus(i.dir)).map((e) => e.name).join(',') };
      }
    };
    const faultEnd = sim.now + 6_000;
    const loops = clients.map(async (id) => {
      while (sim.now < faultEnd) {
        const input = randomInput();
        const call = sim.now;
        try {
          const output = await perform(cluster.actor<StrataClient>(id), input);
          history.push({ client: id, input, call, ret: sim.now, output });
          if (process.env.LINDEBUG) ctx.log(`${id} ${JSON.stringify(input)} [${call.toFixed(2)}, ${sim.now.toFixed(2)}] ${JSON.stringify(output)}`);
        } catch (e) {
          if (!isStrataError(e)) throw e;
          if (process.env.LINDEBUG) ctx.log(`${id} ${JSON.stringify(input)} [${call.toFixed(2)}, ${sim.now.toFixed(2)}] ${e.code} ${e.message}`);
          if (DEFINITE.has(e.code)) history.push({ client: id, input, call, ret: sim.now, output: { code: e.code } });
          // A read that failed observed nothing; a mutation that failed may still have happened:
          // the error is the last attempt's, and an earlier attempt may have been applied.
          else if (input.op !== 'getStatus' && input.op !== 'listStatus') {
            history.push({ client: id, input, call });
            gaveUp.set(history.length - 1, sim.now);
          }
        }
        await new Promise<void>((r) => sim.schedule(rng.range(0, 60), 'scenario', 'think', r));
      }
    });
    const crashes: number[] = [];
    const restarts: number[] = [];
    for (let t = sim.now + rng.range(500, 3000); t < faultEnd; t += rng.range(800, masterCount > 1 ? 2000 : 4000)) {
      sim.at(t, 'scenario', 'crash', () => {
        // With a group, the leader is the likeliest victim: that is where failover is tested.
        const leader = masters.find((m) => cluster.isUp(m) && cluster.actor<MasterActor>(m).raftStatus?.role === 'leader');
        const id = leader !== undefined && rng.chance(0.6) ? leader : rng.pick(masters);
        if (!cluster.isUp(id)) return;
        crashes.push(sim.now);
        cluster.crash(id);
        sim.schedule(rng.range(50, 1500), 'scenario', 'restart', () => {
          if (cluster.state(id) === 'down') cluster.start(id).then(() => void restarts.push(sim.now), () => undefined);
        });
      });
    }
    await ctx.settle(Promise.all(loops));

    // Quiet phase: the master must come back and serve; then the history is judged.
    net.faultsOff();
    for (const id of masters) cluster.setDiskModel(id, LOCAL_DISK);
    ctx.check(await healMasters(ctx, masters), 'the masters did not come back after the faults stopped');
    // A request never reaches a master's next life, so an operation with an unknown
    // outcome is decided by the first crash after the client stopped retrying it: it
    // is applied by then, or sits torn-but-whole in the journal and shows when the
    // master next starts, or is lost. Bounding it at that start keeps the search
    // small; without such a crash it stays open. A Raft group gives no such bound
    // (a later leader may commit the entry), so there every unknown stays open.
    for (const [i, op] of history.entries()) {
      if (op.ret !== undefined || masterCount > 1) continue;
      const crash = crashes.find((t) => t > gaveUp.get(i)!);
      const start = crash === undefined ? undefined : restarts.find((t) => t > crash);
      if (start !== undefined) op.ret = start;
    }
    const finalCall = sim.now;
    let names: Array<{ name: string }> | undefined;
    for (let attempt = 0; attempt < 20 && !names; attempt++) {
      names = await ctx.settle(cluster.actor<StrataClient>(clients[0]!).listStatus(DIR).catch(() => undefined));
    }
    if (!names) return ctx.fail('no master served a listing after the faults stopped');
    history.push({ client: clients[0]!, input: { op: 'listStatus', dir: DIR }, call: finalCall, ret: sim.now, output: { code: 'OK', value: names.map((e) => e.name).join(',') } });

    const result = checkLinearizable(namespaceModel, history, { maxExplored: 3_000_000 });
    const known = history.filter((o) => o.ret !== undefined).length;
    ctx.log(`operations=${history.length} definite=${known} explored=${result.explored}`);
    if (result.ok !== true) ctx.fail(`${result.ok === false ? 'not linearizable' : 'linearizability undecided'}: ${result.reason}`);
    ctx.check(known >= 5, `only ${known} operations with a known outcome: the workload did not run`);
}
