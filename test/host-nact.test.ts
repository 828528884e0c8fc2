import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Conf, K } from '../actors/conf.js';
import type { Actor, Env, Timer } from '../actors/env.js';
import type { Envelope } from '../actors/protocol/envelope.js';
import { NodeHost, startClientHost } from '../actors/node/nact-host.js';

/** Answers every request with Ok; counts what it saw; remembers that it was stopped. */
class EchoActor implements Actor {
  received: Envelope[] = [];
  started = false;
  stopped = false;
  timer: Timer | undefined;
  constructor(readonly env: Env) {}
  async start(): Promise<void> {
    this.started = true;
    await this.env.disk.writeFile('started', new TextEncoder().encode(this.env.self));
    this.timer = this.env.setTimer(60_000, () => {});
  }
  receive(e: Envelope): void {
    if (!this.started) throw new Error('receive before start');
    this.received.push(e);
    if (e.id > 0) this.env.send(e.f, { f: this.env.self, to: e.f, id: 0, re: e.id, m: { t: 'Ok' } });
  }
  async stop(): Promise<void> {
    this.timer?.cancel();
    await this.env.disk.fsync('started');
    this.stopped = true;
  }
}

const hosts: NodeHost[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.shutdown()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'strata-host-'));
  dirs.push(d);
  return d;
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const conf = new Conf();
const quiet = { logSink: () => {} };

describe('NodeHost', () => {
  it('two hosts exchange envelopes over ws; same-process nodes go through the codec', async () => {
    const dir = tmp();
    const a = await NodeHost.start({
      conf,
      ...quiet,
      listen: { host: '127.0.0.1', port: 0 },
      nodes: [
        { id: 'echo-0', dataDir: join(dir, 'echo-0'), create: (env) => new EchoActor(env) },
        { id: 'echo-1', dataDir: join(dir, 'echo-1'), create: (env) => new EchoActor(env) },
      ],
    });
    hosts.push(a);
    expect(a.address).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const b = await NodeHost.start({
      conf,
      ...quiet,
      nodes: [{ id: 'client-0', dataDir: join(dir, 'client-0'), create: (env) => new EchoActor(env) }],
      peers: { 'echo-0': a.address! },
    });
    hosts.push(b);
    expect(b.address).toBeUndefined();

    const client = b.actor('client-0') as EchoActor;
    for (let i = 1; i <= 20; i++) client.env.send('echo-0', { f: 'client-0', to: 'echo-0', id: i, m: { t: 'GetMasterInfo' } });
    await until(() => client.received.length === 20);
    expect(client.received.map((e) => e.re)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

    const echo0 = a.actor('echo-0') as EchoActor;
    const echo1 = a.actor('echo-1') as EchoActor;
    echo0.env.send('echo-1', { f: 'echo-0', to: 'echo-1', id: 99, m: { t: 'GetWorkers' } });
    await until(() => echo0.received.some((e) => e.re === 99));
    expect(echo1.received.map((e) => e.m.t)).toEqual(['GetWorkers']);
    expect(a.stats().transport.loopbackFrames).toBe(2);
    expect(a.stats().delivered).toBe(22);
    expect(b.stats().transport).toMatchObject({ links: 1, framesOut: 20, framesIn: 20, invalidFrames: 0 });

    await b.shutdown();
    expect(client.stopped).toBe(true);
    await a.shutdown();
    expect(echo0.stopped && echo1.stopped).toBe(true);
    await until(() => a.stats().transport.links === 0);
  });

  it('a client host with the wrong secret is refused with a clear message', async () => {
    const dir = tmp();
    const a = await NodeHost.start({
      conf,
      ...quiet,
      listen: { host: '127.0.0.1', port: 0 },
      nodes: [{ id: 'echo-0', dataDir: join(dir, 'e'), create: (env) => new EchoActor(env) }],
    });
    hosts.push(a);
    const c = await startClientHost({
      conf: conf.with({ [K.clusterSecret]: 'wrong' }),
      ...quiet,
      dataDir: join(dir, 'c'),
      create: (env) => new EchoActor(env),
    });
    hosts.push(c);
    expect(c.nodes()[0]).toMatch(/^client-[0-9a-f]{8}$/);
    await expect(c.connect(a.address!)).rejects.toThrow(`handshake refused by ${a.address}: wrong cluster secret`);
    await until(() => a.stats().transport.handshakesRefused === 1);
  });

  it('envelopes that arrive before an actor has started wait for it', async () => {
    const dir = tmp();
    const order: string[] = [];
    class Slow extends EchoActor {
      override async start(): Promise<void> {
        order.push('start-begin');
        await new Promise((r) => this.env.setTimer(50, () => r(undefined)));
        await super.start();
        order.push('start-end');
      }
      override receive(e: Envelope): void {
        order.push(`receive:${e.m.t}`);
        super.receive(e);
      }
    }
    const h = await NodeHost.start({
      conf,
      ...quiet,
      nodes: [
        // The first node sends to the second from its own start().
        {
          id: 'sender',
          dataDir: join(dir, 's'),
          create: (env) =>
            Object.assign(new EchoActor(env), {
              async start() {
                env.send('slow', { f: 'sender', to: 'slow', id: 0, m: { t: 'GetWorkers' } });
              },
            }),
        },
        { id: 'slow', dataDir: join(dir, 'w'), create: (env) => new Slow(env) },
      ],
    });
    hosts.push(h);
    await until(() => order.includes('receive:GetWorkers'));
    expect(order).toEqual(['start-begin', 'start-end', 'receive:GetWorkers']);
  });

  it('a failing actor start shuts the host down and rejects', async () => {
    const dir = tmp();
    await expect(
      NodeHost.start({
        conf,
        ...quiet,
        listen: { host: '127.0.0.1', port: 0 },
        nodes: [
          {
            id: 'bad',
            dataDir: join(dir, 'b'),
            create: () => ({ start: async () => Promise.reject(new Error('journal corrupt at offset 12')), receive: () => {}, stop: async () => {} }),
          },
        ],
      }),
    ).rejects.toThrow('journal corrupt at offset 12');
  });
});
