// End-to-end read benchmarks, each against a baseline measured in the same run,
// runs interleaved so neither side always gets the warmer machine:
//
//   remote   a file cached in a worker's MEM tier, streamed to a StrataClient in
//            another process (short-circuit off), vs raw `ws` moving the same bytes
//            between the same two processes in the same chunks under the same
//            credit window (one ack per chunk), from a buffer already in memory.
//            RESULT read ratio = this one.
//   sc       the same file read by a client on the worker's host with
//            short-circuit on (block files read directly), vs raw `fs` reading
//            the same bytes from the file's UFS copy in block-sized reads.
//   cold     a file not cached anywhere read through a worker from the local UFS
//            (NO_CACHE, so every run is cold), vs raw `fs` + `ws`: a plain server
//            reading the same file in chunks and sending them under the same window.
//   random   4 KiB positioned reads at random offsets of the cached file, one at
//            a time, per second: short-circuit and remote, vs raw `fs` preads.
//
// This process hosts a real master and worker (NodeHost, WebSocket on
// 127.0.0.1, random ports, a temp work dir) and the raw servers; the child hosts
// the clients, as `strata fs cat` would. The child writes the files once, checks
// each read path byte for byte, then times whole-file reads into a sink that only
// counts (what `cat` to /dev/null does).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import type { FileInfo, ReadType, StrataClient } from '../actors/client/client.js';
import { Conf, K } from '../actors/conf.js';
import { NodeHost } from '../actors/node/nact-host.js';
import { MASTER_ID, clientOptions, clientRole, masterOptions, masterRole, workerOptions, workerRole } from '../actors/node/roles.js';
import { fail, runMain } from './entry.js';

const MIB = 1024 * 1024;
const FILE_BYTES = Number(process.env.BENCH_FILE_MIB ?? 1024) * MIB;
const COLD_BYTES = Number(process.env.BENCH_COLD_MIB ?? 256) * MIB;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const RANDOM_READS = Number(process.env.BENCH_RANDOM_READS ?? 2000);
const HOT = '/bench/read-hot';
const COLD = '/bench/read-cold';
/** BENCH_ONLY=remote|sc|cold|random runs one part (for profiling it alone). */
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
        // The whole file fits in the MEM tier.
        [K.workerMemSize]: `${Math.ceil((FILE_BYTES + COLD_BYTES) / MIB) + 64}MB`,
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

/** The local file behind a file's UFS copy (the bench's root UFS is a directory). */
function ufsFile(info: FileInfo): string {
  return join(fileURLToPath(info.ufsMount), info.ufsPath);
}

/** Positions of the random reads: the same for every side. */
function randomOffsets(fileBytes: number): number[] {
  const out: number[] = [];
  let x = 0x9e3779b9;
  for (let i = 0; i < RANDOM_READS; i++) {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    out.push(Math.floor((x / 2 ** 32) * (fileBytes / 4096)) * 4096);
  }
  return out;
}

// ---- child: the client process ----

