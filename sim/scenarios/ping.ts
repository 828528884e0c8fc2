// The framework's own scenario: echo servers and pingers under network faults,
// disk faults and crash/restart, then a quiet phase. It exercises every part of
// the simulator (codec on every hop, timers dying with a crash, disks that lose
// and tear unsynced writes, partitions, clogs) without depending on the
// production actors. The protocol has no dedicated echo message, so a ping is a
// WriteChunk (payload and sequence number) and a pong a BlockChunk echoing both.
import type { Actor, Env, NodeId, Timer } from '../../actors/env.js';
import type { Envelope, Message } from '../../actors/protocol/envelope.js';
import type { ScenarioContext, Scenario } from '../scenario.js';
import { LOCAL_DISK, swarmDiskFaults } from '../env.js';

interface Ping extends Message {
  t: 'WriteChunk';
  stream: number;
  seq: number;
  data: Uint8Array;
}
interface Pong extends Message {
  t: 'BlockChunk';
  seq: number;
  data: Uint8Array;
  last: boolean;
  cached: boolean;
}

/** A record of the echo's log: the ping's seq and a check word, so recovery can spot damage. */
const RECORD = 8;
const LOG = 'served.log';
function checkWord(seq: number): number {
  return (Math.imul(seq ^ 0x5bd1e995, 0x9e3779b1) ^ 0xa5a5a5a5) >>> 0;
}

export interface PingChecker {
  sent(pinger: NodeId, id: number, to: NodeId, seq: number, data: Uint8Array): void;
  request(echo: NodeId, e: Envelope): void;
  reply(pinger: NodeId, e: Envelope): void;
}

export class EchoActor implements Actor {
  private served = 0;
  private dirty = false;
  private syncTimer: Timer | undefined;
  corruptRecords = 0;

  constructor(
    private readonly env: Env,
    private readonly checker: PingChecker,
  ) {}

  async start(): Promise<void> {
    const disk = this.env.disk;
    const st = await disk.stat(LOG);
    if (st !== null) {
      // A crash may have torn the last append: keep whole records only.
      const whole = st.size - (st.size % RECORD);
      if (whole !== st.size) await disk.truncate(LOG, whole);
      const data = await disk.readFile(LOG);
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      for (let off = 0; off + RECORD <= data.byteLength; off += RECORD) {
        if (view.getUint32(off + 4) !== checkWord(view.getUint32(off))) this.corruptRecords++;
      }
      this.served = whole / RECORD;
      if (this.corruptRecords > 0) this.env.log.log('warn', 'checksum mismatch in served.log (bad read or bad record)', { records: this.corruptRecords });
    }
    this.scheduleSync();
  }

  private scheduleSync(): void {
    this.syncTimer = this.env.setTimer(100, () => {
      if (this.dirty) {
        this.dirty = false;
        this.env.disk.fsync(LOG).catch((e: unknown) => this.env.log.log('warn', 'fsync failed', { error: String(e) }));
      }
      this.scheduleSync();
    });
  }

  receive(e: Envelope): void {
    if (e.m.t !== 'WriteChunk' || e.id === 0) return;
    const m = e.m as Ping;
    this.checker.request(this.env.self, e);
    const pong: Pong = { t: 'BlockChunk', seq: m.seq, data: m.data, last: true, cached: false };
    this.env.send(e.f, { f: this.env.self, to: e.f, id: 0, re: e.id, m: pong });
    const rec = new Uint8Array(RECORD);
    const v = new DataView(rec.buffer);
    v.setUint32(0, m.seq);
    v.setUint32(4, checkWord(m.seq));
    this.served++;
    this.dirty = true;
    this.env.disk.append(LOG, rec).catch((err: unknown) => this.env.log.log('warn', 'append failed', { error: String(err) }));
  }

  async stop(): Promise<void> {
    this.syncTimer?.cancel();
    await this.env.disk.fsync(LOG).catch(() => undefined);
  }
}

export class PingerActor implements Actor {
  private nextSeq = 0;
  private idBase = 0;
  private readonly outstanding = new Map<number, Timer>();
  replies = 0;
  timeouts = 0;

  constructor(
    private readonly env: Env,
    private readonly echoes: readonly NodeId[],
    private readonly checker: PingChecker,
  ) {}

  async start(): Promise<void> {
    // Ids unique across restarts, as a real client's must be: a late reply to the
    // previous life must not match a new request.
    this.idBase = Math.floor(this.env.random() * 2 ** 40) * 1024;
    this.tick();
  }

  private tick(): void {
    const env = this.env;
    const to = this.echoes[Math.floor(env.random() * this.echoes.length)]!;
    const seq = this.nextSeq++;
    const id = this.idBase + seq + 1;
    const data = new Uint8Array(Math.floor(env.random() * 256));
    const view = new DataView(data.buffer);
    for (let i = 0; i + 4 <= data.length; i += 4) view.setUint32(i, Math.floor(env.random() * 2 ** 32));
    this.checker.sent(env.self, id, to, seq, data);
    const ping: Ping = { t: 'WriteChunk', stream: 0, seq, data };
    env.send(to, { f: env.self, to, id, m: ping });
    this.outstanding.set(
      id,
      env.setTimer(1000, () => {
        this.outstanding.delete(id);
        this.timeouts++;
      }),
    );
    env.setTimer(5 + env.random() * 30, () => this.tick());
  }

