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
//            a time, per second: short-circuit vs raw `fs` preads, and remote vs
//            raw `ws` round trips (one request naming the range, one reply with
//            the bytes from memory) between the same two processes.
//
// This process hosts a real master and worker (bench/data-cluster.ts) and the raw
// server; the child hosts the clients, as `strata fs cat` would. The child writes the files once, checks
// each read path byte for byte, then times whole-file reads into a sink that only
// counts (what `cat` to /dev/null does).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import type { FileInfo, ReadType, StrataClient } from '../actors/client/client.js';
import { K } from '../actors/conf.js';
import { MIB, benchConf, interleave, mibps, serveCommands, startClients, timed, withDataCluster } from './data-cluster.js';
import { fail, runMain } from './entry.js';

const FILE_BYTES = Number(process.env.BENCH_FILE_MIB ?? 1024) * MIB;
const COLD_BYTES = Number(process.env.BENCH_COLD_MIB ?? 256) * MIB;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const RANDOM_READS = Number(process.env.BENCH_RANDOM_READS ?? 10000);
/** A raw positioned read request: offset (6 bytes, LE, then 2 spare) and length (4); credits are 4 bytes. */
const PREAD_REQUEST_BYTES = 12;
const HOT = '/bench/read-hot';
const COLD = '/bench/read-cold';
/** BENCH_ONLY=remote|sc|cold|random runs one part (for profiling it alone). */
const ONLY = process.env.BENCH_ONLY;
/** The whole cached file fits in the MEM tier. */
const MEM_BYTES = FILE_BYTES + COLD_BYTES + 64 * MIB;

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

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

// ---- child: the client process ----

