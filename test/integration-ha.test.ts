// Three master processes on an embedded Raft journal, a client creating
// directories the whole time, and the leader SIGKILLed: a new leader serves
// within 2 s, every acknowledged create exists exactly once, and the killed
// master catches up after a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isStrataError } from '../actors/protocol/envelope.js';
import { loadConf } from '../cli/conf-loader.js';
import { openClient, type ClientSession } from '../cli/cluster.js';
import { freePort, killAll, startCli, waitFor, type Proc } from './helpers/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-ha-'));
let session: ClientSession | undefined;

afterAll(async () => {
  await session?.close();
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('highly available masters', () => {
  it('fail over within 2 s of a SIGKILLed leader, losing and duplicating nothing', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const addresses = ports.map((p) => `127.0.0.1:${p}`).join(',');
    const common = {
      'strata.work.dir': join(dir, 'data'),
      'strata.master.journal.type': 'EMBEDDED',
      'strata.master.embedded.journal.addresses': addresses,
      'strata.master.embedded.journal.election.timeout.min': '500ms',
      'strata.master.embedded.journal.election.timeout.max': '1000ms',
      'strata.master.embedded.journal.heartbeat.interval': '100ms',
      'strata.logger.level': 'warn',
    };
    const flags = (extra: Record<string, string> = {}) => Object.entries({ ...common, ...extra }).flatMap(([k, v]) => ['--conf', `${k}=${v}`]);
    const masters: Proc[] = ports.map((p) => startCli(['master', ...flags({ 'strata.master.rpc.port': String(p) })], dir));
    for (const m of masters) await waitFor('a master to listen', async () => m.output().includes('listening'));

    const conf = loadConf({ cwd: dir, env: {}, confFlags: flags({ 'strata.user.rpc.timeout': '1s', 'strata.master.rpc.port': String(ports[0]) }).filter((x) => x !== '--conf') });
    session = await openClient(conf);
    const client = session.client;
    const leaderIndex = async (): Promise<number | undefined> => {
      for (let i = 0; i < 3; i++) {
        const info = await client.masterInfoOf(`master-${i}`).catch(() => undefined);
        if (info?.role === 'leader') return i;
      }
      return undefined;
    };
    await waitFor('a leader', async () => (await leaderIndex()) !== undefined, 20_000);
    await waitFor('the leader to serve', async () => {
      await client.mkdir('/ha', true);
      return true;
    });

    const acked: string[] = [];
    let n = 0;
    let stop = false;
    let killedAt = 0;
    let firstAfterKill = 0;
    const writer = (async () => {
      while (!stop) {
        const name = `d${n++}`;
        try {
          await client.mkdir(`/ha/${name}`, false);
          acked.push(name);
          if (killedAt && !firstAfterKill) firstAfterKill = Date.now();
        } catch (e) {
          // An unknown outcome (the leader died under it) is allowed; wrong answers are not.
          if (!isStrataError(e) || !['UNAVAILABLE', 'DEADLINE_EXCEEDED'].includes(e.code)) throw e;
        }
      }
    })();

    await waitFor('some creates', async () => acked.length >= 30);
    const victim = (await leaderIndex())!;
    killedAt = Date.now();
    await masters[victim]!.kill('SIGKILL');
    await waitFor('creates after the failover', async () => firstAfterKill > 0 && acked.length >= 60, 20_000);
    stop = true;
    await writer;
    const failover = firstAfterKill - killedAt;
    expect(failover).toBeLessThan(2000);

    const names = (await client.listStatus('/ha')).map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    const present = new Set(names);
    expect(acked.filter((a) => !present.has(a))).toEqual([]);

    // A checkpoint on the new leader compacts its log; the restarted master still catches up below.
    expect(await client.checkpoint()).toBeGreaterThan(60);

    // The killed master comes back and catches up with the leader.
    masters[victim] = startCli(['master', ...flags({ 'strata.master.rpc.port': String(ports[victim]) })], dir);
    await waitFor('the killed master to listen', async () => masters[victim]!.output().includes('listening')).catch((e: Error) => {
      throw new Error(`${e.message}; its output: ${masters[victim]!.output()}`);
    });
    const leader = (await waitFor('a leader', async () => {
      const i = await leaderIndex();
      return i === undefined ? undefined : { i };
    })).i;
    const target = await client.masterInfoOf(`master-${leader}`);
    await waitFor(
      'the restarted master to catch up',
      async () => {
        const info = await client.masterInfoOf(`master-${victim}`);
        return info.role === 'follower' && info.journalSeq >= target.journalSeq && info.inodes === target.inodes;
      },
      20_000,
    );
    process.stdout.write(`failover took ${failover} ms; ${acked.length} creates acknowledged; ${names.length} present\n`);
  });
});
