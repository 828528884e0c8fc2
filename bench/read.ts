// End-to-end read throughput: a 256 MiB file cached in a worker's MEM tier, read
// by a StrataClient in another process, against raw `ws` moving the same bytes
// between the same two processes, runs interleaved. Prints MiB/s for each and
// `RESULT read ratio=<strata/raw>`.
//
// This process hosts a real master and worker (NodeHost, WebSocket on
// 127.0.0.1, random ports, a temp work dir); the child hosts the client, as
// `strata fs cat` would. The child writes the file once with CACHE_THROUGH, so
// its blocks land in the worker's cache, checks the first read byte for byte,
// then times whole-file reads streamed into a sink that only counts (what `cat`
// to /dev/null does), so only the transfer is measured.
//
// The raw baseline is what the same data path would cost with no strata in it:
// this process serves the bytes over a plain `ws` server, the child dials and
// asks for them, and the bytes flow in the client's chunk size under the same
// credit window (one ack per chunk), from a buffer already in memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import type { StrataClient } from '../actors/client/client.js';
import { Conf, K } from '../actors/conf.js';
import { NodeHost } from '../actors/node/nact-host.js';
import { MASTER_ID, clientOptions, clientRole, masterOptions, masterRole, workerOptions, workerRole } from '../actors/node/roles.js';
import { fail, runMain } from './entry.js';

const MIB = 1024 * 1024;
const FILE_BYTES = Number(process.env.BENCH_FILE_MIB ?? 256) * MIB;
const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const PATH = '/bench/read-256m';
const ONLY = process.env.BENCH_ONLY;
const SECRET = 'bench-read-secret';

