// `strata fs <command>`: Alluxio's shell commands against a running cluster.
import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { once } from 'node:events';
import type { Command } from 'commander';
import type { FileInfo, StrataClient } from '../actors/client/client.js';
import type { Conf } from '../actors/conf.js';
import { StrataError } from '../actors/protocol/envelope.js';
import { ufsUri, withClient } from './cluster.js';
import { modeString, parseMode } from '../actors/master/permissions.js';
import { K, parseDuration } from '../actors/conf.js';
import { humanBytes } from './format.js';
import { startProgress, type Progress } from './progress.js';

export { humanBytes };

type Out = (line: string) => void;

export function formatTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function inStrataPercent(f: FileInfo): number {
  if (f.isDir || f.length === 0) return 100;
  const cached = f.blocks.filter((b) => b.locations.length > 0).reduce((n, b) => n + b.length, 0);
  return Math.floor((cached * 100) / f.length);
}

/** Alluxio's ls columns: mode, owner, group, size, persistence, modification time, share cached in strata, path. */
export function formatLsLine(f: FileInfo, human = false): string {
  const size = f.isDir ? '' : human ? humanBytes(f.length) : String(f.length);
  const state = f.persisted ? 'PERSISTED' : f.completed ? 'NOT_PERSISTED' : 'INCOMPLETE';
  const kind = f.isDir ? 'DIR' : `${inStrataPercent(f)}%`;
  return `${modeString(f.mode, f.isDir)}  ${f.owner.padEnd(10)} ${f.group.padEnd(10)} ${size.padStart(12)}  ${state.padEnd(13)}  ${formatTime(f.mtimeMs)}  ${kind.padStart(4)}  ${f.path}`;
}


/** Copies at least this large show progress (smaller ones finish before a bar would help). */
const PROGRESS_MIN_BYTES = 16 * 1024 * 1024;

/** Passes chunks through, counting them on the progress display. */
async function* counted(src: AsyncIterable<Uint8Array>, bar: Progress | undefined): AsyncIterable<Uint8Array> {
  for await (const chunk of src) {
    bar?.advance(chunk.byteLength);
    yield chunk;
  }
}

