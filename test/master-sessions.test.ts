// A retried mutation (same request id) is answered as it was the first time and
// never applied twice, across a master restart too: the sessions live in the
// journaled state.
import { describe, expect, it } from 'vitest';
import { MASTER_ID, MasterActor, type MasterOptions } from '../actors/master/master.js';
import { Sessions } from '../actors/master/namespace.js';
import { createSimBed } from '../sim/scenario.js';
import { RawClient } from './helpers/raw-client.js';

const opts: MasterOptions = { rootUfs: 'sim://ufs', blockSize: 1024, workerTimeoutMs: 3000, rpcTimeoutMs: 2000, journalDir: 'journal' };

async function bed() {
  const b = createSimBed(7, { network: 'quiet' });
  b.cluster.addNode(MASTER_ID, (env) => new MasterActor(env, opts));
  b.cluster.addNode('client-a', (env) => new RawClient(env));
  b.cluster.addNode('client-b', (env) => new RawClient(env));
  await b.sim.settle(Promise.all([MASTER_ID, 'client-a', 'client-b'].map((id) => b.cluster.start(id))));
  const a = () => b.cluster.actor<RawClient>('client-a');
  const c = () => b.cluster.actor<RawClient>('client-b');
  return { ...b, a, c };
}

describe('master sessions', () => {
  it('answers a retried create instead of failing it with ALREADY_EXISTS', async () => {
    const { sim, a } = await bed();
    const first = (await sim.settle(a().call({ t: 'CreateFile', path: '/f', overwrite: false, rid: 41 }, 'FileInfoReply'))) as unknown as { info: { fileId: number } };
    const retry = (await sim.settle(a().call({ t: 'CreateFile', path: '/f', overwrite: false, rid: 41 }, 'FileInfoReply'))) as unknown as { info: { fileId: number } };
    expect(retry.info.fileId).toBe(first.info.fileId);
    // A new request for the same path is a different operation and fails.
    await expect(sim.settle(a().call({ t: 'CreateFile', path: '/f', overwrite: false, rid: 42 }, 'FileInfoReply'))).rejects.toThrow(/already exists/);
  });

  it('does not apply a retried delete to a file created again since, even after a restart', async () => {
    const { sim, cluster, a, c } = await bed();
    await sim.settle(a().call({ t: 'CreateDirectory', path: '/d', recursive: false, rid: 1 }, 'Ok'));
    await sim.settle(a().call({ t: 'Delete', path: '/d', recursive: false, rid: 2 }, 'Ok'));
    await sim.settle(c().call({ t: 'CreateDirectory', path: '/d', recursive: false, rid: 1 }, 'Ok'));
    cluster.crash(MASTER_ID);
    await sim.settle(cluster.start(MASTER_ID));
    // client-a's delete, retried after a lost reply: already applied, so answered Ok and not redone.
    await sim.settle(a().call({ t: 'Delete', path: '/d', recursive: false, rid: 2 }, 'Ok'));
    await sim.settle(a().call({ t: 'GetStatus', path: '/d' }, 'FileInfoReply'));
    // The same request id from another client is another request.
    await expect(sim.settle(c().call({ t: 'CreateDirectory', path: '/d', recursive: false, rid: 2 }, 'Ok'))).rejects.toThrow(/already exists/);
  });

  it('forgets the oldest requests and clients beyond its bounds', () => {
    const s = new Sessions(2, 3);
    for (let r = 1; r <= 4; r++) s.record('x', r, r * 10);
    expect(s.lookup('x', 1)).toBeUndefined();
    expect(s.lookup('x', 4)).toBe(40);
    s.record('y', 1, 0);
    s.record('z', 1, 0);
    expect(s.lookup('x', 4)).toBeUndefined();
    expect(s.lookup('z', 1)).toBe(0);
  });
});