  receive(e: Envelope): void {
    if (e.re === undefined) return;
    this.checker.reply(this.env.self, e);
    const deadline = this.outstanding.get(e.re);
    if (deadline !== undefined) {
      deadline.cancel();
      this.outstanding.delete(e.re);
      this.replies++;
    }
  }

  async stop(): Promise<void> {
    for (const t of this.outstanding.values()) t.cancel();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

interface SentPing {
  to: NodeId;
  seq: number;
  data: Uint8Array;
  at: number;
  answered: boolean;
}

function makeChecker(ctx: ScenarioContext): PingChecker & { all: Map<string, SentPing> } {
  const all = new Map<string, SentPing>();
  const find = (pinger: NodeId, id: number): SentPing | undefined => all.get(pinger + '/' + id);
  return {
    all,
    sent(pinger, id, to, seq, data) {
      all.set(pinger + '/' + id, { to, seq, data: data.slice(), at: ctx.sim.now, answered: false });
    },
    request(echo, e) {
      const req = find(e.f, e.id);
      if (req === undefined) ctx.fail(`${echo} got request ${e.id} that ${e.f} never sent`);
      const m = e.m as Ping;
      ctx.check(req.to === echo && req.seq === m.seq && sameBytes(req.data, m.data), () => `${echo} got request ${e.id} from ${e.f} that differs from what was sent`);
    },
    reply(pinger, e) {
      const req = find(pinger, e.re!);
      if (req === undefined) ctx.fail(`${pinger} got a reply (${e.m.t}, re=${e.re}) from ${e.f} without a request`);
      if (e.m.t === 'Error') ctx.fail(`${pinger} got an error reply to ${e.re}: ${JSON.stringify(e.m)}`);
      const m = e.m as Pong;
      ctx.check(e.f === req.to, () => `${pinger} got the reply to ${e.re} from ${e.f}, but sent it to ${req.to}`);
      ctx.check(m.t === 'BlockChunk' && m.seq === req.seq && sameBytes(m.data, req.data), () => `${pinger} got a reply to ${e.re} that does not match its request`);
      req.answered = true;
    },
  };
}

export const ping: Scenario = {
  name: 'ping',
  description: 'echo actors under network and disk faults with crash/restart; every reply matches its request, no reply without one',
  async run(ctx) {
    const { cluster, sim, net, rng } = ctx;
    const echoes = ['echo-0', 'echo-1', 'echo-2'];
    const pingers = ['pinger-0', 'pinger-1'];
    const checker = makeChecker(ctx);
    const diskModel = swarmDiskFaults(rng.fork('disk'));
    for (const id of echoes) cluster.addNode(id, (env) => new EchoActor(env, checker), { disk: diskModel, allowStartFailure: true });
    for (const id of pingers) cluster.addNode(id, (env) => new PingerActor(env, echoes, checker));
    const all = [...echoes, ...pingers];
    await ctx.settle(Promise.allSettled(all.map((id) => cluster.start(id))));

    // Fault phase: the network's own swarm faults, plus crashes and restarts.
    const faultEnd = 12_000;
    for (let t = rng.range(300, 2500); t < faultEnd; t += rng.range(300, 2500)) {
      sim.at(t, 'scenario', 'crash', () => {
        const id = rng.pick(all);
        if (!cluster.isUp(id)) return;
        cluster.crash(id);
        sim.schedule(rng.range(20, 1500), 'scenario', 'restart', () => {
          if (cluster.state(id) === 'down') void cluster.start(id);
        });
      });
    }
    await ctx.run({ until: faultEnd });

    // Quiet phase: no faults; everything sent after the backlog drains must be answered.
    net.faultsOff();
    for (const id of echoes) cluster.setDiskModel(id, LOCAL_DISK);
    await ctx.settle(Promise.allSettled(all.filter((id) => cluster.state(id) === 'down').map((id) => cluster.start(id))));
    const windowStart = sim.now + 4000;
    const windowEnd = windowStart + 4000;
    await ctx.run({ until: windowEnd + 1500 });
    let inWindow = 0;
    for (const [key, p] of checker.all) {
      if (p.at < windowStart || p.at > windowEnd) continue;
      inWindow++;
      ctx.check(p.answered, () => `${key} sent at ${p.at.toFixed(1)} ms in the quiet phase was never answered`);
    }
    ctx.check(inWindow > 100, `only ${inWindow} pings in the quiet window`);
    ctx.log(`pings=${checker.all.size} quiet-window=${inWindow} delivered=${net.stats.delivered}`);
  },
};