async function child(masterAddr: string, rawUrl: string, workDir: string): Promise<void> {
  const conf = benchConf(workDir);
  const user = { user: 'strata', groups: [] };
  const copts = clientOptions(conf, user);
  const remoteId = `client-remote-${process.pid}`;
  const scId = `client-sc-${process.pid}`;
  const host = await NodeHost.start({
    conf,
    nodes: [
      // The client cache is for file handles; whole-file reads stream either way.
      { id: remoteId, dataDir: join(workDir, 'client-remote'), create: clientRole({ ...copts, shortCircuit: false, cache: undefined }) },
      { id: scId, dataDir: join(workDir, 'client-sc'), create: clientRole({ ...copts, shortCircuit: true, cache: undefined }) },
    ],
    peers: { [MASTER_ID]: masterAddr },
    logLevel: 'warn',
  });
  await host.connect(masterAddr, 10_000);
  const remote = host.actor(remoteId) as StrataClient;
  const sc = host.actor(scId) as StrataClient;

  const raw = new WebSocket(rawUrl, { perMessageDeflate: false, maxPayload: 64 * MIB });
  raw.binaryType = 'nodebuffer';
  await new Promise<void>((resolve, reject) => {
    raw.once('open', () => resolve());
    raw.once('error', reject);
  });
  let onRaw: (d: Buffer) => void = () => {};
  raw.on('message', (d: Buffer) => onRaw(d));
  const ack = Buffer.alloc(4);

  /** The raw server sends `bytes` (from memory, or read from `file`), one chunk per ack. */
  const rawRead = (bytes: number, file?: string): Promise<{ bytes: number; ms: number }> =>
    new Promise((resolve) => {
      let got = 0;
      const t0 = now();
      onRaw = (d) => {
        got += d.byteLength;
        if (got >= bytes) {
          resolve({ bytes: got, ms: now() - t0 });
          return;
        }
        ack.writeUInt32LE(d.byteLength, 0);
        raw.send(ack);
      };
      raw.send(JSON.stringify({ chunk: copts.chunkSize, window: copts.readWindow, bytes, ...(file ? { file } : {}) }));
    });

  const strataRead = async (client: StrataClient, path: string, readType?: ReadType): Promise<{ bytes: number; ms: number }> => {
    let bytes = 0;
    const t0 = now();
    await client.read(path, (c) => {
      bytes += c.byteLength;
    }, readType);
    return { bytes, ms: now() - t0 };
  };

  /** What short-circuit does, without strata: the file read in block-sized preads. */
  const fsRead = async (file: string, blockBytes: number): Promise<{ bytes: number; ms: number }> => {
    const t0 = now();
    const fh = await open(file, 'r');
    let bytes = 0;
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(blockBytes);
        let n = 0;
        while (n < blockBytes) {
          const { bytesRead } = await fh.read(buf, n, blockBytes - n, bytes + n);
          if (bytesRead === 0) break;
          n += bytesRead;
        }
        bytes += n;
        if (n < blockBytes) break;
      }
    } finally {
      await fh.close();
    }
    return { bytes, ms: now() - t0 };
  };

  const randomStrata = async (client: StrataClient): Promise<{ ops: number; ms: number }> => {
    const r = await client.openFile(HOT, { cache: false });
    const buf = new Uint8Array(4096);
    const t0 = now();
    for (const off of randomOffsets(FILE_BYTES)) await r.read(buf, off);
    r.close();
    return { ops: RANDOM_READS, ms: now() - t0 };
  };

  const randomFs = async (file: string): Promise<{ ops: number; ms: number }> => {
    const buf = Buffer.allocUnsafe(4096);
    const t0 = now();
    // A handle per read, as a short-circuit read opens the block file each time.
    for (const off of randomOffsets(FILE_BYTES)) {
      const fh: FileHandle = await open(file, 'r');
      await fh.read(buf, 0, 4096, off);
      await fh.close();
    }
    return { ops: RANDOM_READS, ms: now() - t0 };
  };

  const say = (line: string): void => void process.stdout.write(line + '\n');
  const expected = new Map<string, Uint8Array>();
  const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  const commands = createInterface({ input: process.stdin });
  for await (const line of commands) {
    try {
      const [cmd, arg] = line.split(' ');
      if (cmd === 'write') {
        const path = arg === 'cold' ? COLD : HOT;
        const data = randomBytes(arg === 'cold' ? COLD_BYTES : FILE_BYTES);
        expected.set(path, data);
        const t0 = now();
        await remote.writeFile(path, data, { overwrite: true, writeType: arg === 'cold' ? 'THROUGH' : 'CACHE_THROUGH' });
        say(`wrote ${data.byteLength} ${(now() - t0).toFixed(1)}`);
      } else if (cmd === 'verify') {
        // Every read path, byte for byte, before anything is timed.
        const cold = await remote.readFile(COLD, 'NO_CACHE');
        const viaRemote = await remote.readFile(HOT);
        const viaSc = await sc.readFile(HOT);
        const r = await sc.openFile(HOT, { cache: false });
        const offs = randomOffsets(FILE_BYTES).slice(0, 50);
        const hot = expected.get(HOT)!;
        for (const off of offs) if (!same(await r.read(4096, off), hot.subarray(off, off + 4096))) throw new Error(`positioned read at ${off} differs`);
        if (!same(cold, expected.get(COLD)!) || !same(viaRemote, hot) || !same(viaSc, hot)) throw new Error('a file read back differs from what was written');
        if (sc.counters.bytesReadShortCircuit < FILE_BYTES) throw new Error(`short-circuit read only ${sc.counters.bytesReadShortCircuit} bytes: it is not being used`);
        const info = await remote.getStatus(HOT);
        say(`verified ${info.blocks.length} ${info.blocks.filter((b) => b.locations.length > 0).length}`);
      } else if (cmd === 'status') {
        const info = await remote.getStatus(HOT);
        say(`status ${info.blocks.length} ${info.blocks.filter((b) => b.locations.length > 0).length}`);
      } else if (cmd === 'run') {
        const cpu0 = process.cpuUsage();
        let r: { bytes: number; ms: number };
        if (arg === 'raw') r = await rawRead(FILE_BYTES);
        else if (arg === 'remote') r = await strataRead(remote, HOT);
        else if (arg === 'sc') r = await strataRead(sc, HOT);
        else if (arg === 'fs') r = await fsRead(ufsFile(await remote.getStatus(HOT)), copts.blockSize);
        else if (arg === 'cold') r = await strataRead(remote, COLD, 'NO_CACHE');
        else if (arg === 'rawcold') r = await rawRead(COLD_BYTES, ufsFile(await remote.getStatus(COLD)));
        else if (arg === 'rand-sc' || arg === 'rand-remote' || arg === 'rand-fs') {
          const o = arg === 'rand-fs' ? await randomFs(ufsFile(await remote.getStatus(HOT))) : await randomStrata(arg === 'rand-sc' ? sc : remote);
          r = { bytes: o.ops, ms: o.ms };
        } else throw new Error(`unknown run ${arg}`);
        const cpu = process.cpuUsage(cpu0);
        say(`done ${r.bytes} ${r.ms.toFixed(3)} ${((cpu.user + cpu.system) / 1000).toFixed(1)}`);
      } else if (cmd === 'quit') {
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
    let pos = 0;
    let end = 0;
    let credits = 0;
    let file: FileHandle | undefined;
    let reading = false;
    const pump = async (): Promise<void> => {
      if (reading) return;
      reading = true;
      try {
        while (credits > 0 && pos < end) {
          const n = Math.min(chunk, end - pos);
          let piece: Uint8Array;
          if (file) {
            const buf = Buffer.allocUnsafe(n);
            const { bytesRead } = await file.read(buf, 0, n, pos);
            piece = buf.subarray(0, bytesRead);
          } else {
            piece = data.subarray(pos, pos + n);
          }
          ws.send(piece, { binary: true });
          pos += n;
          credits--;
        }
        if (pos >= end && file) {
          await file.close();
          file = undefined;
        }
      } finally {
        reading = false;
      }
    };
    ws.on('message', (d: Buffer, isBinary: boolean) => {
      void (async () => {
        if (!isBinary) {
          const req = JSON.parse(d.toString()) as { chunk: number; window: number; bytes: number; file?: string };
          chunk = req.chunk;
          credits = req.window;
          pos = 0;
          end = req.bytes;
          if (req.file) file = await open(req.file, 'r');
        } else {
          credits++;
        }
        await pump();
      })();
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

interface Part {
  name: string;
  /** The strata side and its baseline: child `run` arguments. */
  strata: string;
  base: string;
  unit: 'MiB/s' | 'reads/s';
  what: string;
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
      `read: ${FILE_BYTES / MIB} MiB cached file, ${COLD_BYTES / MIB} MiB cold file, ${cw.bytes(K.userBlockSize) / MIB} MiB blocks, ` +
        `${cw.bytes(K.userChunkSize) / 1024} KiB chunks, window ${cw.int(K.workerReadWindow)}, clients in another process; ${RUNS} runs each (interleaved)`,
    );
    const w = await ask('write hot');
    console.log(`  wrote the cached file through the worker (CACHE_THROUGH) in ${Number(w[2]).toFixed(0)} ms`);
    const wc = await ask('write cold');
    console.log(`  wrote the cold file to the UFS (THROUGH) in ${Number(wc[2]).toFixed(0)} ms`);
    // The master learns the cached blocks from the worker's next heartbeat.
    for (let i = 0; ; i++) {
      const s = await ask('status');
      if (s[1] === s[2]) break;
      if (i > 100) throw new Error(`only ${s[2]} of ${s[1]} blocks are cached after 10 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const v = await ask('verify');
    console.log(`  every read path read back byte for byte; ${v[2]} of ${v[1]} blocks cached on worker-0`);

    const parts: Part[] = [
      { name: 'remote', strata: 'remote', base: 'raw', unit: 'MiB/s', what: 'cached remote read vs raw ws' },
      { name: 'sc', strata: 'sc', base: 'fs', unit: 'MiB/s', what: 'short-circuit read vs raw fs' },
      { name: 'cold', strata: 'cold', base: 'rawcold', unit: 'MiB/s', what: 'cold read from the UFS through a worker vs raw fs + ws' },
      { name: 'random', strata: 'rand-sc', base: 'rand-fs', unit: 'reads/s', what: 'random 4 KiB positioned reads, short-circuit vs raw fs' },
      { name: 'random-remote', strata: 'rand-remote', base: 'rand-fs', unit: 'reads/s', what: 'random 4 KiB positioned reads, remote vs raw fs' },
    ];
    const ratios = new Map<string, number>();
    for (const part of parts) {
      if (ONLY && !part.name.startsWith(ONLY)) continue;
      console.log(`${part.what}:`);
      await ask(`run ${part.base}`);
      await ask(`run ${part.strata}`);
      const baseT: number[] = [];
      const strataT: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const order: Array<[string, string, number[]]> = [
          ['baseline', part.base, baseT],
          ['strata', part.strata, strataT],
        ];
        // Alternate which goes first so neither always gets the warmer machine.
        if (i % 2 === 1) order.reverse();
        for (const [label, run, into] of order) {
          const cpu0 = process.cpuUsage();
          const r = await ask(`run ${run}`);
          const cpu = process.cpuUsage(cpu0);
          const amount = Number(r[1]);
          const ms = Number(r[2]);
          const rate = part.unit === 'MiB/s' ? mibps(amount, ms) : amount / (ms / 1000);
          into.push(rate);
          // CPU per side is steadier than wall time on a shared machine, and says which side costs what.
          console.log(
            `  run ${i + 1} ${label.padEnd(8)} ${rate.toFixed(1).padStart(9)} ${part.unit}  (${ms.toFixed(0)} ms; cpu: server ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, client ${Number(r[3]).toFixed(0)} ms)`,
          );
        }
      }
      const ratio = median(strataT) / median(baseT);
      ratios.set(part.name, ratio);
      console.log(`  baseline median ${median(baseT).toFixed(1)} ${part.unit}, strata median ${median(strataT).toFixed(1)} ${part.unit}: ratio ${ratio.toFixed(3)}`);
    }
    console.log(`ratios: ${[...ratios].map(([k, r]) => `${k}=${r.toFixed(3)}`).join(' ')}`);
    const remoteRatio = ratios.get('remote');
    if (remoteRatio !== undefined) console.log(`RESULT read ratio=${remoteRatio.toFixed(3)}`);
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
