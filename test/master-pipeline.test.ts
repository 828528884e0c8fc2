// Mutations are validated under the master's lock and committed outside it:
// creates of different names share journal writes, while changes that touch the
// same name (or the same request id) wait for one another and validate again.
// These tests fire conflicting requests in the same instant and check that every
// outcome is one some serial order would give: a loser gets the error it would
// get in that order (ALREADY_EXISTS, NOT_FOUND), never the journal's safety net
// ("a concurrent change came first"), and a retry is answered, not re-applied.
import { describe, expect, it } from 'vitest';
import { isStrataError, type Message } from '../actors/protocol/envelope.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../actors/master/master.js';
import { createSimBed } from '../sim/scenario.js';
import { RawClient } from './helpers/raw-client.js';

const opts: MasterOptions = { rootUfs: 'sim://ufs', blockSize: 1024, workerTimeoutMs: 3000, rpcTimeoutMs: 5000, journalDir: 'journal' };

async function bed(seed: number) {
  const b = createSimBed(seed, { network: 'quiet' });
  b.cluster.addNode(MASTER_ID, (env) => new MasterActor(env, opts));
  b.cluster.addNode('client', (env) => new RawClient(env, 5000));
  await b.sim.settle(Promise.all([MASTER_ID, 'client'].map((id) => b.cluster.start(id))));
  const c = () => b.cluster.actor<RawClient>('client');
  /** Sends every request at once; resolves with each one's outcome: 'ok' or its error code. */
  const race = async (reqs: Array<[Message & Record<string, unknown>, string]>): Promise<string[]> => {
    const all = reqs.map(([m, expect]) =>
      c().call(m, expect).then(
        () => 'ok',
        (e: unknown) => {
          if (isStrataError(e) && /concurrent change came first/.test(e.message)) return 'SAFETY-NET';
          return isStrataError(e) ? e.code : `unexpected: ${String(e)}`;
        },
      ),
    );
    return b.sim.settle(Promise.all(all));
  };
  const exists = async (path: string): Promise<boolean> =>
    b.sim.settle(c().call({ t: 'GetStatus', path }, 'FileInfoReply')).then(
      () => true,
      (e: unknown) => {
        if (isStrataError(e) && e.code === 'NOT_FOUND') return false;
        throw e;
      },
    );
  return { ...b, c, race, exists };
}

const SEEDS = [1, 2, 3, 4, 5];
let rid = 1000;

