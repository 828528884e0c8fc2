// The Env of a real process: wall clock, timers, crypto randomness, WebSocket
// links, node:fs and classic-level. The simulator builds the other Env.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Disk, Env, Kv, LogLevel, Logger, NodeId, Timer } from '../actors/env.js';
import { StrataError } from '../actors/protocol/envelope.js';
import { LevelKv } from './level-kv.js';
import { NodeDisk } from './node-disk.js';
import type { WsNetwork } from './ws-network.js';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** One line per record: `time LEVEL node msg k=v ...`, dropped below `level`. */
export function createLogger(node: string, level: LogLevel = 'info', sink: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const min = LEVELS[level];
  return {
    log(lv, msg, fields) {
      if (LEVELS[lv] < min) return;
      let line = `${new Date().toISOString()} ${lv.toUpperCase()} ${node} ${msg}`;
      if (fields) for (const [k, v] of Object.entries(fields)) line += ` ${k}=${formatValue(v)}`;
      try {
        sink(line);
      } catch {
        // A closed stderr must not take the node down.
      }
    },
  };
}

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

/** Opens a UFS location on this machine: `file:///abs/dir` or a plain path. */
export function openLocalUfs(uri: string): NodeDisk {
  let dir: string;
  if (/^file:/i.test(uri)) {
    try {
      dir = fileURLToPath(uri);
    } catch (e) {
      throw new StrataError('INVALID_ARGUMENT', `bad file URI ${JSON.stringify(uri)}: ${(e as Error).message}`);
    }
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    const scheme = uri.slice(0, uri.indexOf(':'));
    throw new StrataError('INVALID_ARGUMENT', `unsupported UFS scheme "${scheme}" in ${JSON.stringify(uri)}: this build supports local directories (file:///dir or a path)`);
  } else {
    if (uri.trim() === '') throw new StrataError('INVALID_ARGUMENT', 'empty UFS location');
    dir = uri;
  }
  return new NodeDisk(nodePath.resolve(dir));
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
  const ufs = new Map<string, NodeDisk>();
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
        return cached;
      }
      ufs.set(d.root, d);
      return d;
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
      for (const d of ufs.values()) await d.close();
      for (const d of locals.values()) await d.close();
    },
  };
}
