// End-to-end write throughput of each write type against a raw `fs` write of the
// same bytes, runs interleaved. A StrataClient in another process writes a file
// through a worker hosted here (bench/data-cluster.ts), as `strata fs
// copyFromLocal` would, and each run is timed until writeFile returns:
//
//   MUST_CACHE     the worker's MEM tier only (block files, fsynced)
//   CACHE_THROUGH  the worker's MEM tier and the UFS (fsynced before the file completes)
//   THROUGH        the UFS only
//   ASYNC_THROUGH  the MEM tier now; persisted to the UFS by the master soon after
//                  (waited for between runs, untimed, so it does not slow the next one)
//
// The baseline writes the same bytes into the UFS directory with plain `fs`, in
// the client's chunk size, and fsyncs: what CACHE_THROUGH and THROUGH promise.
// Prints MiB/s for each, the ratio of each to raw fs, and
// `RESULT write ratio=<CACHE_THROUGH / raw fs>`.
import { randomBytes } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WriteType } from '../actors/client/client.js';
import { K } from '../actors/conf.js';
import { MIB, benchConf, interleave, mibps, serveCommands, startClients, timed, withDataCluster } from './data-cluster.js';
import { fail, runMain } from './entry.js';

const FILE_BYTES = Number(process.env.BENCH_FILE_MIB ?? 256) * MIB;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ALL_TYPES: WriteType[] = ['MUST_CACHE', 'CACHE_THROUGH', 'THROUGH', 'ASYNC_THROUGH'];
/** BENCH_ONLY=THROUGH,... measures only those types (for profiling); CACHE_THROUGH is needed for the RESULT line. */
const TYPES = process.env.BENCH_ONLY ? ALL_TYPES.filter((t) => process.env.BENCH_ONLY!.split(',').includes(t)) : ALL_TYPES;
/** Room for a few files at once: a deleted file's blocks leave with the next heartbeats. */
const MEM_BYTES = 8 * FILE_BYTES;

async function child(masterAddr: string, workDir: string): Promise<void> {
  const conf = benchConf(workDir, MEM_BYTES);
  const { host, client } = await startClients(conf, workDir, masterAddr, { writer: {} });
  const c = client('writer');
  const chunk = conf.bytes(K.userChunkSize);
  const data = randomBytes(FILE_BYTES);
  const ufsDir = fileURLToPath((await c.getStatus('/')).ufsMount);
  await mkdir(ufsDir, { recursive: true });
  let n = 0;

  const rawWrite = async (): Promise<number> => {
    const fh = await open(join(ufsDir, `raw-${n++}`), 'w');
    try {
      for (let off = 0; off < data.byteLength; off += chunk) await fh.write(data, off, Math.min(chunk, data.byteLength - off));
      await fh.sync();
    } finally {
      await fh.close();
    }
    return data.byteLength;
  };

  await serveCommands(async (cmd, arg) => {
    if (cmd === 'run' && arg === 'raw') return timed(rawWrite);
    if (cmd === 'run' && ALL_TYPES.includes(arg as WriteType)) {
      const path = `/bench/${arg}-${n++}`;
      const reply = await timed(async () => (await c.writeFile(path, data, { writeType: arg as WriteType })).length);
      // Untimed: the file reads back byte for byte, ASYNC_THROUGH gets persisted, and the
      // file goes, so the next run finds the same empty cache and UFS.
      const back = await c.readFile(path);
      if (!Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(data)) throw new Error(`${arg}: ${path} reads back different bytes`);
      if (arg === 'ASYNC_THROUGH') {
        for (let i = 0; !(await c.getStatus(path)).persisted; i++) {
          if (i > 600) throw new Error(`${path} was not persisted within 60 s`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await c.delete(path);
      return reply;
    }
    throw new Error(`unknown command ${cmd} ${arg ?? ''}`);
  });
  await host.shutdown();
  process.exit(0);
}

async function main(): Promise<void> {
  await withDataCluster(fileURLToPath(import.meta.url), MEM_BYTES, [], async ({ conf, ask }) => {
    console.log(
      `write: ${FILE_BYTES / MIB} MiB file, ${conf.bytes(K.userBlockSize) / MIB} MiB blocks, ${conf.bytes(K.userChunkSize) / 1024} KiB chunks, ` +
        `client in another process; ${RUNS} runs each (interleaved)`,
    );
    const sides = [{ label: 'raw fs', run: 'raw' }, ...TYPES.map((t) => ({ label: t, run: t }))];
    const med = await interleave(ask, sides, RUNS, mibps, 'MiB/s');
    const raw = med.get('raw fs')!;
    console.log(`raw fs median ${raw.toFixed(1)} MiB/s`);
    for (const t of TYPES) console.log(`${t.padEnd(14)} median ${med.get(t)!.toFixed(1)} MiB/s: ratio ${(med.get(t)! / raw).toFixed(3)}`);
    if (med.has('CACHE_THROUGH')) console.log(`RESULT write ratio=${(med.get('CACHE_THROUGH')! / raw).toFixed(3)}`);
  });
}

if (process.argv[2] === '--child') {
  child(process.argv[3]!, process.argv[4]!).catch(fail('client process'));
} else {
  runMain(main);
}
