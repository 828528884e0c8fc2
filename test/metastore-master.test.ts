// The master over each metastore, in the simulator: metadata load types
// (strata.user.file.metadata.load.type) and recovery after a crash. ROCKS runs
// with a tiny inode cache so lookups miss and write back all the time.
import { describe, expect, it } from 'vitest';
import { StrataClient, type ClientOptions } from '../actors/client/client.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../actors/master/master.js';
import { packRecord } from '../transport/codec.js';
import { createSimBed } from '../sim/scenario.js';
import { METASTORES, TINY_CACHE } from './helpers/metastores.js';
import type { MetastoreType } from '../storage/metastore.js';
import { Conf, K } from '../actors/conf.js';
import { metastoreOptions } from '../actors/node/roles.js';

const UFS = 'sim://ufs';
const base: ClientOptions = { masterId: MASTER_ID, rpcTimeoutMs: 1000, chunkSize: 256, readWindow: 4, blockSize: 1024, writeType: 'CACHE_THROUGH', readType: 'CACHE', user: 'strata', retryForMs: 0 };
const LOAD_TYPES = ['ONCE', 'ALWAYS', 'NEVER'] as const;

async function bed(metastore: MetastoreType) {
  const masterOpts: MasterOptions = {
    rootUfs: UFS, blockSize: 1024, workerTimeoutMs: 3000, rpcTimeoutMs: 2000, journalDir: 'journal',
    metastore: metastore === 'ROCKS' ? { type: 'ROCKS', ...TINY_CACHE } : { type: 'HEAP' },
  };
  const b = createSimBed(7, { network: 'quiet' });
  const ufs = b.cluster.ufsDisk(UFS);
  await ufs.writeFile('d/a.txt', new Uint8Array(100));
  b.cluster.addNode(MASTER_ID, (env) => new MasterActor(env, masterOpts), { allowStartFailure: true });
  for (const t of LOAD_TYPES) b.cluster.addNode(t, (env) => new StrataClient(env, { ...base, metadataLoadType: t }));
  await b.sim.settle(Promise.all([MASTER_ID, ...LOAD_TYPES].map((id) => b.cluster.start(id))));
  const as = (id: (typeof LOAD_TYPES)[number]) => b.cluster.actor<StrataClient>(id);
  const run = <T>(p: Promise<T>) => b.sim.settle(p);
  const names = async (id: (typeof LOAD_TYPES)[number], path: string) => (await run(as(id).listStatus(path))).map((f) => f.name);
  return { ...b, ufs, as, run, names };
}

