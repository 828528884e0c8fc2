import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskError } from '../actors/env.js';
import { LevelKv } from '../transport/level-kv.js';
import { NodeDisk } from '../transport/node-disk.js';
import { createRealEnv } from '../transport/real-env.js';
import { WsNetwork } from '../transport/ws-network.js';

const dirs: string[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'strata-disk-'));
  dirs.push(d);
  return d;
}

function disk(root: string): NodeDisk {
  const d = new NodeDisk(root);
  cleanups.push(() => d.close());
  return d;
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DiskError);
    return (e as DiskError).code;
  }
  return 'ok';
}

describe('NodeDisk', () => {
  it('does what the Disk interface says', async () => {
    const d = disk(join(tmp(), 'root'));
    await d.writeFile('a/b/c.txt', bytes('hello'));
    expect(text(await d.readFile('a/b/c.txt'))).toBe('hello');
    expect(text(await d.read('/a/b/c.txt', 1, 3))).toBe('ell');
    expect(text(await d.read('a/b/c.txt', 3, 100))).toBe('lo');
    expect((await d.read('a/b/c.txt', 10, 5)).byteLength).toBe(0);
    await d.append('a/b/c.txt', bytes(' world'));
    await d.fsync('a/b/c.txt');
    expect(await d.stat('a/b/c.txt')).toMatchObject({ size: 11, isDir: false });
    expect(await d.stat('a')).toMatchObject({ isDir: true });
    expect(await d.stat('nope')).toBeNull();
    expect(await d.list('')).toEqual(['a']);
    await d.truncate('a/b/c.txt', 5);
    expect(text(await d.readFile('a/b/c.txt'))).toBe('hello');
    await d.rename('a/b/c.txt', 'x/y.txt');
    expect(await d.list('x')).toEqual(['y.txt']);
    expect(await code(d.readFile('a/b/c.txt'))).toBe('ENOENT');
    await d.mkdir('m/n');
    expect(await d.list('m')).toEqual(['n']);
    expect(await code(d.list('x/y.txt'))).toBe('ENOTDIR');
    expect(await code(d.readFile('m'))).toBe('EISDIR');
    await d.remove('x');
    await d.remove('does/not/exist');
    expect(await d.list('')).toEqual(['a', 'm']);
    await d.remove('/');
    expect(await d.list('')).toEqual([]);
  });

  it('keeps one handle open for a stream of appends and closes it on close()', async () => {
    const root = tmp();
    const d = disk(root);
    const parts: string[] = [];
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        parts.push(`record-${i};`);
        return d.append('journal/log', bytes(`record-${i};`));
      }),
    );
    expect(d.openHandles()).toBe(1);
    await d.fsync('journal/log');
    expect(readFileSync(join(root, 'journal/log'), 'utf8')).toBe(parts.join(''));
    // writeFile replaces the file even while an append handle is cached.
    await d.writeFile('journal/log', bytes('fresh'));
    await d.append('journal/log', bytes('+1'));
    expect(text(await d.readFile('journal/log'))).toBe('fresh+1');
    await d.close();
    expect(d.openHandles()).toBe(0);
    expect(await code(d.readFile('journal/log'))).toBe('EIO');
  });

  it('refuses paths that escape the root', async () => {
    const base = tmp();
    const root = join(base, 'root');
    mkdirSync(join(base, 'outside'), { recursive: true });
    writeFileSync(join(base, 'outside', 'secret'), 'top secret');
    const d = disk(root);
    expect(await code(d.readFile('../outside/secret'))).toBe('EINVAL');
    expect(await code(d.readFile('a/../../outside/secret'))).toBe('EINVAL');
    expect(await code(d.writeFile('..%2Foutside%2Fx', bytes('x')))).toBe('EINVAL');
    expect(await code(d.readFile('%2e%2e/outside/secret'))).toBe('EINVAL');
    expect(await code(d.readFile('..\\outside\\secret'))).toBe('EINVAL');
    expect(await code(d.readFile('a\0b'))).toBe('EINVAL');
    // An absolute-looking path is relative to the root, as on the simulated disk.
    expect(await code(d.readFile(join(base, 'outside', 'secret')))).toBe('ENOENT');

    symlinkSync(join(base, 'outside'), join(root, 'link'));
    expect(await code(d.readFile('link/secret'))).toBe('EACCES');
    expect(await code(d.writeFile('link/new', bytes('x')))).toBe('EACCES');
    expect(await code(d.append('link/new', bytes('x')))).toBe('EACCES');
    // fsync skips the check only through a handle that append opened (and checked); by path it still checks.
    expect(await code(d.fsync('link/secret'))).toBe('EACCES');
    expect(await code(d.list('link'))).toBe('EACCES');
    expect(await code(d.remove('link/secret'))).toBe('EACCES');
    expect(await code(d.mkdir('link'))).toBe('EACCES');
    expect(await code(d.mkdir('link/sub'))).toBe('EACCES');
    expect(await code(d.mkdir('link/sub/deeper'))).toBe('EACCES');
    symlinkSync(join(base, 'outside', 'nothing-yet'), join(root, 'dangling'));
    expect(await code(d.writeFile('dangling', bytes('x')))).toBe('EACCES');
    expect(existsSync(join(base, 'outside', 'new'))).toBe(false);
    expect(existsSync(join(base, 'outside', 'sub'))).toBe(false);
    expect(existsSync(join(base, 'outside', 'nothing-yet'))).toBe(false);
    expect(readFileSync(join(base, 'outside', 'secret'), 'utf8')).toBe('top secret');

    // A symlink that stays inside the root is fine.
    await d.writeFile('real/f', bytes('inside'));
    symlinkSync(join(root, 'real'), join(root, 'alias'));
    expect(text(await d.readFile('alias/f'))).toBe('inside');
  });
});

