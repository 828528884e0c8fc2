// The mount table: nested and read-only mounts, renames that would cross a mount
// point, overlapping UFSes, unmount order, and a mount table that survives a restart.
import { describe, expect, it } from 'vitest';
import { StrataClient, type ClientOptions } from '../actors/client/client.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../actors/master/master.js';
import { createSimBed } from '../sim/scenario.js';

const masterOpts: MasterOptions = { rootUfs: 'sim://root', blockSize: 1024, workerTimeoutMs: 3000, rpcTimeoutMs: 2000, journalDir: 'journal' };
const clientOpts: ClientOptions = { masterId: MASTER_ID, rpcTimeoutMs: 1000, chunkSize: 256, readWindow: 4, blockSize: 1024, writeType: 'CACHE_THROUGH', readType: 'CACHE', user: 'strata', retryForMs: 0 };

async function bed() {
  const b = createSimBed(3, { network: 'quiet' });
  await b.cluster.ufsDisk('sim://lake').writeFile('events/day1.log', new Uint8Array(2500));
  await b.cluster.ufsDisk('sim://archive').writeFile('old.txt', new Uint8Array(10));
  b.cluster.addNode(MASTER_ID, (env) => new MasterActor(env, masterOpts));
  b.cluster.addNode('client-0', (env) => new StrataClient(env, clientOpts));
  await b.sim.settle(Promise.all([b.cluster.start(MASTER_ID), b.cluster.start('client-0')]));
  const c = () => b.cluster.actor<StrataClient>('client-0');
  const run = <T>(p: Promise<T>) => b.sim.settle(p);
  return { ...b, c, run };
}

describe('mount table', () => {
  it('mounts a UFS at a new path and loads its metadata from there', async () => {
    const { c, run, cluster } = await bed();
    await run(c().mkdir('/mnt', true));
    await run(c().mount('/mnt/lake', 'sim://lake', { options: [['fs.region', 'eu']] }));
    const f = await run(c().getStatus('/mnt/lake/events/day1.log'));
    expect(f.length).toBe(2500);
    expect(f.ufsMount).toBe('sim://lake');
    expect(f.ufsPath).toBe('events/day1.log');
    expect(f.blocks.map((b) => b.length)).toEqual([1024, 1024, 452]);
    await run(c().mkdir('/mnt/lake/new', true));
    expect((await cluster.ufsDisk('sim://lake').stat('new'))?.isDir).toBe(true);
    expect(await cluster.ufsDisk('sim://root').stat('mnt/lake/new')).toBeNull();
    const table = await run(c().mountTable());
    expect(table.map((m) => [m.path, m.ufsUri])).toEqual([['/', 'sim://root'], ['/mnt/lake', 'sim://lake']]);
    expect(table[1]!.options).toEqual([['fs.region', 'eu']]);
  });

  it('nests mounts, refuses writes under a read-only one, and never renames across a mount point', async () => {
    const { c, run } = await bed();
    await run(c().mount('/lake', 'sim://lake'));
    await run(c().mount('/lake/archive', 'sim://archive', { readOnly: true }));
    expect((await run(c().getStatus('/lake/archive/old.txt'))).ufsMount).toBe('sim://archive');
    await expect(run(c().mkdir('/lake/archive/x', true))).rejects.toThrow(/PERMISSION_DENIED|read-only mount/);
    await expect(run(c().delete('/lake/archive/old.txt'))).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(run(c().rename('/lake/events', '/events'))).rejects.toThrow(/never crosses a mount point/);
    await expect(run(c().delete('/lake', true))).rejects.toThrow(/mount point/);
    await expect(run(c().unmount('/lake'))).rejects.toThrow(/contains another mount point/);
    await run(c().updateMount('/lake/archive', { readOnly: false, shared: false, options: [] }));
    await run(c().mkdir('/lake/archive/x', true));
    await run(c().unmount('/lake/archive'));
    await run(c().unmount('/lake'));
    expect(await run(c().exists('/lake'))).toBe(false);
  });

  it('refuses a UFS that overlaps a mounted one, and a mount point that exists', async () => {
    const { c, run } = await bed();
    await run(c().mount('/a', 'sim://lake'));
    await expect(run(c().mount('/b', 'sim://lake'))).rejects.toThrow(/overlaps/);
    await run(c().mkdir('/taken', true));
    await expect(run(c().mount('/taken', 'sim://archive'))).rejects.toThrow(/already exists/);
    await expect(run(c().unmount('/taken'))).rejects.toThrow(/not a mount point/);
  });

  it('keeps the mount table across a master restart', async () => {
    const { c, run, cluster, sim } = await bed();
    await run(c().mount('/lake', 'sim://lake', { readOnly: true }));
    cluster.crash(MASTER_ID);
    await sim.settle(cluster.start(MASTER_ID));
    const table = await run(c().mountTable());
    expect(table.find((m) => m.path === '/lake')).toMatchObject({ ufsUri: 'sim://lake', readOnly: true });
    expect((await run(c().getStatus('/lake/events/day1.log'))).ufsMount).toBe('sim://lake');
  });
});
