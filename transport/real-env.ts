// The Env of a real process: wall clock, timers, crypto randomness, WebSocket
// links, node:fs and classic-level. The simulator builds the other Env.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Disk, Env, Kv, LogLevel, NodeId, Timer } from '../actors/env.js';
import { createLogger } from './logging.js';
import { ufsModes } from './ufs-mode.js';
import { StrataError } from '../actors/protocol/envelope.js';
import { LevelKv } from './level-kv.js';
import { NodeDisk } from './node-disk.js';
import type { WsNetwork } from './ws-network.js';

export { createLogger };

/** Uniform doubles in [0, 1) from the OS CSPRNG, drawn 4 KiB at a time. */
export function cryptoRandom(): () => number {
  let buf = randomBytes(4096);
  let pos = 0;
  return () => {
    if (pos + 8 > buf.byteLength) {
      buf = randomBytes(4096);
      pos = 0;
    }
    const hi = buf.readUInt32BE(pos) >>> 5; // 27 bits
    const lo = buf.readUInt32BE(pos + 4) >>> 6; // 26 bits
    pos += 8;
    return (hi * 67108864 + lo) / 9007199254740992;
  };
}

/** A short random hex id, e.g. for naming a client node. */
export function randomHex(bytes = 4): string {
  return randomBytes(bytes).toString('hex');
}

export function realTimer(delayMs: number, fn: () => void): Timer {
  const t = setTimeout(fn, Math.max(0, delayMs));
  return { cancel: () => clearTimeout(t) };
}

/** The local directory a UFS location names: `file:///abs/dir` or a plain path. */
export function ufsRoot(uri: string): string {
  if (/^file:/i.test(uri)) {
    try {
      return nodePath.resolve(fileURLToPath(uri));
    } catch (e) {
      throw new StrataError('INVALID_ARGUMENT', `bad file URI ${JSON.stringify(uri)}: ${(e as Error).message}`);
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    const scheme = uri.slice(0, uri.indexOf(':'));
    throw new StrataError('INVALID_ARGUMENT', `unsupported UFS scheme "${scheme}" in ${JSON.stringify(uri)}: this build supports local directories (file:///dir or a path)`);
  }
  if (uri.trim() === '') throw new StrataError('INVALID_ARGUMENT', 'empty UFS location');
  return nodePath.resolve(uri);
}

/** Opens a UFS location on this machine: `file:///abs/dir` or a plain path. */
export function openLocalUfs(uri: string): NodeDisk {
  return new NodeDisk(ufsRoot(uri));
}

export interface RealEnvOptions {
  self: NodeId;
  network: WsNetwork;
  dataDir: string;
  logLevel?: LogLevel;
  logSink?: (line: string) => void;
}

/** An Env plus what its host must release at shutdown. */
export interface RealEnv extends Env {
  /** Closes key-value stores the actor left open and syncs and closes cached file handles. */
  dispose(): Promise<void>;
}

export function createRealEnv(opts: RealEnvOptions): RealEnv {
  const dataDir = nodePath.resolve(opts.dataDir);
  const disk = new NodeDisk(dataDir);
  const ufs = new Map<string, { disk: NodeDisk; view: Disk }>();
  const locals = new Map<string, NodeDisk>();
  const kvs = new Set<Kv>();
  const log = createLogger(opts.self, opts.logLevel ?? 'info', opts.logSink);
  const random = cryptoRandom();
  const { network } = opts;
  return {
    self: opts.self,
    now: () => Date.now(),
    setTimer: realTimer,
    random,
    send: (to, envelope) => network.send(to, envelope),
    learnAddress: (node, address) => network.learnAddress(node, address),
    onPeerDown: (listener) => network.onPeerDown(listener),
    disk,
    async openKv(name: string): Promise<Kv> {
      if (!/^[A-Za-z0-9._-]+$/.test(name) || name === '.' || name === '..') {
        throw new StrataError('INVALID_ARGUMENT', `bad key-value store name ${JSON.stringify(name)}`);
      }
      const kv = await LevelKv.open(nodePath.join(dataDir, 'kv', name));
      kvs.add(kv);
      const close = kv.close.bind(kv);
      kv.close = async () => {
        kvs.delete(kv);
        await close();
      };
      return kv;
    },
    openUfs(uri: string): Disk {
      const d = openLocalUfs(uri);
      const cached = ufs.get(d.root);
      if (cached) {
        void d.close();
        return cached.view;
      }
      const view = ufsModes.wrap(d.root, uri, d);
      ufs.set(d.root, { disk: d, view });
      return view;
    },
    hostName: hostname(),
    openLocal(dirUri: string): Disk | undefined {
      // Only a directory that exists here: another host's path must not be created on this one.
      let dir: string;
      try {
        dir = fileURLToPath(dirUri);
      } catch {
        return undefined;
      }
      if (!existsSync(dir)) return undefined;
      let d = locals.get(dir);
      if (!d) locals.set(dir, (d = new NodeDisk(dir)));
      return d;
    },
    log,
    async dispose() {
      for (const kv of [...kvs]) await kv.close().catch(() => {});
      await disk.close();
      for (const u of ufs.values()) await u.disk.close();
      for (const d of locals.values()) await d.close();
    },
  };
}
