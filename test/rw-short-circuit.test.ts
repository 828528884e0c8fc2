// Short-circuit reads over real WebSocket links and real disks, in one process
// (so on one host): a client reads blocks cached by a worker on its host straight
// from the block files under a lease, and streams when it cannot.
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StrataClient } from '../actors/client/client.js';
import type { NodeHost } from '../actors/node/nact-host.js';
import type { WorkerActor } from '../actors/worker/worker.js';
import { fixture, bytes as blockBytes } from './storage-tiered-helpers.js';
import { Raw, bytes } from './data-bed.js';
import { blockIdOf } from '../actors/block-id.js';
import { startLocalReadBed } from './helpers/local-read-bed.js';

const MIB = 1024 * 1024;
let dir: string;
let server: NodeHost;
let clients: NodeHost;
const data = bytes(3 * MIB + 12_345, 4);

const client = (id: string): StrataClient => clients.actor(id) as StrataClient;
const worker = (): WorkerActor => server.actor('worker-0') as WorkerActor;
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-rw-sc-'));
  ({ server, clients } = await startLocalReadBed(dir, data, {
    secret: 'rw-sc',
    writer: 'client-sc',
    others: () => [{ id: 'client-raw', dataDir: join(dir, 'client-raw'), create: (env) => new Raw(env) }],
  }));
}, 30_000);

afterAll(async () => {
  await clients?.shutdown();
  await server?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('short-circuit reads', () => {
  it('a client on the worker host reads cached blocks from their files; with the key off it streams', async () => {
    const sc = client('client-sc');
    const before = worker().counters.bytesReadCache;
    expect(same(await sc.readFile('/f'), data)).toBe(true);
    expect(sc.counters.bytesReadShortCircuit).toBe(data.byteLength);
    const st = client('client-stream');
    expect(same(await st.readFile('/f'), data)).toBe(true);
    expect(st.counters.bytesReadShortCircuit).toBe(0);
    // Only the streaming client's bytes left the worker's memory.
    expect(worker().counters.bytesReadCache - before).toBe(data.byteLength);
    // Positioned reads across a block boundary read only their range from the files.
    const r = await sc.openFile('/f', { cache: false });
    const n0 = sc.counters.bytesReadShortCircuit;
    const got = await r.read(100_000, MIB - 50_000);
    expect(same(got, data.subarray(MIB - 50_000, MIB + 50_000))).toBe(true);
    expect(sc.counters.bytesReadShortCircuit - n0).toBe(100_000);
    // A run of positioned reads on one block borrows its file once.
    const lent = worker().counters.blocksLent;
    for (let i = 0; i < 20; i++) {
      const off = 2 * MIB + i * 4096;
      expect(same(await r.read(4096, off), data.subarray(off, off + 4096))).toBe(true);
    }
    expect(worker().counters.blocksLent - lent).toBeLessThanOrEqual(1);
  });

  it('falls back to streaming when the block file is gone, and still returns the right bytes', { timeout: 15_000 }, async () => {
    const sc = client('client-sc');
    const info = await sc.getStatus('/f');
    const first = info.blocks[0]!;
    const loc = worker().store.location(first.id)!;
    // Files the client still holds open from the reads above would still be read (correctly); wait until they are given back.
    await new Promise((r) => setTimeout(r, 1300));
    unlinkSync(join(dir, 'worker-0', loc.path));
    const n0 = sc.counters.bytesReadShortCircuit;
    expect(same(await sc.readFile('/f'), data)).toBe(true);
    expect(sc.counters.bytesReadShortCircuit - n0).toBe(data.byteLength - first.length);
  });

  it('the worker lends block files only to clients on its host, and only blocks it holds', async () => {
    const raw = clients.actor('client-raw') as Raw;
    const info = await client('client-sc').getStatus('/f');
    const id = info.blocks[1]!.id;
    expect(await raw.refusal('worker-0', { t: 'OpenLocalBlock', blockId: id, host: 'another-host.example' })).toBe('FAILED_PRECONDITION');
    expect(await raw.refusal('worker-0', { t: 'OpenLocalBlock', blockId: blockIdOf(77), host: hostname() })).toBe('NOT_FOUND');
  });
});

describe('freeing a lent block', () => {
  it('does not wait for the lease: the reader keeps the file it opened, the store lets the block go', { timeout: 15_000 }, async () => {
    const raw = clients.actor('client-raw') as Raw;
    const sc = client('client-sc');
    const info = await sc.getStatus('/f');
    const ids = info.blocks.map((b) => b.id);
    // A lease that is never given back (a client that hung).
    const lent = await raw.rpc.request('worker-0', { t: 'OpenLocalBlock', blockId: ids[2]!, host: hostname() }, 'LocalBlock');
    expect(lent).toMatchObject({ t: 'LocalBlock', length: info.blocks[2]!.length });
    await sc.free('/f', true);
    const until = Date.now() + 5000;
    while (ids.some((id) => worker().store.has(id)) || worker().store.usedBytes() > 0) {
      if (Date.now() > until) throw new Error(`blocks still held: ${worker().store.blockIds().join(', ')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    // Freed, not lost: the next read goes through to the UFS.
    expect(same(await sc.readFile('/f'), data)).toBe(true);
  });
});

describe('block leases', () => {
  it('a leased block is neither evicted nor moved; removing it waits for the release', async () => {
    const f = fixture([{ alias: 'MEM', quotas: [30] }, { alias: 'SSD', quotas: [10] }]);
    const s = await f.open();
    await s.put(1, blockBytes(1, 10));
    await s.put(2, blockBytes(2, 10));
    await s.put(3, blockBytes(3, 10));
    const lease = s.lease(1)!;
    expect(lease.length).toBe(10);
    expect(same(await lease.disk.readFile(lease.path), blockBytes(1, 10))).toBe(true);
    // Block 1 is the least recently used of MEM, but it is leased: the next put evicts around it.
    await s.put(2, blockBytes(2, 10));
    await s.put(3, blockBytes(3, 10));
    await s.put(4, blockBytes(4, 10));
    expect(s.location(1)?.tier).toBe('MEM');
    expect((await s.promote(1)).promoted).toBe(true);
    let removed = false;
    const removal = s.remove(1).then(() => (removed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(removed).toBe(false);
    expect(same(await lease.disk.readFile(lease.path), blockBytes(1, 10))).toBe(true);
    lease.release();
    lease.release();
    await removal;
    expect(s.has(1)).toBe(false);
    expect(await lease.disk.stat(lease.path)).toBeNull();
    expect(s.lease(1)).toBeUndefined();
  });
});
