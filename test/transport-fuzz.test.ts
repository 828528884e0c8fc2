// Garbage on an authenticated link: never a crash, never a delivered message,
// always counted, an Error reply when the frame names its sender, and the link
// (or its replacement) keeps working afterwards.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../transport/codec.js';
import { WsNetwork } from '../transport/ws-network.js';
import type { Envelope } from '../actors/protocol/envelope.js';

let server: WsNetwork;
let client: WsNetwork;
let addr: string;
const serverGot: Envelope[] = [];
const clientGot: Envelope[] = [];
let nextId = 1;

function opts(maxFrameBytes: number): ConstructorParameters<typeof WsNetwork>[0] {
  return { clusterId: 'fuzz', clusterSecret: 'k', maxFrameBytes, backoffInitialMs: 10, backoffMaxMs: 100, garbageLimit: 8 };
}

beforeAll(async () => {
  server = new WsNetwork(opts(64 * 1024));
  server.addLocal('srv', (e) => {
    serverGot.push(e);
    if (e.id > 0) server.send(e.f, { f: 'srv', to: e.f, id: 0, re: e.id, m: { t: 'Ok' } });
  });
  addr = await server.listen('127.0.0.1', 0);
  client = new WsNetwork(opts(64 * 1024));
  client.addLocal('cli', (e) => clientGot.push(e));
  client.learnAddress('srv', addr);
  await client.connect(addr);
});

afterAll(async () => {
  await client.close();
  await server.close();
});

async function waitFor<T>(find: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = find();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * A valid request still gets its answer. Sends are fire-and-forget, so a request
 * that raced a closing link is lost; like the RPC layer, retry until answered.
 */
async function roundTrip(): Promise<void> {
  const end = Date.now() + 5000;
  for (;;) {
    const id = nextId++;
    client.send('srv', { f: 'cli', to: 'srv', id, m: { t: 'GetMasterInfo' } });
    const deadline = Date.now() + 300;
    while (Date.now() < deadline) {
      if (clientGot.some((e) => e.re === id && e.m.t === 'Ok')) return;
      await new Promise((r) => setTimeout(r, 2));
    }
    if (Date.now() > end) throw new Error('no answer to a valid request');
  }
}

const validFrame = fc.oneof(
  fc.record({ id: fc.integer({ min: 1, max: 1e9 }), path: fc.string({ maxLength: 200 }) })
    .map(({ id, path }) => encode({ f: 'cli', to: 'srv', id, m: { t: 'CreateFile', path, overwrite: true } as Envelope['m'] })),
  fc.record({ id: fc.integer({ min: 1, max: 1e9 }), data: fc.uint8Array({ minLength: 1, maxLength: 2048 }) })
    .map(({ id, data }) => encode({ f: 'cli', to: 'srv', id, m: { t: 'WriteChunk', stream: 1, seq: 0, data } as Envelope['m'] })),
);

describe('transport fuzz', () => {
  it('arbitrary bytes are counted and change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (bytes) => {
        const before = server.stats();
        const delivered = serverGot.length;
        client.sendFrame('srv', bytes);
        await roundTrip();
        const after = server.stats();
        // Random bytes are never a well-formed envelope of a known type.
        expect(after.invalidFrames - before.invalidFrames).toBe(1);
        expect(serverGot.length).toBeGreaterThan(delivered);
      }),
      { numRuns: 300 },
    );
  });

  it('truncated valid frames are counted and change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(validFrame, fc.nat(), async (frame, cut) => {
        const before = server.stats();
        const delivered = serverGot.length;
        client.sendFrame('srv', frame.subarray(0, cut % frame.byteLength));
        await roundTrip();
        expect(server.stats().invalidFrames - before.invalidFrames).toBe(1);
        expect(serverGot.length).toBeGreaterThan(delivered);
      }),
      { numRuns: 200 },
    );
  });

  it('addressable invalid envelopes get an Error reply carrying their id', async () => {
    const junk = fc.oneof(
      fc.record({ t: fc.string({ maxLength: 20 }).filter((t) => !['Ok', 'Error'].includes(t)), x: fc.anything() }),
      fc.record({ t: fc.constant('CreateFile'), path: fc.integer(), overwrite: fc.string() }),
      fc.record({ t: fc.constant('WriteChunk'), stream: fc.constant(1), seq: fc.constant(-1), data: fc.string() }),
    );
    await fc.assert(
      fc.asyncProperty(junk, async (m) => {
        const id = nextId++;
        const before = server.stats();
        const delivered = serverGot.length;
        client.sendFrame('srv', encode({ f: 'cli', to: 'srv', id, m: m as Envelope['m'] }));
        const reply = await waitFor(() => clientGot.find((e) => e.re === id));
        expect(reply).toMatchObject({ f: 'srv', to: 'cli', id: 0, m: { t: 'Error', code: 'INVALID_ARGUMENT' } });
        expect(server.stats().invalidFrames - before.invalidFrames).toBe(1);
        expect(serverGot.length).toBe(delivered);
        await roundTrip();
      }),
      { numRuns: 150 },
    );
  });

  it('a valid envelope for a node not hosted there gets UNAVAILABLE', async () => {
    const id = nextId++;
    client.sendFrame('srv', encode({ f: 'cli', to: 'nobody', id, m: { t: 'GetMasterInfo' } }));
    const reply = await waitFor(() => clientGot.find((e) => e.re === id));
    expect(reply.m).toMatchObject({ t: 'Error', code: 'UNAVAILABLE' });
    expect(server.stats().misrouted).toBeGreaterThan(0);
  });

  it('a stream of garbage closes the link; the client redials and works again', async () => {
    const before = server.stats();
    for (let i = 0; i < 12; i++) client.sendFrame('srv', new Uint8Array([0xc1, i]));
    await waitFor(() => (server.stats().garbageClosed > before.garbageClosed ? true : undefined));
    await roundTrip();
    expect(client.stats().reconnects).toBeGreaterThan(0);
  });

  it('an oversized frame closes the link and is counted; the client redials', async () => {
    const before = server.stats();
    const big = encode({ f: 'cli', to: 'srv', id: nextId++, m: { t: 'WriteChunk', stream: 1, seq: 0, data: new Uint8Array(200 * 1024) } as Envelope['m'] });
    client.sendFrame('srv', big);
    await waitFor(() => (server.stats().oversizedFrames > before.oversizedFrames ? true : undefined));
    await waitFor(() => (server.stats().linksClosed > before.linksClosed ? true : undefined));
    await roundTrip();
  });
});