describe('LevelKv', () => {
  it('round-trips batches, scans by prefix and survives a reopen', async () => {
    const dir = join(tmp(), 'kv');
    let kv = await LevelKv.open(dir);
    await kv.batch(
      [
        ['inode/1', bytes('root')],
        ['inode/2', bytes('a')],
        ['inode/3', bytes('b')],
        ['meta/seq', Uint8Array.of(1, 2, 3)],
      ],
      true,
    );
    await kv.batch([['inode/2', undefined], ['inode/4', bytes('c')]], false);
    expect(text((await kv.get('inode/1'))!)).toBe('root');
    expect(await kv.get('inode/2')).toBeUndefined();
    const scanned = await kv.scan('inode/');
    expect(scanned.map(([k, v]) => `${k}=${text(v)}`)).toEqual(['inode/1=root', 'inode/3=b', 'inode/4=c']);
    expect(scanned[0]![1]).toBeInstanceOf(Uint8Array);
    await expect(LevelKv.open(dir)).rejects.toThrow(/another process/);
    await kv.close();
    kv = await LevelKv.open(dir);
    expect([...(await kv.get('meta/seq'))!]).toEqual([1, 2, 3]);
    expect((await kv.scan('')).length).toBe(4);
    expect(text(kv.getSync('inode/4')!)).toBe('c');
    expect(kv.getSync('inode/2')).toBeUndefined();
    await kv.clear();
    expect(await kv.scan('')).toEqual([]);
    expect(kv.getSync('inode/1')).toBeUndefined();
    await kv.close();
  });
});

describe('createRealEnv', () => {
  it('wires disk, kv, ufs, randomness and logging', async () => {
    const dir = tmp();
    const network = new WsNetwork({ clusterId: 'c', clusterSecret: 'k' });
    const lines: string[] = [];
    const env = createRealEnv({ self: 'worker-1', network, dataDir: join(dir, 'data'), logLevel: 'info', logSink: (l) => lines.push(l) });
    cleanups.push(async () => {
      await env.dispose();
      await network.close();
    });
    expect(Math.abs(env.now() - Date.now())).toBeLessThan(1000);
    for (let i = 0; i < 10_000; i++) {
      const r = env.random();
      expect(r >= 0 && r < 1).toBe(true);
    }
    await env.disk.writeFile('blocks/1', bytes('data'));
    expect(readFileSync(join(dir, 'data', 'blocks', '1'), 'utf8')).toBe('data');
    const kv = await env.openKv('meta');
    await kv.batch([['k', bytes('v')]], true);
    await expect(env.openKv('../escape')).rejects.toThrow(/bad key-value store name/);

    const ufsDir = join(dir, 'ufs');
    const ufs = env.openUfs(pathToFileURL(ufsDir).href);
    await ufs.writeFile('f.txt', bytes('under'));
    expect(readFileSync(join(ufsDir, 'f.txt'), 'utf8')).toBe('under');
    expect(env.openUfs(ufsDir)).toBe(ufs);
    expect(() => env.openUfs('s3://bucket/path')).toThrow(/unsupported UFS scheme "s3"/);

    env.log.log('debug', 'hidden');
    env.log.log('warn', 'worker lost', { worker: 'worker-2', reason: 'no heartbeat for 10s' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', node: 'worker-1', msg: 'worker lost', worker: 'worker-2', reason: 'no heartbeat for 10s' });
    expect(JSON.parse(lines[0]!).time).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/);

    let fired = false;
    const t = env.setTimer(5, () => (fired = true));
    t.cancel();
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toBe(false);
  });
});