describe.each(METASTORES)('master over the %s metastore', (metastore) => {
  it('NEVER never reads the UFS, ONCE lists a directory once, ALWAYS looks again for what is missing', async () => {
    const { ufs, as, run, names } = await bed(metastore);
    await expect(run(as('NEVER').getStatus('/d'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await names('NEVER', '/')).toEqual([]);
    expect(await names('ONCE', '/d')).toEqual(['a.txt']);
    await ufs.writeFile('d/b.txt', new Uint8Array(7));
    // /d was loaded once: ONCE does not look again.
    await expect(run(as('ONCE').getStatus('/d/b.txt'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await names('ONCE', '/d')).toEqual(['a.txt']);
    // ALWAYS looks up a missing path in the UFS every time.
    expect((await run(as('ALWAYS').getStatus('/d/b.txt'))).length).toBe(7);
    await ufs.writeFile('d/c.txt', new Uint8Array(3));
    expect(await names('ALWAYS', '/d')).toEqual(['a.txt', 'b.txt', 'c.txt']);
    // What was loaded is strata's now, whatever the load type of who asks.
    expect(await names('NEVER', '/d')).toEqual(['a.txt', 'b.txt', 'c.txt']);
    // Still missing everywhere: a clean NOT_FOUND, nothing journaled.
    await expect(run(as('ALWAYS').getStatus('/d/none.txt'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A whole new directory: ALWAYS finds it below a root that was loaded already.
    await ufs.writeFile('e/x.txt', new Uint8Array(9));
    await expect(run(as('NEVER').getStatus('/e/x.txt'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(run(as('ONCE').getStatus('/e/x.txt'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await run(as('ALWAYS').getStatus('/e/x.txt'))).length).toBe(9);
    expect(await names('ONCE', '/e')).toEqual(['x.txt']);
  });

  it('a directory ALWAYS found by name is still listed in full later', async () => {
    const { ufs, as, run, names } = await bed(metastore);
    await ufs.writeFile('f/1', new Uint8Array(1));
    await ufs.writeFile('f/2', new Uint8Array(2));
    await run(as('ONCE').listStatus('/'));
    await ufs.writeFile('g/1', new Uint8Array(1));
    await ufs.writeFile('g/2', new Uint8Array(2));
    // Loading just '/g' by name must not mark '/' as listed-with-everything, nor '/g'.
    expect((await run(as('ALWAYS').getStatus('/g'))).isDir).toBe(true);
    expect(await names('ONCE', '/g')).toEqual(['1', '2']);
    expect(await names('ONCE', '/f')).toEqual(['1', '2']);
  });

  it('recovers the namespace after a crash, whatever the key-value store was left holding', async () => {
    const { sim, cluster, as, run, names } = await bed(metastore);
    for (let i = 0; i < 12; i++) await run(as('ONCE').mkdir(`/m/d${i}`, true));
    await run(as('ONCE').rename('/m/d3', '/m/d3b'));
    await run(as('ONCE').delete('/m/d5', true));
    const before = await names('ONCE', '/m');
    const id = (await run(as('ONCE').getStatus('/m/d7'))).fileId;
    cluster.crash(MASTER_ID);
    // A store ahead of the journal (or holding garbage) must not leak into state.
    const kv = cluster.kv(MASTER_ID, 'metastore');
    if (metastore === 'ROCKS') {
      // The crash lost its unsynced batches (a store behind); add records the journal never had (a store ahead).
      expect(kv).toBeDefined();
      kv!.apply([['i' + (id + 100).toString(36), packRecord([1, 'ghost'])], ['i2', new Uint8Array([1, 2, 3])]], true);
    } else {
      expect(kv).toBeUndefined();
    }
    await sim.settle(cluster.start(MASTER_ID));
    expect(await names('ONCE', '/m')).toEqual(before);
    expect((await run(as('ONCE').getStatus('/m/d7'))).fileId).toBe(id);
    expect(await names('NEVER', '/')).toEqual(['d', 'm']);
    await run(as('ONCE').mkdir('/m/after', true));
    expect(await names('ONCE', '/m')).toContain('after');
  });
});

describe('metastore properties', () => {
  const opts = (props: Record<string, string>) => metastoreOptions(new Conf([['command-line', props]]));
  it('reads ROCKS and its cache, HEAP needs nothing', () => {
    expect(opts({})).toEqual({});
    expect(opts({ [K.masterMetastore]: 'ROCKS', [K.metastoreCacheMax]: '1000' })).toEqual({ metastore: { type: 'ROCKS', cacheMaxSize: 1000, highWaterMark: 0.85, lowWaterMark: 0.8 } });
  });
  it('refuses bad values by name', () => {
    expect(() => opts({ [K.masterMetastore]: 'ROCKS', [K.metastoreCacheHigh]: '1.5' })).toThrow(/high\.water\.mark\.ratio: not a ratio/);
    expect(() => opts({ [K.masterMetastore]: 'ROCKS', [K.metastoreCacheLow]: 'lots' })).toThrow(/low\.water\.mark\.ratio: not a ratio/);
    expect(() => opts({ [K.masterMetastore]: 'ROCKS', [K.metastoreCacheLow]: '0.9', [K.metastoreCacheHigh]: '0.5' })).toThrow(/is above/);
    expect(() => opts({ [K.masterMetastore]: 'ROCKS', [K.metastoreCacheMax]: '0' })).toThrow(/at least 1/);
    expect(() => new Conf([['command-line', { [K.masterMetastore]: 'MAPDB' }]])).toThrow(/strata\.master\.metastore/);
    expect(() => new Conf([['command-line', { [K.metadataLoadType]: 'SOMETIMES' }]])).toThrow(/metadata\.load\.type/);
  });
});