describe('pipelined master mutations', () => {
  it.each(SEEDS)('of many concurrent creates and mkdirs of one name exactly one wins (seed %i)', async (seed) => {
    const { sim, c, race } = await bed(seed);
    await sim.settle(c().call({ t: 'CreateDirectory', path: '/d', recursive: false, rid: rid++ }, 'Ok'));
    const reqs: Array<[Message & Record<string, unknown>, string]> = [];
    for (let i = 0; i < 20; i++) {
      reqs.push(i % 2 === 0 ? [{ t: 'CreateFile', path: '/d/x', overwrite: false, rid: rid++ }, 'FileInfoReply'] : [{ t: 'CreateDirectory', path: '/d/x', recursive: false, rid: rid++ }, 'Ok']);
    }
    // Creates of other names in the same instant all succeed.
    for (let i = 0; i < 20; i++) reqs.push([{ t: 'CreateFile', path: `/d/other${i}`, overwrite: false, rid: rid++ }, 'FileInfoReply']);
    const out = await race(reqs);
    const same = out.slice(0, 20);
    expect(same.filter((o) => o === 'ok')).toHaveLength(1);
    expect(same.filter((o) => o !== 'ok').every((o) => o === 'ALREADY_EXISTS')).toBe(true);
    expect(out.slice(20).every((o) => o === 'ok')).toBe(true);
    const list = (await sim.settle(c().call({ t: 'ListStatus', path: '/d' }, 'ListStatusReply'))) as unknown as { entries: Array<{ name: string; isDir: boolean }> };
    expect(list.entries).toHaveLength(21);
    const winner = same.indexOf('ok');
    expect(list.entries.find((e) => e.name === 'x')!.isDir).toBe(winner % 2 === 1);
  });

  it.each(SEEDS)('creates and deletes of one name racing alternate as in some serial order (seed %i)', async (seed) => {
    const { sim, c, race, exists } = await bed(seed);
    await sim.settle(c().call({ t: 'CreateDirectory', path: '/d', recursive: false, rid: rid++ }, 'Ok'));
    const reqs: Array<[Message & Record<string, unknown>, string]> = [];
    for (let i = 0; i < 30; i++) {
      reqs.push(
        i % 3 === 2
          ? [{ t: 'Delete', path: '/d/a', recursive: false, rid: rid++ }, 'Ok']
          : i % 3 === 0
            ? [{ t: 'CreateFile', path: '/d/a', overwrite: false, rid: rid++ }, 'FileInfoReply']
            : [{ t: 'CreateDirectory', path: '/d/a', recursive: false, rid: rid++ }, 'Ok'],
      );
    }
    const out = await race(reqs);
    const isDelete = (i: number) => i % 3 === 2;
    const created = out.filter((o, i) => !isDelete(i) && o === 'ok').length;
    const deleted = out.filter((o, i) => isDelete(i) && o === 'ok').length;
    // In any serial order a create succeeds only on a missing name and a delete only on an existing one.
    expect(out.every((o, i) => o === 'ok' || o === (isDelete(i) ? 'NOT_FOUND' : 'ALREADY_EXISTS'))).toBe(true);
    expect(created - deleted === 0 || created - deleted === 1).toBe(true);
    expect(created).toBeGreaterThan(0);
    expect(await exists('/d/a')).toBe(created - deleted === 1);
  });

  it.each(SEEDS)('renames onto a name being created: one of them wins (seed %i)', async (seed) => {
    const { sim, c, race, exists } = await bed(seed);
    await sim.settle(c().call({ t: 'CreateDirectory', path: '/d/src', recursive: true, rid: rid++ }, 'Ok'));
    const reqs: Array<[Message & Record<string, unknown>, string]> = [];
    for (let i = 0; i < 10; i++) {
      reqs.push(i % 2 === 0 ? [{ t: 'Rename', src: '/d/src', dst: '/d/dst', rid: rid++ }, 'Ok'] : [{ t: 'CreateDirectory', path: '/d/dst', recursive: false, rid: rid++ }, 'Ok']);
    }
    const out = await race(reqs);
    expect(out.filter((o) => o === 'ok')).toHaveLength(1);
    expect(out.every((o, i) => o === 'ok' || o === (i % 2 === 0 ? (out.some((p, j) => j % 2 === 0 && p === 'ok') ? 'NOT_FOUND' : 'ALREADY_EXISTS') : 'ALREADY_EXISTS'))).toBe(true);
    const renamed = out.some((o, i) => i % 2 === 0 && o === 'ok');
    expect(await exists('/d/dst')).toBe(true);
    expect(await exists('/d/src')).toBe(!renamed);
  });

  it.each(SEEDS)('a non-recursive delete of a directory never removes a child whose create it raced (seed %i)', async (seed) => {
    const { sim, c, race, exists } = await bed(seed);
    await sim.settle(c().call({ t: 'CreateDirectory', path: '/d', recursive: false, rid: rid++ }, 'Ok'));
    const out = await race([
      [{ t: 'CreateFile', path: '/d/x', overwrite: false, rid: rid++ }, 'FileInfoReply'],
      [{ t: 'CreateDirectory', path: '/d/y', recursive: false, rid: rid++ }, 'Ok'],
      [{ t: 'Delete', path: '/d', recursive: false, rid: rid++ }, 'Ok'],
    ]);
    // Serially: the delete comes first (and the creates find no /d), or after a create (and fails: not empty).
    if (out[2] === 'ok') expect(out.slice(0, 2)).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    else expect(out[2]).toBe('FAILED_PRECONDITION');
    expect(await exists('/d/x')).toBe(out[0] === 'ok');
    expect(await exists('/d/y')).toBe(out[1] === 'ok');
  });

  it.each(SEEDS)('completions race each other and a replacing create as in some serial order (seed %i)', async (seed) => {
    const { sim, c, race } = await bed(seed);
    await sim.settle(c().call({ t: 'CreateDirectory', path: '/d', recursive: false, rid: rid++ }, 'Ok'));
    for (let i = 0; i < 10; i++) await sim.settle(c().call({ t: 'CreateFile', path: `/d/f${i}`, overwrite: false, rid: rid++ }, 'FileInfoReply'));
    const complete = (path: string, length: number): [Message & Record<string, unknown>, string] => [{ t: 'CompleteFile', path, length, persisted: false, rid: rid++ }, 'FileInfoReply'];
    const out = await race([
      // Ten files completed at once: independent, all succeed.
      ...Array.from({ length: 10 }, (_, i) => complete(`/d/f${i}`, i)),
      // f0 completed again, and replaced by a create, in the same instant.
      complete('/d/f0', 99),
      [{ t: 'CreateFile', path: '/d/f0', overwrite: true, rid: rid++ }, 'FileInfoReply'],
    ]);
    expect(out.slice(0, 10)).toEqual(Array(10).fill('ok'));
    // Serially the second completion comes after the first (already complete) or after the replacement (a new, incomplete f0).
    expect(['ok', 'FAILED_PRECONDITION']).toContain(out[10]);
    expect(out[11]).toBe('ok');
    const f0 = (await sim.settle(c().call({ t: 'GetStatus', path: '/d/f0' }, 'FileInfoReply'))) as unknown as { info: { completed: boolean; length: number } };
    // The second completion succeeds only right after the replacement, and then its length stands;
    // otherwise f0 is the new, incomplete file (or one the first completion finished, had the create come first).
    if (out[10] === 'ok') expect(f0.info).toMatchObject({ completed: true, length: 99 });
    else expect(!f0.info.completed || f0.info.length === 0).toBe(true);
  });

  it.each(SEEDS)('a retry that arrives while its first attempt is still pending is answered with that attempt (seed %i)', async (seed) => {
    const { sim, c, race } = await bed(seed);
    await sim.settle(c().call({ t: 'CreateDirectory', path: '/d', recursive: false, rid: rid++ }, 'Ok'));
    const fileRid = rid++;
    const dirRid = rid++;
    const calls = [
      c().call({ t: 'CreateFile', path: '/d/f', overwrite: false, rid: fileRid }, 'FileInfoReply'),
      c().call({ t: 'CreateFile', path: '/d/f', overwrite: false, rid: fileRid }, 'FileInfoReply'),
      c().call({ t: 'CreateFile', path: '/d/f', overwrite: false, rid: fileRid }, 'FileInfoReply'),
    ];
    const infos = (await sim.settle(Promise.all(calls))) as unknown as Array<{ info: { fileId: number } }>;
    expect(new Set(infos.map((i) => i.info.fileId)).size).toBe(1);
    // The same for a mkdir: neither retry sees its own first attempt as ALREADY_EXISTS.
    expect(await race([0, 1, 2].map(() => [{ t: 'CreateDirectory', path: '/d/g', recursive: false, rid: dirRid }, 'Ok'] as [Message & Record<string, unknown>, string]))).toEqual(['ok', 'ok', 'ok']);
    const list = (await sim.settle(c().call({ t: 'ListStatus', path: '/d' }, 'ListStatusReply'))) as unknown as { entries: Array<{ name: string }> };
    expect(list.entries.map((e) => e.name).sort()).toEqual(['f', 'g']);
  });
});