async function child(masterAddr: string, workDir: string, rawUrl: string): Promise<void> {
  const conf = benchConf(workDir, MEM_BYTES);
  // The client cache is for file handles; whole-file reads stream either way.
  const { host, client } = await startClients(conf, workDir, masterAddr, {
    remote: { shortCircuit: false, cache: undefined },
    sc: { shortCircuit: true, cache: undefined },
  });
  const remote = client('remote');
  const sc = client('sc');
  const chunk = conf.bytes(K.userChunkSize);
  const window = conf.int(K.workerReadWindow);
  const blockBytes = conf.bytes(K.userBlockSize);

  const raw = new WebSocket(rawUrl, { perMessageDeflate: false, maxPayload: 64 * MIB });
  raw.binaryType = 'nodebuffer';
  await new Promise<void>((resolve, reject) => {
    raw.once('open', () => resolve());
    raw.once('error', reject);
  });
  let onRaw: (d: Buffer) => void = () => {};
  raw.on('message', (d: Buffer) => onRaw(d));
  const ack = Buffer.alloc(4);
  const preadReq = Buffer.alloc(PREAD_REQUEST_BYTES);

  /** The raw server sends `bytes` (from memory, or read from `file`), one chunk per ack. */
  const rawRead = (bytes: number, file?: string): Promise<number> =>
    new Promise((resolve) => {
      let got = 0;
      onRaw = (d) => {
        got += d.byteLength;
        if (got >= bytes) {
          resolve(got);
          return;
        }
        ack.writeUInt32LE(d.byteLength, 0);
        raw.send(ack);
      };
      raw.send(JSON.stringify({ chunk, window, bytes, ...(file ? { file } : {}) }));
    });

  const strataRead = async (c: StrataClient, path: string, readType?: ReadType): Promise<number> => {
    let bytes = 0;
    await c.read(path, (piece) => {
      bytes += piece.byteLength;
    }, readType);
    return bytes;
  };

  /** What short-circuit does, without strata: the file read in block-sized preads. */
  const fsRead = async (file: string): Promise<number> => {
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
    return bytes;
  };

  /** Positioned reads as raw round trips: the request names the range, the reply is the bytes. */
  const randomWs = async (): Promise<number> => {
    for (const off of randomOffsets(FILE_BYTES)) {
      const got = new Promise<Buffer>((resolve) => (onRaw = resolve));
      preadReq.writeUIntLE(off, 0, 6);
      preadReq.writeUInt32LE(4096, 8);
      raw.send(preadReq);
      if ((await got).byteLength !== 4096) throw new Error(`raw positioned read at ${off} came back short`);
    }
    return RANDOM_READS;
  };

  const randomStrata = async (c: StrataClient): Promise<number> => {
    const r = await c.openFile(HOT, { cache: false });
    const buf = new Uint8Array(4096);
    for (const off of randomOffsets(FILE_BYTES)) await r.read(buf, off);
    r.close();
    return RANDOM_READS;
  };

  /** Preads on one open handle: what a reader that keeps the file open does. */
  const randomFs = async (file: string): Promise<number> => {
    const buf = Buffer.allocUnsafe(4096);
    const fh: FileHandle = await open(file, 'r');
    try {
      for (const off of randomOffsets(FILE_BYTES)) await fh.read(buf, 0, 4096, off);
    } finally {
      await fh.close();
    }
    return RANDOM_READS;
  };

  // BENCH_CPU_PROFILE=PREFIX: the client process's CPU profile of each run, as PREFIX.<n>.<side>.cpuprofile.
  const profileTo = process.env.BENCH_CPU_PROFILE;
  let profiler: Session | undefined;
  let profiled = 0;
  const profile = async (label: string, run: () => Promise<string>): Promise<string> => {
    if (!profileTo) return run();
    if (!profiler) {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
    }
    await profiler.post('Profiler.start');
    try {
      return await run();
    } finally {
      writeFileSync(`${profileTo}.${profiled++}.${label}.cpuprofile`, JSON.stringify((await profiler.post('Profiler.stop')).profile));
    }
  };
  const expected = new Map<string, Uint8Array>();
  await serveCommands(async (cmd, arg) => {
    if (cmd === 'write') {
      const path = arg === 'cold' ? COLD : HOT;
      const data = randomBytes(arg === 'cold' ? COLD_BYTES : FILE_BYTES);
      expected.set(path, data);
      return timed(async () => {
        await remote.writeFile(path, data, { overwrite: true, writeType: arg === 'cold' ? 'THROUGH' : 'CACHE_THROUGH' });
        return data.byteLength;
      });
    }
    if (cmd === 'verify') {
      // Every read path, byte for byte, before anything is timed.
      const hot = expected.get(HOT)!;
      if (!same(await remote.readFile(COLD, 'NO_CACHE'), expected.get(COLD)!)) throw new Error('the cold file read back differs');
      if (!same(await remote.readFile(HOT), hot)) throw new Error('the remote read differs');
      const before = sc.counters.bytesReadShortCircuit;
      if (!same(await sc.readFile(HOT), hot)) throw new Error('the short-circuit read differs');
      if (sc.counters.bytesReadShortCircuit - before !== FILE_BYTES) throw new Error('short-circuit is not being used');
      for (const c of [sc, remote]) {
        const r = await c.openFile(HOT, { cache: false });
        for (const off of randomOffsets(FILE_BYTES).slice(0, 50)) if (!same(await r.read(4096, off), hot.subarray(off, off + 4096))) throw new Error(`positioned read at ${off} differs`);
      }
      const info = await remote.getStatus(HOT);
      return `verified ${info.blocks.length} ${info.blocks.filter((b) => b.locations.length > 0).length}`;
    }
    if (cmd === 'status') {
      const info = await remote.getStatus(HOT);
      return `status ${info.blocks.length} ${info.blocks.filter((b) => b.locations.length > 0).length}`;
    }
    if (cmd === 'run') return profile(arg ?? '', () => runSide(arg));
    throw new Error(`unknown command ${cmd} ${arg ?? ''}`);
  });
  async function runSide(arg: string | undefined): Promise<string> {
    if (arg === 'raw') return timed(() => rawRead(FILE_BYTES));
    if (arg === 'remote') return timed(() => strataRead(remote, HOT));
    if (arg === 'sc') return timed(() => strataRead(sc, HOT));
    if (arg === 'fs') return timed(async () => fsRead(ufsFile(await remote.getStatus(HOT))));
    if (arg === 'cold') return timed(() => strataRead(remote, COLD, 'NO_CACHE'));
    if (arg === 'rawcold') return timed(async () => rawRead(COLD_BYTES, ufsFile(await remote.getStatus(COLD))));
    if (arg === 'rand-sc') return timed(() => randomStrata(sc));
    if (arg === 'rand-remote') return timed(() => randomStrata(remote));
    if (arg === 'rand-ws') return timed(randomWs);
    if (arg === 'rand-fs') return timed(async () => randomFs(ufsFile(await remote.getStatus(HOT))));
    throw new Error(`unknown run ${arg ?? ''}`);
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
        } else if (d.byteLength === PREAD_REQUEST_BYTES) {
          const off = d.readUIntLE(0, 6);
          ws.send(data.subarray(off, off + d.readUInt32LE(8)), { binary: true });
          return;
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
  what: string;
  /** Child `run` arguments of the strata side and its baseline. */
  strata: string;
  base: string;
  unit: 'MiB/s' | 'reads/s';
}

const PARTS: Part[] = [
  { name: 'remote', what: 'cached remote read vs raw ws', strata: 'remote', base: 'raw', unit: 'MiB/s' },
  { name: 'sc', what: 'short-circuit read vs raw fs', strata: 'sc', base: 'fs', unit: 'MiB/s' },
  { name: 'cold', what: 'cold read from the UFS through a worker (NO_CACHE) vs raw fs + ws', strata: 'cold', base: 'rawcold', unit: 'MiB/s' },
  { name: 'random-sc', what: 'random 4 KiB positioned reads, short-circuit vs raw fs preads', strata: 'rand-sc', base: 'rand-fs', unit: 'reads/s' },
  { name: 'random-remote', what: 'random 4 KiB positioned reads, remote vs raw ws round trips', strata: 'rand-remote', base: 'rand-ws', unit: 'reads/s' },
];

async function main(): Promise<void> {
  const raw = await rawServer();
  try {
    await withDataCluster(fileURLToPath(import.meta.url), MEM_BYTES, [raw.url], async ({ conf, ask }) => {
      console.log(
        `read: ${FILE_BYTES / MIB} MiB cached file, ${COLD_BYTES / MIB} MiB cold file, ${conf.bytes(K.userBlockSize) / MIB} MiB blocks, ` +
          `${conf.bytes(K.userChunkSize) / 1024} KiB chunks, window ${conf.int(K.workerReadWindow)}, clients in another process; ${RUNS} runs each (interleaved)`,
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
      const ratios = new Map<string, number>();
      for (const part of PARTS) {
        if (ONLY && !part.name.startsWith(ONLY)) continue;
        console.log(`${part.what}:`);
        const rate = part.unit === 'MiB/s' ? mibps : (n: number, ms: number) => n / (ms / 1000);
        const cpu = new Map<string, number>();
        const med = await interleave(ask, [{ label: 'baseline', run: part.base }, { label: 'strata', run: part.strata }], RUNS, rate, part.unit, cpu);
        const ratio = med.get('strata')! / med.get('baseline')!;
        ratios.set(part.name, ratio);
        console.log(`  baseline median ${med.get('baseline')!.toFixed(1)} ${part.unit}, strata median ${med.get('strata')!.toFixed(1)} ${part.unit}: ratio ${ratio.toFixed(3)}`);
        if (part.unit === 'reads/s') {
          // One read at a time keeps one side busy at once: CPU per read, which a busy machine disturbs less than wall time, bounds the rate.
          const [b, st] = [cpu.get('baseline')!, cpu.get('strata')!];
          console.log(`  cpu per read (both processes): baseline ${b.toFixed(1)} µs, strata ${st.toFixed(1)} µs: cpu ratio ${(b / st).toFixed(3)}`);
        }
      }
      console.log(`ratios: ${[...ratios].map(([k, r]) => `${k}=${r.toFixed(3)}`).join(' ')}`);
      const remote = ratios.get('remote');
      if (remote !== undefined) console.log(`RESULT read ratio=${remote.toFixed(3)}`);
    });
  } finally {
    await raw.close();
  }
}

if (process.argv[2] === '--child') {
  child(process.argv[3]!, process.argv[4]!, process.argv[5]!).catch(fail('client process'));
} else {
  runMain(main);
}
