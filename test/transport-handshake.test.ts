import { afterEach, describe, expect, it } from 'vitest';
import { ClientHandshake, ServerHandshake } from '../transport/handshake.js';
import { WsNetwork, type WsNetworkOptions } from '../transport/ws-network.js';
import { isStrataError, type Envelope } from '../actors/protocol/envelope.js';

const open: WsNetwork[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
});

function net(node: string, opts: Partial<WsNetworkOptions> = {}, logs: string[] = []): { n: WsNetwork; got: Envelope[]; logs: string[] } {
  const got: Envelope[] = [];
  const n = new WsNetwork({
    clusterId: 'test-cluster',
    clusterSecret: 's3cret',
    backoffInitialMs: 20,
    backoffMaxMs: 200,
    ...opts,
    log: (level, msg, fields) => logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`),
  });
  n.addLocal(node, (e) => got.push(e));
  open.push(n);
  return { n, got, logs };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function refusal(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a refusal');
}

describe('transport handshake', () => {
  it('authenticates both ends and carries envelopes both ways', async () => {
    const server = net('master-0');
    const client = net('client-1');
    const addr = await server.n.listen('127.0.0.1', 0);
    expect(addr).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    await client.n.connect(addr);
    client.n.learnAddress('master-0', addr);
    client.n.send('master-0', { f: 'client-1', to: 'master-0', id: 7, m: { t: 'GetMasterInfo' } });
    await until(() => server.got.length === 1);
    expect(server.got[0]).toMatchObject({ f: 'client-1', id: 7, m: { t: 'GetMasterInfo' } });
    // The server has no address for the client: the reply rides the inbound link.
    server.n.send('client-1', { f: 'master-0', to: 'client-1', id: 0, re: 7, m: { t: 'Ok' } });
    await until(() => client.got.length === 1);
    expect(client.got[0]).toMatchObject({ re: 7, m: { t: 'Ok' } });
    expect(server.n.stats()).toMatchObject({ links: 1, handshakesRefused: 0, linksOpened: 1 });
    expect(client.n.stats()).toMatchObject({ links: 1, handshakesRefused: 0 });
  });

  it('refuses a wrong secret with a clear message on both sides', async () => {
    const server = net('master-0');
    const client = net('client-1', { clusterSecret: 'not-the-secret' });
    const addr = await server.n.listen('127.0.0.1', 0);
    const err = await refusal(client.n.connect(addr));
    expect(isStrataError(err, 'PERMISSION_DENIED')).toBe(true);
    expect(err.message).toBe(`handshake refused by ${addr}: wrong cluster secret`);
    await until(() => server.n.stats().handshakesRefused === 1);
    expect(server.logs.some((l) => l.includes('refused a client') && l.includes('wrong cluster secret'))).toBe(true);
    expect(client.n.stats()).toMatchObject({ handshakesRefused: 1, links: 0 });
    expect(server.n.stats().links).toBe(0);
    // Nothing gets through a refused link.
    client.n.learnAddress('master-0', addr);
    client.n.send('master-0', { f: 'client-1', to: 'master-0', id: 1, m: { t: 'GetMasterInfo' } });
    await new Promise((r) => setTimeout(r, 100));
    expect(server.got).toHaveLength(0);
  });

  it('refuses a wrong protocol version', async () => {
    const server = net('master-0');
    const client = net('client-1', { protocolVersion: 99 });
    const addr = await server.n.listen('127.0.0.1', 0);
    const err = await refusal(client.n.connect(addr));
    expect(err.message).toMatch(new RegExp(`^handshake refused by ${addr}: protocol version mismatch: server speaks 1, client speaks 99$`));
    await until(() => server.n.stats().handshakesRefused === 1);
    expect(server.logs.some((l) => l.includes('protocol version mismatch'))).toBe(true);
  });

  it('refuses a wrong cluster id', async () => {
    const server = net('master-0');
    const client = net('client-1', { clusterId: 'other-cluster' });
    const addr = await server.n.listen('127.0.0.1', 0);
    const err = await refusal(client.n.connect(addr));
    expect(err.message).toContain(`handshake refused by ${addr}: wrong cluster id`);
    expect(err.message).toContain('other-cluster');
    await until(() => server.n.stats().handshakesRefused === 1);
  });

  it('reports an unreachable peer as UNAVAILABLE', async () => {
    const server = net('master-0');
    const addr = await server.n.listen('127.0.0.1', 0);
    await server.n.close();
    const client = net('client-1');
    const err = await refusal(client.n.connect(addr));
    expect(isStrataError(err, 'UNAVAILABLE')).toBe(true);
    expect(err.message).toContain(addr);
  });
});

describe('handshake state machines', () => {
  const cfg = { clusterId: 'c', clusterSecret: 'k' };

  it('a client refuses a server that cannot prove the secret', () => {
    const server = new ServerHandshake({ ...cfg, nodes: ['m'] });
    const client = new ClientHandshake({ ...cfg, nodes: ['x'] });
    const auth = client.onFrame(server.start());
    expect(auth.kind).toBe('send');
    const welcome = server.onFrame((auth as { frame: Uint8Array }).frame);
    expect(welcome.kind).toBe('done');
    const frame = Buffer.from((welcome as { frame: Uint8Array }).frame);
    frame[frame.byteLength - 1]! ^= 1; // flip a bit of the proof
    const step = client.onFrame(frame);
    expect(step).toMatchObject({ kind: 'refuse', refusal: 'secret' });
  });

  it('a proof for one link does not open another', () => {
    const s1 = new ServerHandshake({ ...cfg, nodes: ['m'] });
    const c1 = new ClientHandshake({ ...cfg, nodes: ['x'] });
    const auth = c1.onFrame(s1.start()) as { frame: Uint8Array };
    // Replayed to a second server, whose nonce differs.
    const s2 = new ServerHandshake({ ...cfg, nodes: ['m'] });
    s2.start();
    expect(s2.onFrame(auth.frame)).toMatchObject({ kind: 'refuse', refusal: 'secret' });
  });

  it('malformed handshake frames are refused, not thrown', () => {
    const s = new ServerHandshake({ ...cfg, nodes: ['m'] });
    s.start();
    expect(s.onFrame(new Uint8Array([0xc1, 0xff, 0x00]))).toMatchObject({ kind: 'refuse', refusal: 'malformed' });
    const c = new ClientHandshake({ ...cfg, nodes: ['x'] });
    expect(c.onFrame(new Uint8Array([0x93, 1, 2]))).toMatchObject({ kind: 'refuse', refusal: 'malformed' });
  });
});
