// `strata fs` commands that look without changing anything: count, du, test,
// head, tail, checksum, location, getCapacityBytes, getUsedBytes.
import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import type { FileInfo, StrataClient } from '../actors/client/client.js';
import type { Conf } from '../actors/conf.js';
import { StrataError, isStrataError } from '../actors/protocol/envelope.js';
import { withClient } from './cluster.js';
import { humanBytes } from './format.js';

type Out = (line: string) => void;

/** Every entry at or below `path` (the path itself first). */
async function walk(c: StrataClient, path: string): Promise<FileInfo[]> {
  const top = await c.getStatus(path);
  const out: FileInfo[] = [top];
  const visit = async (dir: FileInfo): Promise<void> => {
    for (const e of await c.listStatus(dir.path)) {
      out.push(e);
      if (e.isDir) await visit(e);
    }
  };
  if (top.isDir) await visit(top);
  return out;
}

function cachedBytes(f: FileInfo): number {
  return f.blocks.filter((b) => b.locations.length > 0).reduce((n, b) => n + b.length, 0);
}

/** Reads [from, from + length) of a file through the client, into one buffer. */
async function readRange(c: StrataClient, path: string, from: number, length: number): Promise<Buffer> {
  // A positioned read: only the bytes asked for leave the worker, not the whole file.
  const r = await c.openFile(path, { cache: false });
  try {
    const data = await r.read(length, Math.min(from, r.length));
    return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  } finally {
    r.close();
  }
}

export function registerInspectCommands(fs: Command, conf: () => Conf, out: Out): void {
  fs.command('count')
    .description('count files and directories below a path, and their bytes')
    .argument('<path>')
    .option('-h, --human-readable', 'sizes as 1.5KB, 3.2MB, …')
    .action(async (path: string, o: { humanReadable?: boolean }) => {
      await withClient(conf(), async (c) => {
        const all = await walk(c, path);
        const files = all.filter((f) => !f.isDir);
        const size = files.reduce((n, f) => n + f.length, 0);
        out('File Count               Folder Count             Folder Size');
        out(`${String(files.length).padEnd(25)}${String(all.length - files.length).padEnd(25)}${o.humanReadable ? humanBytes(size) : size}`);
      });
    });

  fs.command('du')
    .description('bytes of each file (or with -s, the total) and how much is cached in strata')
    .argument('<path>')
    .option('-s, --summarize', 'one total line')
    .option('-h, --human-readable', 'sizes as 1.5KB, 3.2MB, …')
    .action(async (path: string, o: { summarize?: boolean; humanReadable?: boolean }) => {
      await withClient(conf(), async (c) => {
        const files = (await walk(c, path)).filter((f) => !f.isDir);
        const show = (n: number | string) => (typeof n === 'number' && o.humanReadable ? humanBytes(n) : String(n));
        const line = (size: number | string, cached: number | string, p: string) => `${show(size).padEnd(15)}${show(cached).padEnd(20)}${p}`;
        out(line('File Size', 'In Strata', 'Path'));
        if (o.summarize) out(line(files.reduce((n, f) => n + f.length, 0), files.reduce((n, f) => n + cachedBytes(f), 0), path));
        else for (const f of files) out(line(f.length, cachedBytes(f), f.path));
      });
    });

  fs.command('test')
    .description('exit 0 if the test holds, 1 if not: -d directory, -e exists, -f file, -s non-empty directory, -z empty file')
    .argument('<path>')
    .option('-d', 'is a directory')
    .option('-e', 'exists')
    .option('-f', 'is a file')
    .option('-s', 'is a non-empty directory')
    .option('-z', 'is a zero-length file')
    .action(async (path: string, o: { d?: boolean; e?: boolean; f?: boolean; s?: boolean; z?: boolean }) => {
      const flags = (['d', 'e', 'f', 's', 'z'] as const).filter((k) => o[k]);
      if (flags.length !== 1) throw new StrataError('INVALID_ARGUMENT', 'fs test takes exactly one of -d -e -f -s -z');
      const holds = await withClient(conf(), async (c) => {
        let f: FileInfo;
        try {
          f = await c.getStatus(path);
        } catch (e) {
          if (isStrataError(e, 'NOT_FOUND')) return false;
          throw e;
        }
        switch (flags[0]) {
          case 'd':
            return f.isDir;
          case 'e':
            return true;
          case 'f':
            return !f.isDir;
          case 's':
            return f.isDir && (await c.listStatus(path)).length > 0;
          default:
            return !f.isDir && f.length === 0;
        }
      });
      process.exitCode = holds ? 0 : 1;
    });

  fs.command('head')
    .description('print the first bytes of a file')
    .argument('<path>')
    .option('-c <bytes>', 'how many bytes', '1024')
    .action(async (path: string, o: { c: string }) => {
      const n = Number.parseInt(o.c, 10);
      if (!(n >= 0)) throw new StrataError('INVALID_ARGUMENT', `-c must be a byte count, got ${o.c}`);
      await withClient(conf(), async (c) => void process.stdout.write(await readRange(c, path, 0, n)));
    });

  fs.command('tail')
    .description('print the last bytes of a file')
    .argument('<path>')
    .option('-c <bytes>', 'how many bytes', '1024')
    .action(async (path: string, o: { c: string }) => {
      const n = Number.parseInt(o.c, 10);
      if (!(n >= 0)) throw new StrataError('INVALID_ARGUMENT', `-c must be a byte count, got ${o.c}`);
      await withClient(conf(), async (c) => {
        const f = await c.getStatus(path);
        process.stdout.write(await readRange(c, path, Math.max(0, f.length - n), n));
      });
    });

  fs.command('checksum')
    .description('the MD5 of a file\'s content')
    .argument('<path>')
    .action(async (path: string) => {
      await withClient(conf(), async (c) => {
        const md5 = createHash('md5');
        await c.read(path, (chunk) => void md5.update(chunk));
        out(`md5sum: ${md5.digest('hex')}`);
      });
    });

  fs.command('location')
    .description('the workers holding each block of a file')
    .argument('<path>')
    .action(async (path: string) => {
      await withClient(conf(), async (c) => {
        const f = await c.getStatus(path);
        if (f.isDir) throw new StrataError('INVALID_ARGUMENT', `${path} is a directory`);
        out(`${path} with file id ${f.fileId} is on nodes:`);
        for (const b of f.blocks) out(`  block ${b.id}: ${b.locations.map((l) => `${l.workerId} (${l.address})`).join(', ') || 'none (read through from the UFS)'}`);
      });
    });

  fs.command('getCapacityBytes')
    .description('the cluster\'s cache capacity in bytes')
    .action(async () => {
      await withClient(conf(), async (c) => {
        const live = (await c.workers()).filter((w) => w.state === 'LIVE');
        out(`Capacity Bytes: ${live.reduce((n, w) => n + w.capacityBytes, 0)}`);
      });
    });

  fs.command('getUsedBytes')
    .description('bytes cached across the cluster')
    .action(async () => {
      await withClient(conf(), async (c) => {
        const live = (await c.workers()).filter((w) => w.state === 'LIVE');
        out(`Used Bytes: ${live.reduce((n, w) => n + w.usedBytes, 0)}`);
      });
    });
}
