// Transport throughput: 1 MiB chunks from this process to a child process, over
// raw `ws` and over strata's WsNetwork (authenticated link, envelopes through
// the codec, validated on arrival), with the same credit window and the same
// byte count, runs interleaved. Prints `RESULT transport ratio=<strata/raw>`.
//
// Large byte fields travel as a split frame (see ws-network.ts), so neither side
// copies a chunk into a frame buffer. The sender listens and the receiver dials,
// as a worker serving a client does:
// server-to-client frames are not masked, so the raw baseline sends without
// copying and any copy strata adds shows in the ratio.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import type { Envelope } from '../actors/protocol/envelope.js';
import { WsNetwork } from '../transport/ws-network.js';
import { fail, runMain } from './entry.js';

const CHUNK = 1024 * 1024;
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 512);
const RUNS = Number(process.env.BENCH_RUNS ?? 6);
const WINDOW = 16;
const CLUSTER = { clusterId: 'bench', clusterSecret: 'bench-secret' };
const SENDER = 'bench-sender';
const RECEIVER = 'bench-receiver';

async function child(rawUrl: string, strataUrl: string): Promise<void> {
  const raw = new WebSocket(rawUrl, { perMessageDeflate: false, maxPayload: 32 * 1024 * 1024 });
  raw.binaryType = 'nodebuffer';
  const ack = Buffer.alloc(8);
  raw.on('message', (data: Buffer) => {
    ack.writeUInt32LE(data.byteLength, 0);
    raw.send(ack);
  });
  raw.on('close', () => process.exit(0));
  await new Promise<void>((resolve, reject) => {
    raw.once('open', () => resolve());
    raw.once('error', reject);
  });

  const net = new WsNetwork({ ...CLUSTER });
  net.addLocal(RECEIVER, (e) => {
    if (e.m.t !== 'BlockChunk') return;
    const m = e.m as unknown as { seq: number; data: Uint8Array };
    net.send(SENDER, { f: RECEIVER, to: SENDER, id: 0, m: { t: 'ReadCredit', stream: m.data.byteLength, n: 1 } as Envelope['m'] });
  });
  net.learnAddress(SENDER, strataUrl);
  await net.connect(strataUrl);
  process.stdout.write('ready\n');
}

interface Sender {
  run(chunks: number): Promise<{ ms: number; bytes: number }>;
}

/**
 * Keeps at most WINDOW chunks unacknowledged, the same for both transports so only
 * the transport differs: `send(seq)` puts one chunk on the wire, `ack(n)` counts one back.
 */
function windowed(send: (seq: number, last: boolean) => void): { sender: Sender; ack: (bytes: number) => void } {
  let onAck: (n: number) => void = () => {};
  const sender: Sender = {
    run(chunks) {
      return new Promise((resolve) => {
        let sent = 0;
        let acked = 0;
        let bytes = 0;
        const t0 = process.hrtime.bigint();
        const pump = (): void => {
          while (sent < chunks && sent - acked < WINDOW) {
            send(sent, sent === chunks - 1);
            sent++;
          }
        };
        onAck = (n) => {
          acked++;
          bytes += n;
          if (acked === chunks) resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes });
          else pump();
        };
        pump();
      });
    },
  };
  return { sender, ack: (n) => onAck(n) };
}

function rawSender(ws: WebSocket, chunk: Buffer): Sender {
  const { sender, ack } = windowed(() => ws.send(chunk, { binary: true }));
  ws.on('message', (d: Buffer) => ack(d.readUInt32LE(0)));
  ws.on('error', () => {});
  return sender;
}

function strataSender(net: WsNetwork, chunk: Buffer): { sender: Sender; deliver: (e: Envelope) => void } {
  const { sender, ack } = windowed((seq, last) => {
    const m = { t: 'BlockChunk', seq, data: chunk, last, cached: true };
    net.send(RECEIVER, { f: SENDER, to: RECEIVER, id: 0, re: 1, m });
  });
  const deliver = (e: Envelope): void => {
    if (e.m.t === 'ReadCredit') ack((e.m as unknown as { stream: number }).stream);
  };
  return { sender, deliver };
}

const mibps = (r: { ms: number; bytes: number }): number => r.bytes / (1024 * 1024) / (r.ms / 1000);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const chunk = randomBytes(CHUNK);
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 32 * 1024 * 1024 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const rawPort = (wss.address() as { port: number }).port;
  const rawConn = new Promise<WebSocket>((r) => wss.once('connection', (ws) => r(ws)));

  const net = new WsNetwork({ ...CLUSTER });
  let deliver: (e: Envelope) => void = () => {};
  net.addLocal(SENDER, (e) => deliver(e));
  const strataUrl = await net.listen('127.0.0.1', 0);

  const proc: ChildProcess = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', `ws://127.0.0.1:${rawPort}`, strataUrl], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (l) => l === 'ready' && resolve());
    proc.once('exit', (code) => reject(new Error(`receiver exited early (${code})`)));
  });
  try {
    await ready;
    const raw = rawSender(await rawConn, chunk);
    const s = strataSender(net, chunk);
    deliver = s.deliver;

    console.log(`transport: ${CHUNK / 1024} KiB chunks, ${CHUNKS} MiB per run, ${RUNS} runs each (interleaved), window ${WINDOW}`);
    await raw.run(32);
    await s.sender.run(32);
    const rawT: number[] = [];
    const strataT: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Alternate which goes first so neither always gets the warmer machine.
      const order: Array<['raw ws' | 'strata', Sender, number[]]> = [
        ['raw ws', raw, rawT],
        ['strata', s.sender, strataT],
      ];
      if (i % 2 === 1) order.reverse();
      for (const [label, sender, into] of order) {
        const r = await sender.run(CHUNKS);
        if (r.bytes !== CHUNKS * CHUNK) throw new Error(`${label}: receiver saw ${r.bytes} bytes, expected ${CHUNKS * CHUNK}`);
        into.push(mibps(r));
        console.log(`  run ${i + 1} ${label.padEnd(6)} ${mibps(r).toFixed(1).padStart(8)} MiB/s  (${r.ms.toFixed(0)} ms)`);
      }
    }
    const rawMed = median(rawT);
    const strataMed = median(strataT);
    const stats = net.stats();
    console.log(`raw ws  median ${rawMed.toFixed(1)} MiB/s`);
    console.log(`strata  median ${strataMed.toFixed(1)} MiB/s  (frames out ${stats.framesOut}, dropped ${stats.dropped}, invalid ${stats.invalidFrames})`);
    console.log(`RESULT transport ratio=${(strataMed / rawMed).toFixed(3)}`);
  } finally {
    proc.kill();
    await net.close();
    await new Promise<void>((r) => wss.close(() => r()));
  }
}

if (process.argv[2] === '--child') {
  child(process.argv[3]!, process.argv[4]!).catch(fail('receiver'));
} else {
  runMain(main);
}