export function registerFsCommands(fs: Command, conf: () => Conf, out: Out): void {
  fs.command('ls')
    .description('list a directory (or show one file)')
    .argument('<path>')
    .option('-R, --recursive', 'list subdirectories recursively')
    .option('-d, --directory', 'show the directory itself, not its contents')
    .option('-h, --human-readable', 'sizes as 1.5KB, 3.2MB, …')
    .option('-p, --pinned', 'only pinned files')
    .option('--sort <by>', 'name, size, lastModificationTime or path', 'name')
    .option('-r, --reverse', 'reverse the order')
    .option('-f, --forceLoadMetadata', 'compare with the UFS first (metadata sync for this listing)')
    .option('--timestamp <which>', 'the time shown: lastModificationTime (the only one strata keeps)', 'lastModificationTime')
    .option('--json', 'print JSON')
    .action(async (path: string, o: { recursive?: boolean; directory?: boolean; humanReadable?: boolean; pinned?: boolean; sort: string; reverse?: boolean; forceLoadMetadata?: boolean; timestamp: string; json?: boolean }) => {
      const keys: Record<string, (f: FileInfo) => string | number> = { name: (f) => f.name, path: (f) => f.path, size: (f) => f.length, lastModificationTime: (f) => f.mtimeMs };
      const key = keys[o.sort];
      if (!key) throw new StrataError('INVALID_ARGUMENT', `--sort must be one of ${Object.keys(keys).join(', ')}, got ${o.sort}`);
      if (o.timestamp !== 'lastModificationTime') {
        throw new StrataError('INVALID_ARGUMENT', `--timestamp ${o.timestamp}: strata keeps only lastModificationTime (no creation or access times)`);
      }
      await withClient(o.forceLoadMetadata ? conf().with({ [K.metadataSyncInterval]: '0' }) : conf(), async (c) => {
        let all: FileInfo[] = [];
        const walk = async (p: string) => {
          const entries = [...(await c.listStatus(p))].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
          if (o.reverse) entries.reverse();
          for (const e of entries) {
            all.push(e);
            if (o.recursive && e.isDir) await walk(e.path);
          }
        };
        if (o.directory) all.push(await c.getStatus(path));
        else await walk(path);
        if (o.pinned) all = all.filter((f) => f.pinned);
        if (o.json) out(JSON.stringify(all.map(({ blocks: _b, ...rest }) => rest)));
        else for (const e of all) out(formatLsLine(e, Boolean(o.humanReadable)));
      });
    });

  fs.command('stat')
    .description('show a path\'s metadata and block locations')
    .argument('<path>')
    .option('--json', 'print JSON')
    .option('-f, --format <format>', 'print only these fields: %N name, %z size, %u owner, %g group, %y modification time, %Y it in ms, %b blocks, %i file id')
    .action(async (path: string, o: { json?: boolean; format?: string }) => {
      await withClient(conf(), async (c) => {
        const f = await c.getStatus(path);
        if (o.json) {
          out(JSON.stringify(f));
          return;
        }
        if (o.format !== undefined) {
          const fields: Record<string, () => string> = {
            N: () => f.name, z: () => String(f.length), u: () => f.owner, g: () => f.group,
            y: () => formatTime(f.mtimeMs), Y: () => String(Math.floor(f.mtimeMs)), b: () => String(f.blocks.length), i: () => String(f.fileId),
          };
          out(o.format.replace(/%(.)/g, (m, k: string) => (k === '%' ? '%' : fields[k]?.() ?? m)));
          return;
        }
        out(`${f.path} is a ${f.isDir ? 'directory' : 'file'} path.`);
        out(`  fileId: ${f.fileId}`);
        out(`  length: ${f.length}`);
        out(`  lastModified: ${formatTime(f.mtimeMs)}`);
        out(`  persisted: ${f.persisted}  completed: ${f.completed}`);
        out(`  owner: ${f.owner}  group: ${f.group}  mode: ${modeString(f.mode, f.isDir)} (${f.mode.toString(8).padStart(3, '0')})`);
        out(`  ufs: ${f.ufsMount}${f.ufsMount.endsWith('/') ? '' : '/'}${f.ufsPath}`);
        if (!f.isDir) {
          out(`  blockSize: ${f.blockSize}  inStrata: ${inStrataPercent(f)}%`);
          for (const b of f.blocks) out(`  block ${b.id} [${b.offset}, ${b.offset + b.length}) on ${b.locations.map((l) => `${l.workerId}(${l.address})`).join(', ') || 'no worker (read-through)'}`);
        }
      });
    });

  fs.command('cat')
    .description('print a file')
    .argument('<path>')
    .action(async (path: string) => {
      await withClient(conf(), async (c) => {
        await c.read(path, async (chunk) => {
          if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
        });
      });
    });

  fs.command('mkdir')
    .description('create directories (parents included)')
    .argument('<paths...>')
    .action(async (paths: string[]) => {
      await withClient(conf(), async (c) => {
        for (const p of paths) {
          await c.mkdir(p, true);
          out(`Successfully created directory ${p}`);
        }
      });
    });

  fs.command('rm')
    .description('remove a file, or a directory with -R (from the UFS too)')
    .argument('<paths...>')
    .option('-R, --recursive', 'remove directories and their contents')
    .option('-U, --unchecked', 'do not check first that the UFS holds nothing strata does not know')
    .option('--strataOnly', 'remove from strata only and leave the UFS copy (a later metadata sync may bring it back)')
    .action(async (paths: string[], o: { recursive?: boolean; unchecked?: boolean; strataOnly?: boolean }) => {
      await withClient(conf(), async (c) => {
        for (const p of paths) {
          const f = await c.getStatus(p);
          if (f.isDir && !o.recursive) throw new StrataError('FAILED_PRECONDITION', `${p} is a directory; use rm -R`);
          await c.delete(p, Boolean(o.recursive), { unchecked: Boolean(o.unchecked), strataOnly: Boolean(o.strataOnly) });
          out(o.strataOnly ? `${p} has been removed from strata only` : `${p} has been removed`);
        }
      });
    });

  fs.command('touch')
    .description('create an empty file')
    .argument('<path>')
    .action(async (path: string) => {
      await withClient(conf(), async (c) => {
        await c.writeFile(path, new Uint8Array(0));
        out(`${path} has been created`);
      });
    });

  fs.command('cp')
    .description('copy a file (or with -R a directory tree) within strata')
    .argument('<src>')
    .argument('<dst>')
    .option('-R, --recursive', 'copy directories and their contents')
    .action(async (src: string, dst: string, o: { recursive?: boolean }) => {
      await withClient(conf(), async (c) => {
        const copy = async (from: FileInfo, to: string): Promise<void> => {
          if (from.isDir) {
            if (!o.recursive) throw new StrataError('INVALID_ARGUMENT', `${from.path} is a directory; use cp -R`);
            await c.mkdir(to, true);
            for (const e of await c.listStatus(from.path)) await copy(e, `${to}/${e.name}`);
            return;
          }
          // Held in memory between the read and the write: fine for the files cp is used on.
          await c.writeFile(to, await c.readFile(from.path));
        };
        const from = await c.getStatus(src);
        let to = dst;
        if (await c.exists(dst)) {
          if (!(await c.getStatus(dst)).isDir) throw new StrataError('ALREADY_EXISTS', `${dst} already exists`);
          to = `${dst.replace(/\/$/, '')}/${from.name}`;
        }
        await copy(from, to);
        out(`Copied ${src} to ${to}`);
      });
    });

  fs.command('mv')
    .description('rename a file or directory (into <dst> when it is a directory)')
    .argument('<src>')
    .argument('<dst>')
    .action(async (src: string, dst: string) => {
      await withClient(conf(), async (c) => {
        let target = dst;
        if (await c.exists(dst)) {
          const d = await c.getStatus(dst);
          if (!d.isDir) throw new StrataError('ALREADY_EXISTS', `${dst} already exists`);
          target = `${dst.replace(/\/$/, '')}/${src.split('/').filter(Boolean).pop()}`;
        }
        await c.rename(src, target);
        out(`Renamed ${src} to ${target}`);
      });
    });

  const collectOption = (v: string, prev: Array<[string, string]>): Array<[string, string]> => {
    const i = v.indexOf('=');
    if (i <= 0) throw new StrataError('INVALID_ARGUMENT', `--option expects key=value, got ${JSON.stringify(v)}`);
    return [...prev, [v.slice(0, i), v.slice(i + 1)]];
  };

  fs.command('mount')
    .description('mount a UFS at a new path (with no arguments: print the mount table)')
    .argument('[path]')
    .argument('[ufsUri]', 'file:///dir or a local directory')
    .option('--readonly', 'refuse writes under the mount')
    .option('--shared', 'other users get the owner\'s access to what is loaded from the UFS')
    .option('--option <key=value>', 'a UFS option (repeatable)', collectOption, [] as Array<[string, string]>)
    .option('--json', 'print the mount table as JSON')
    .action(async (path: string | undefined, uri: string | undefined, o: { readonly?: boolean; shared?: boolean; option: Array<[string, string]>; json?: boolean }) => {
      await withClient(conf(), async (c) => {
        if (path === undefined) {
          const table = await c.mountTable();
          if (o.json) out(JSON.stringify(table));
          else for (const m of table) out(`${m.ufsUri}  on  ${m.path}  (${m.readOnly ? 'readonly' : 'readwrite'}, ${m.shared ? 'shared' : 'not shared'}${m.options.map(([k, v]) => `, ${k}=${v}`).join('')})`);
          return;
        }
        if (uri === undefined) throw new StrataError('INVALID_ARGUMENT', 'usage: strata fs mount [--readonly] [--shared] [--option k=v] <path> <ufsUri>');
        const full = ufsUri(uri, process.cwd());
        await c.mount(path, full, { readOnly: Boolean(o.readonly), shared: Boolean(o.shared), options: o.option });
        out(`Mounted ${full} at ${path}`);
      });
    });

  fs.command('unmount')
    .description('unmount a UFS (its data stays in the UFS)')
    .argument('<path>')
    .action(async (path: string) => {
      await withClient(conf(), async (c) => {
        await c.unmount(path);
        out(`Unmounted ${path}`);
      });
    });

  fs.command('updateMount')
    .description('change a mount point\'s options')
    .argument('<path>')
    .option('--readonly', 'refuse writes under the mount')
    .option('--shared', 'other users get the owner\'s access to what is loaded from the UFS')
    .option('--option <key=value>', 'a UFS option (repeatable)', collectOption, [] as Array<[string, string]>)
    .action(async (path: string, o: { readonly?: boolean; shared?: boolean; option: Array<[string, string]> }) => {
      await withClient(conf(), async (c) => {
        await c.updateMount(path, { readOnly: Boolean(o.readonly), shared: Boolean(o.shared), options: o.option });
        out(`Updated mount point ${path}`);
      });
    });

  fs.command('pin')
    .description('keep the blocks of a file (or every file below a directory) from being evicted')
    .argument('<path>')
    .action(async (path: string) => {
      await withClient(conf(), async (c) => {
        await c.setAttribute(path, { pinned: true }, true);
        out(`File '${path}' was successfully pinned.`);
      });
    });

  fs.command('unpin')
    .description('let the blocks of a file (or of the files below a directory) be evicted again')
    .argument('<path>')
    .action(async (path: string) => {
      await withClient(conf(), async (c) => {
        await c.setAttribute(path, { pinned: false }, true);
        out(`File '${path}' was successfully unpinned.`);
      });
    });

  fs.command('setTtl')
    .description('delete (or free) a path once this long after its modification time')
    .argument('<path>')
    .argument('<time>', 'e.g. 3600000, 10min, 1h')
    .option('--action <action>', 'delete or free', 'delete')
    .action(async (path: string, time: string, o: { action: string }) => {
      const action = o.action.toUpperCase();
      if (action !== 'DELETE' && action !== 'FREE') throw new StrataError('INVALID_ARGUMENT', `--action must be delete or free, got ${o.action}`);
      let ms: number;
      try {
        ms = parseDuration(time);
      } catch (e) {
        throw new StrataError('INVALID_ARGUMENT', (e as Error).message);
      }
      if (ms < 0) throw new StrataError('INVALID_ARGUMENT', 'a TTL cannot be negative');
      await withClient(conf(), async (c) => {
        await c.setAttribute(path, { ttl: ms, ttlAction: action });
        out(`TTL of path '${path}' was successfully set to ${ms} milliseconds, with expiry action set to ${action}`);
      });
    });

  fs.command('unsetTtl')
    .description('remove the TTL of a path')
    .argument('<path>')
    .action(async (path: string) => {
      await withClient(conf(), async (c) => {
        await c.setAttribute(path, { ttl: -1 });
        out(`TTL of path '${path}' was successfully removed.`);
      });
    });

  fs.command('free')
    .description('drop the cached blocks of a path from the workers (the UFS keeps the data)')
    .argument('<path>')
    .option('-f, --force', 'free pinned files too')
    .action(async (path: string, o: { force?: boolean }) => {
      await withClient(conf(), async (c) => {
        await c.free(path, Boolean(o.force));
        out(`${path} was successfully freed from strata space.`);
      });
    });

  fs.command('checkConsistency')
    .description('list paths whose metadata differs from the UFS (-r: repair them)')
    .argument('<path>')
    .option('-r, --repair', 'bring the inconsistent paths in line with the UFS')
    .action(async (path: string, o: { repair?: boolean }) => {
      await withClient(conf(), async (c) => {
        const bad = await c.checkConsistency(path, Boolean(o.repair));
        if (bad.length === 0) out(`${path} is consistent with the under storage system.`);
        else {
          out(`${o.repair ? 'Repaired' : 'The following files are inconsistent'}:`);
          for (const p of bad) out(p);
        }
      });
    });

  fs.command('loadMetadata')
    .description('load metadata of a path from the UFS again (-R: recursively)')
    .argument('<path>')
    .option('-R, --recursive', 'everything below it too')
    .action(async (path: string, o: { recursive?: boolean }) => {
      await withClient(conf(), async (c) => {
        await c.loadMetadata(path, Boolean(o.recursive));
        out(`Loaded metadata of ${path}`);
      });
    });

  fs.command('chmod')
    .description('change the mode of a path (octal like 755 or symbolic like u+x,go-w)')
    .argument('<mode>')
    .argument('<path>')
    .option('-R, --recursive', 'the whole subtree')
    .action(async (spec: string, path: string, o: { recursive?: boolean }) => {
      await withClient(conf(), async (c) => {
        const f = await c.getStatus(path);
        if (!o.recursive || /^[0-7]{3,4}$/.test(spec)) {
          const mode = parseMode(spec, f.mode, f.isDir);
          await c.setAttribute(path, { mode }, Boolean(o.recursive));
          out(`Changed permission of ${path} to ${mode.toString(8).padStart(3, '0')}`);
          return;
        }
        // A symbolic mode is relative: each inode's new mode comes from its own current one.
        const walk = async (e: FileInfo): Promise<void> => {
          await c.setAttribute(e.path, { mode: parseMode(spec, e.mode, e.isDir) });
          if (e.isDir) for (const child of await c.listStatus(e.path)) await walk(child);
        };
        await walk(f);
        out(`Changed permission of ${path} and everything below it (${spec})`);
      });
    });

  fs.command('chown')
    .description('change the owner (and group, as owner:group) of a path; superuser only')
    .argument('<owner>', 'owner or owner:group')
    .argument('<path>')
    .option('-R, --recursive', 'the whole subtree')
    .action(async (spec: string, path: string, o: { recursive?: boolean }) => {
      const [owner, group] = spec.split(':');
      if (!owner) throw new StrataError('INVALID_ARGUMENT', `invalid owner ${JSON.stringify(spec)}`);
      await withClient(conf(), async (c) => {
        await c.setAttribute(path, { owner, ...(group ? { group } : {}) }, Boolean(o.recursive));
        out(`Changed owner of ${path} to ${owner}${group ? `:${group}` : ''}`);
      });
    });

  fs.command('chgrp')
    .description('change the group of a path')
    .argument('<group>')
    .argument('<path>')
    .option('-R, --recursive', 'the whole subtree')
    .action(async (group: string, path: string, o: { recursive?: boolean }) => {
      await withClient(conf(), async (c) => {
        await c.setAttribute(path, { group }, Boolean(o.recursive));
        out(`Changed group of ${path} to ${group}`);
      });
    });

  fs.command('copyFromLocal')
    .description('copy a local file into strata')
    .argument('<src>')
    .argument('<dst>')
    .option('--overwrite', 'replace an existing file')
    .action(async (src: string, dst: string, o: { overwrite?: boolean }) => {
      const local = resolve(src);
      let st;
      try {
        st = statSync(local);
      } catch {
        throw new StrataError('NOT_FOUND', `local file ${local} does not exist`);
      }
      if (!st.isFile()) throw new StrataError('INVALID_ARGUMENT', `${local} is not a regular file`);
      await withClient(conf(), async (c) => {
        let target = dst;
        if (await c.exists(dst).catch(() => false)) {
          const d = await c.getStatus(dst);
          if (d.isDir) target = `${dst.replace(/\/$/, '')}/${local.split('/').pop()}`;
        }
        const bar = st.size >= PROGRESS_MIN_BYTES ? startProgress(`copyFromLocal ${target}`, st.size) : undefined;
        let f: FileInfo;
        try {
          // A function, so a worker without room for the file lets the client start over on another.
          f = await c.writeFile(target, () => counted(createReadStream(local, { highWaterMark: 1 << 20 }), bar), { overwrite: Boolean(o.overwrite), length: st.size });
        } catch (e) {
          bar?.stop(false);
          throw e;
        }
        bar?.stop();
        out(`Copied file://${local} to ${f.path}`);
      });
    });

  fs.command('copyToLocal')
    .description('copy a strata file to the local disk')
    .argument('<src>')
    .argument('<dst>')
    .action(async (src: string, dst: string) => {
      await withClient(conf(), async (c) => {
        let local = resolve(dst);
        try {
          if (statSync(local).isDirectory()) local = `${local}/${src.split('/').pop()}`;
        } catch {
          // A new file: write it where asked.
        }
        const info = await c.getStatus(src);
        if (info.isDir) throw new StrataError('INVALID_ARGUMENT', `${src} is a directory`);
        // Written beside the target and renamed over it only when complete: a failed copy leaves what was there.
        const partial = `${local}.strata-partial-${process.pid}`;
        const w = createWriteStream(partial);
        await once(w, 'open');
        const bar = info.length >= PROGRESS_MIN_BYTES ? startProgress(`copyToLocal ${src}`, info.length) : undefined;
        try {
          await c.read(src, async (chunk) => {
            bar?.advance(chunk.byteLength);
            if (!w.write(chunk)) await once(w, 'drain');
          });
          w.end();
          await once(w, 'close');
        } catch (e) {
          bar?.stop(false);
          w.destroy();
          rmSync(partial, { force: true });
          throw e;
        }
        bar?.stop();
        renameSync(partial, local);
        out(`Copied ${src} to file://${local}`);
      });
    });
}
