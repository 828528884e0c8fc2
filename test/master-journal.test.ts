// The single master's write-ahead journal, end to end through the master actor
// in the simulator: state survives a crash, a torn tail is truncated with a
// warning, and a corrupt record stops the master with the file and offset named.
import { describe, expect, it } from 'vitest';
import { StrataClient, type ClientOptions } from '../actors/client/client.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../actors/master/master.js';
import { createSimBed } from '../sim/scenario.js';

const UFS = 'sim://ufs';
const masterOpts: MasterOptions = { rootUfs: UFS, blockSize: 1024, workerTimeoutMs: 3000, rpcTimeoutMs: 2000, journalDir: 'journal' };
const clientOpts: ClientOptions = { masterId: MASTER_ID, rpcTimeoutMs: 1000, chunkSize: 256, readWindow: 4, blockSize: 1024, writeType: 'CACHE_THROUGH', readType: 'CACHE', user: 'strata' };
const SEGMENT = 'journal/log.0000000000000001';

async function bed() {
  const b = createSimBed(1, { network: 'quiet' });
  const ufs = b.cluster.ufsDisk(UFS);
  await ufs.writeFile('pre/one.txt', new Uint8Array(3000));
  await ufs.writeFile('pre/two.txt', new Uint8Array(10));
  b.cluster.addNode(MASTER_ID, (env) => new MasterActor(env, masterOpts), { allowStartFailure: true });
  b.cluster.addNode('client-0', (env) => new StrataClient(env, clientOpts));
  await b.sim.settle(Promise.all([b.cluster.start(MASTER_ID), b.cluster.start('client-0')]));
  const client = () => b.cluster.actor<StrataClient>('client-0');
  return { ...b, client };
}

describe('master journal', () => {
  it('keeps the namespace, and its inode ids, across a crash', async () => {
    const { sim, cluster, client } = await bed();
    await sim.settle(client().mkdir('/made/here', true));
    const before = await sim.settle(client().getStatus('/pre/one.txt'));
    expect(before.blocks.map((b) => b.length)).toEqual([1024, 1024, 952]);
    cluster.crash(MASTER_ID);
    await sim.settle(cluster.start(MASTER_ID));
    const after = await sim.settle(client().getStatus('/pre/one.txt'));
    expect(after.fileId).toBe(before.fileId);
    expect(after.blocks.map((b) => b.id)).toEqual(before.blocks.map((b) => b.id));
    const made = await sim.settle(client().listStatus('/made'));
    expect(made.map((f) => f.path)).toEqual(['/made/here']);
    await sim.settle(client().rename('/pre/two.txt', '/made/two.txt'));
    await expect(sim.settle(client().rename('/made', '/made/here/inside'))).rejects.toThrow(/into itself/);
    await expect(sim.settle(client().rename('/pre/one.txt', '/made/here'))).rejects.toThrow(/already exists/);
    cluster.crash(MASTER_ID);
    await sim.settle(cluster.start(MASTER_ID));
    expect(await sim.settle(client().exists('/pre/two.txt'))).toBe(false);
    expect((await sim.settle(client().getStatus('/made/two.txt'))).length).toBe(10);
    expect(await cluster.ufsDisk(UFS).stat('made/two.txt')).not.toBeNull();
    await sim.settle(client().delete('/made', true));
    cluster.crash(MASTER_ID);
    await sim.settle(cluster.start(MASTER_ID));
    expect(await sim.settle(client().exists('/made'))).toBe(false);
  });

  it('truncates a torn tail with a warning and keeps every acknowledged change', async () => {
    const { sim, cluster, client } = await bed();
    await sim.settle(client().mkdir('/kept', true));
    cluster.crash(MASTER_ID);
    // Half a record header: what a crash in the middle of an append leaves.
    await cluster.disk(MASTER_ID).append(SEGMENT, new Uint8Array([9, 0, 0, 0, 0, 0]));
    await cluster.disk(MASTER_ID).fsync(SEGMENT);
    await sim.settle(cluster.start(MASTER_ID));
    expect(cluster.isUp(MASTER_ID)).toBe(true);
    expect(sim.logs.lines().some((l) => /warn/.test(l) && /torn|truncat/i.test(l))).toBe(true);
    expect(await sim.settle(client().exists('/kept'))).toBe(true);
    // And it goes on journaling after the truncation.
    await sim.settle(client().mkdir('/after', true));
    cluster.crash(MASTER_ID);
    await sim.settle(cluster.start(MASTER_ID));
    expect(await sim.settle(client().exists('/after'))).toBe(true);
  });

  it('refuses to start on a corrupt record in the middle, naming the file and offset', async () => {
    const { sim, cluster, client } = await bed();
    await sim.settle(client().mkdir('/a', true));
    await sim.settle(client().mkdir('/b', true));
    await sim.settle(client().mkdir('/c', true));
    cluster.crash(MASTER_ID);
    const disk = cluster.disk(MASTER_ID);
    const bytes = await disk.readFile(SEGMENT);
    // Damage the first record's payload: later records follow, so this is not a torn tail.
    bytes[20] = bytes[20]! ^ 0xff;
    await disk.writeFile(SEGMENT, bytes);
    await disk.fsync(SEGMENT);
    const err = await sim.settle(cluster.start(MASTER_ID).then(() => undefined, (e: unknown) => e as Error));
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/journal\/log\.0000000000000001 at byte offset 0/);
    expect(cluster.state(MASTER_ID)).toBe('down');
  });
});
