import { afterEach, describe, expect, it } from 'vitest';
import { WsNetwork } from '../transport/ws-network.js';
import type { Envelope } from '../actors/protocol/envelope.js';

const open: WsNetwork[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
});

function echoServer(): WsNetwork {
  const n = new WsNetwork({ clusterId: 'c', clusterSecret: 'k' });
  n.addLocal('srv', (e) => {
    if (e.id > 0) n.send(e.f, { f: 'srv', to: e.f, id: 0, re: e.id, m: { t: 'Ok' } });
  });
  open.push(n);
  return n;
}

async function listenOn(n: WsNetwork, port: number): Promise<string> {
  // The old socket may linger briefly in the kernel; retry for a moment.
  for (let i = 0; ; i++) {
    try {
      return await n.listen('127.0.0.1', port);
    } catch (e) {
      if (i > 50) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('transport reconnect', () => {
  it('redials a restarted server with backoff and messages flow again', async () => {
    const got: Envelope[] = [];
    const client = new WsNetwork({ clusterId: 'c', clusterSecret: 'k', backoffInitialMs: 20, backoffMaxMs: 200 });
    client.addLocal('cli', (e) => got.push(e));
    open.push(client);

    const first = echoServer();
    const addr = await first.listen('127.0.0.1', 0);
    const port = Number(new URL(addr).port);
    client.learnAddress('srv', addr);
    client.send('srv', { f: 'cli', to: 'srv', id: 1, m: { t: 'GetMasterInfo' } });
    await until(() => got.some((e) => e.re === 1));

    await first.close();
    await until(() => client.stats().links === 0);
    // Let a few dials fail against the closed port before the server comes back.
    await new Promise((r) => setTimeout(r, 300));
    const failedDials = client.stats().reconnects;
    expect(failedDials).toBeGreaterThan(0);

    // Sent while no link exists: queued, then flushed once the link is back.
    client.send('srv', { f: 'cli', to: 'srv', id: 2, m: { t: 'GetMasterInfo' } });
    const second = echoServer();
    expect(await listenOn(second, port)).toBe(addr);
    await until(() => got.some((e) => e.re === 2), 5000);
    expect(client.stats().links).toBe(1);
    // Backoff keeps the dial rate well below one per millisecond.
    expect(client.stats().reconnects).toBeLessThan(40);
  });
});

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