function benchConf(workDir: string): Conf {
  // Defaults everywhere else (1 MiB chunks, window 8, 64 MiB blocks): the bench measures what users get.
  // BENCH_CONF='key=value,key=value' overrides them for experiments (both sides, and the raw baseline's chunk and window).
  const extra: Record<string, string> = {};
  for (const kv of (process.env.BENCH_CONF ?? '').split(',').filter(Boolean)) {
    const i = kv.indexOf('=');
    extra[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return new Conf([
    [
      'runtime',
      {
        [K.workDir]: workDir,
        [K.clusterSecret]: SECRET,
        [K.logLevel]: 'warn',
        [K.masterRpcPort]: '0',
        [K.workerRpcPort]: '0',
        ...extra,
      },
    ],
  ]);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mibps = (bytes: number, ms: number): number => bytes / MIB / (ms / 1000);
const now = (): number => Number(process.hrtime.bigint()) / 1e6;

// ---- child: the client process ----

async function child(masterAddr: string, rawUrl: string, workDir: string): Promise<void> {
  const conf = benchConf(workDir);
  const copts = clientOptions(conf, { user: 'strata', groups: [] });
  const id = `client-bench-${process.pid}`;
  const host = await NodeHost.start({
    conf,
    nodes: [{ id, dataDir: join(workDir, 'client'), create: clientRole(copts) }],
    peers: { [MASTER_ID]: masterAddr },
    logLevel: 'warn',
  });
  await host.connect(masterAddr, 10_000);
  const client = host.actor(id) as StrataClient;

  const raw = new WebSocket(rawUrl, { perMessageDeflate: false, maxPayload: 64 * MIB });
  raw.binaryType = 'nodebuffer';
  await new Promise<void>((resolve, reject) => {
    raw.once('open', () => resolve());
    raw.once('error', reject);
  });
  let onRaw: (d: Buffer) => void = () => {};
  raw.on('message', (d: Buffer) => onRaw(d));
  const ack = Buffer.alloc(4);

  const rawRead = (): Promise<{ bytes: number; ms: number }> =>
    new Promise((resolve) => {
      let bytes = 0;
      const t0 = now();
      onRaw = (d) => {
        bytes += d.byteLength;
        if (bytes >= FILE_BYTES) {
          resolve({ bytes, ms: now() - t0 });
          return;
        }
        ack.writeUInt32LE(d.byteLength, 0);
        raw.send(ack);
      };
      const req = Buffer.alloc(12);
      req.writeUInt32LE(copts.chunkSize, 0);
      req.writeUInt32LE(copts.readWindow, 4);
      req.writeUInt32LE(FILE_BYTES / MIB, 8);
      raw.send(req);
    });

  const strataRead = async (): Promise<{ bytes: number; ms: number }> => {
    let bytes = 0;
    const t0 = now();
    await client.read(PATH, (c) => {
      bytes += c.byteLength;
    });
    return { bytes, ms: now() - t0 };
  };

  const say = (line: string): void => void process.stdout.write(line + '\n');
  let expected: Uint8Array | undefined;
  const commands = createInterface({ input: process.stdin });
  for await (const line of commands) {
    try {
      if (line === 'write') {
        expected = randomBytes(FILE_BYTES);
        const t0 = now();
        await client.writeFile(PATH, expected, { overwrite: true, writeType: 'CACHE_THROUGH' });
        say(`wrote ${FILE_BYTES} ${(now() - t0).toFixed(1)}`);
      } else if (line === 'verify') {
        const got = await client.readFile(PATH);
        if (!expected || !Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(expected)) throw new Error('the file read back differs from what was written');
        const info = await client.getStatus(PATH);
        say(`verified ${got.byteLength} ${info.blocks.length} ${info.blocks.filter((b) => b.locations.length > 0).length}`);
      } else if (line === 'status') {
        const info = await client.getStatus(PATH);
        say(`status ${info.blocks.length} ${info.blocks.filter((b) => b.locations.length > 0).length}`);
      } else if (line === 'raw' || line === 'strata') {
        const cpu0 = process.cpuUsage();
        const r = line === 'raw' ? await rawRead() : await strataRead();
        const cpu = process.cpuUsage(cpu0);
        say(`done ${r.bytes} ${r.ms.toFixed(3)} ${((cpu.user + cpu.system) / 1000).toFixed(1)}`);
      } else if (line === 'quit') {
        break;
      }
    } catch (e) {
      say(`error ${(e as Error).message.replace(/\n/g, ' ')}`);
    }
  }
  raw.close();
  await host.shutdown();
  process.exit(0);
}

// ---- parent: master, worker and the raw server ----

function rawServer(): Promise<{ url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 64 * MIB });
  // The bytes are in memory before the clock starts, as a cached block is in the worker.
  const data = randomBytes(FILE_BYTES);
  wss.on('connection', (ws) => {
    let chunk = MIB;
    let pos = FILE_BYTES;
    let credits = 0;
    const pump = (): void => {
      while (credits > 0 && pos < FILE_BYTES) {
        const n = Math.min(chunk, FILE_BYTES - pos);
        ws.send(data.subarray(pos, pos + n), { binary: true });
        pos += n;
        credits--;
      }
    };
    ws.on('message', (d: Buffer) => {
      if (d.byteLength === 12) {
        chunk = d.readUInt32LE(0);
        credits = d.readUInt32LE(4);
        pos = 0;
      } else {
        credits++;
      }
      pump();
    });
    ws.on('error', () => {});
  });
  return new Promise((resolve) => {
    wss.once('listening', () => {
      const port = (wss.address() as { port: number }).port;
      resolve({ url: `ws://127.0.0.1:${port}`, close: () => new Promise<void>((r) => wss.close(() => r())) });
    });
  });
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'strata-bench-read-'));
  const conf = benchConf(workDir);
  let worker: NodeHost | undefined;
  let proc: ChildProcess | undefined;
  let raw: { url: string; close(): Promise<void> } | undefined;
  const master = await NodeHost.start({
    conf,
    listen: { host: '127.0.0.1', port: 0 },
    nodes: [{ id: MASTER_ID, dataDir: join(workDir, 'master'), create: masterRole(masterOptions(conf, workDir)) }],
    logLevel: 'warn',
  });
  try {
    const masterAddr = master.address!;
    worker = await NodeHost.start({
      conf,
      listen: { host: '127.0.0.1', port: 0 },
      // The port is known once the host listens, which is before the worker registers.
      nodes: [{ id: 'worker-0', dataDir: join(workDir, 'worker-0'), create: (env, info) => workerRole(workerOptions(conf, () => info.address ?? ''))(env) }],
      peers: { [MASTER_ID]: masterAddr },
      logLevel: 'warn',
    });
    raw = await rawServer();

        // The child gets this process's node flags, so `node --cpu-prof dist/bench/read.js` profiles both sides.
    proc = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', masterAddr, raw.url, workDir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: proc.stdout! });
    const replies: string[] = [];
    let wake: (() => void) | undefined;
    lines.on('line', (l) => {
      replies.push(l);
      wake?.();
    });
    const exited = new Promise<never>((_, reject) => proc!.once('exit', (code) => reject(new Error(`client process exited (${code})`))));
    exited.catch(() => {});
    const ask = async (cmd: string): Promise<string[]> => {
      proc!.stdin!.write(cmd + '\n');
      while (replies.length === 0) await Promise.race([new Promise<void>((r) => (wake = r)), exited]);
      const reply = replies.shift()!;
      if (reply.startsWith('error ')) throw new Error(`client: ${reply.slice(6)}`);
      return reply.split(' ');
    };

    const cw = conf;
    console.log(
      `read: ${FILE_BYTES / MIB} MiB file, ${cw.bytes(K.userBlockSize) / MIB} MiB blocks, ${cw.bytes(K.userChunkSize) / 1024} KiB chunks, ` +
        `window ${cw.int(K.workerReadWindow)}, client in another process; ${RUNS} runs each (interleaved)`,
    );
    const w = await ask('write');
    console.log(`  wrote the file through the worker (CACHE_THROUGH) in ${Number(w[2]).toFixed(0)} ms`);
    // The master learns the cached blocks from the worker's next heartbeat.
    for (let i = 0; ; i++) {
      const s = await ask('status');
      if (s[1] === s[2]) break;
      if (i > 100) throw new Error(`only ${s[2]} of ${s[1]} blocks are cached after 10 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const v = await ask('verify');
    console.log(`  read back byte for byte; ${v[3]} of ${v[2]} blocks cached on worker-0`);

    await ask('raw');
    await ask('strata');
    const rawT: number[] = [];
    const strataT: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const order: Array<['raw ws' | 'strata', number[]]> = [
        ['raw ws', rawT],
        ['strata', strataT],
      ];
      // Alternate which goes first so neither always gets the warmer machine.
      if (i % 2 === 1) order.reverse();
      for (const [label, into] of order) {
        // BENCH_ONLY=raw|strata runs one side (for profiling it alone); no ratio then.
        if (ONLY && !label.startsWith(ONLY)) continue;
        const cpu0 = process.cpuUsage();
        const r = await ask(label === 'raw ws' ? 'raw' : 'strata');
        const cpu = process.cpuUsage(cpu0);
        const bytes = Number(r[1]);
        const ms = Number(r[2]);
        if (bytes !== FILE_BYTES) throw new Error(`${label}: read ${bytes} bytes, expected ${FILE_BYTES}`);
        into.push(mibps(bytes, ms));
        // CPU per side is steadier than wall time on a shared machine, and says which side costs what.
        const serverCpu = (cpu.user + cpu.system) / 1000;
        console.log(
          `  run ${i + 1} ${label.padEnd(6)} ${mibps(bytes, ms).toFixed(1).padStart(8)} MiB/s  (${ms.toFixed(0)} ms; cpu: server ${serverCpu.toFixed(0)} ms, client ${Number(r[3]).toFixed(0)} ms)`,
        );
      }
    }
    if (ONLY) return;
    const rawMed = median(rawT);
    const strataMed = median(strataT);
    console.log(`raw ws  median ${rawMed.toFixed(1)} MiB/s`);
    console.log(`strata  median ${strataMed.toFixed(1)} MiB/s`);
    console.log(`RESULT read ratio=${(strataMed / rawMed).toFixed(3)}`);
    await ask('quit').catch(() => undefined);
  } finally {
    proc?.kill();
    await raw?.close();
    await worker?.shutdown();
    await master.shutdown();
    rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  child(process.argv[3]!, process.argv[4]!, process.argv[5]!).catch(fail('client process'));
} else {
  runMain(main);
}
