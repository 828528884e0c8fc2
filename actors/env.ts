// The one seam between actors and the world (see DESIGN.md). Every actor gets an
// Env; the real host (transport/real-env.ts) backs it with the clock, fs, classic-level
// and WebSocket links, the simulator (sim/) with a virtual clock, a seeded PRNG, a
// network model and simulated disks. Code under actors/ and storage/ reaches the
// world only through these interfaces.

import type { Envelope } from './protocol/envelope.js';

export type NodeId = string;

export interface Timer {
  cancel(): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

export interface FileStat {
  readonly size: number;
  readonly mtimeMs: number;
  readonly isDir: boolean;
}

/** Thrown by Disk operations; `code` mirrors the errno-style cause. */
export class DiskError extends Error {
  constructor(
    readonly code: 'ENOENT' | 'EEXIST' | 'ENOTDIR' | 'EISDIR' | 'ENOSPC' | 'EIO' | 'EACCES' | 'EINVAL',
    message: string,
  ) {
    super(message);
    this.name = 'DiskError';
  }
}

/**
 * A tree of files under one root, addressed by '/'-separated relative paths
 * ('' or '/' is the root). Writes are not durable until fsync: a crash may lose
 * or tear anything written after the last fsync of that file. Directory
 * operations (mkdir, rename, remove) are durable when they resolve.
 */
export interface Disk {
  stat(path: string): Promise<FileStat | null>;
  /** Names (not paths) of the entries of a directory, sorted. */
  list(dir: string): Promise<string[]>;
  mkdir(dir: string): Promise<void>;
  readFile(path: string): Promise<Uint8Array>;
  /** Reads up to `length` bytes at `offset`; shorter at end of file. */
  read(path: string, offset: number, length: number): Promise<Uint8Array>;
  /** Creates or replaces the file with `data` (parents are created). */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  /** Appends to the file, creating it if missing. */
  append(path: string, data: Uint8Array): Promise<void>;
  truncate(path: string, size: number): Promise<void>;
  fsync(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Removes a file or a directory tree; missing paths are not an error. */
  remove(path: string): Promise<void>;
  /**
   * Where another process on this host can open this disk's root (file:///dir), for
   * short-circuit reads; absent for disks only this process can see.
   */
  readonly localUri?: string;
  /**
   * Opens a file for positioned reads until `close`; reads see the file that was
   * opened even if the path is replaced meanwhile. Optional: callers fall back to `read`.
   */
  openRead?(path: string): Promise<OpenFile>;
}

/** A file held open for positioned reads (Disk.openRead). */
export interface OpenFile {
  /** Up to `length` bytes at `offset`; shorter at end of file. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** An ordered key-value store (classic-level on a real host). */
export interface Kv {
  get(key: string): Promise<Uint8Array | undefined>;
  /** The same read, blocking: for state machines whose apply cannot wait (the ROCKS metastore). */
  getSync(key: string): Uint8Array | undefined;
  /** Several reads in one call, in the order of `keys` (one round trip instead of one per key). */
  getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>>;
  /** Applies puts (value) and deletes (undefined) atomically; durable when `sync`. */
  batch(ops: ReadonlyArray<readonly [string, Uint8Array | undefined]>, sync: boolean): Promise<void>;
  /** Entries whose key starts with `prefix`, in key order. */
  scan(prefix: string): Promise<Array<[string, Uint8Array]>>;
  /** Deletes every entry (not synced). */
  clear(): Promise<void>;
  close(): Promise<void>;
}

export interface Env {
  /** This node's id, e.g. 'master-0', 'worker-1', 'client-7f3a'. */
  readonly self: NodeId;
  /** Milliseconds; virtual (and possibly skewed) in simulation. */
  now(): number;
  setTimer(delayMs: number, fn: () => void): Timer;
  /** Uniform in [0, 1). */
  random(): number;
  /** Fire and forget; delivery is not guaranteed. The host encodes the envelope. */
  send(to: NodeId, envelope: Envelope): void;
  /** Tells the host how to reach a peer (ignored where addresses mean nothing). */
  learnAddress(node: NodeId, address: string): void;
  /**
   * Registers for news that the connection to a peer was lost or could not be
   * made, so requests in flight to it will never be answered and can fail at
   * once instead of at their deadline. Hosts without connections never call it.
   */
  onPeerDown?(listener: (node: NodeId, reason: string) => void): void;
  /** This node's own storage (journal, block files). */
  readonly disk: Disk;
  openKv(name: string): Promise<Kv>;
  /** The under file system at `uri` (file:///dir on a real host, sim://name in simulation). */
  openUfs(uri: string): Disk;
  /**
   * The machine this node runs on: nodes with the same host share its file system,
   * so a client may read a worker's block files directly (short-circuit). Absent
   * where nothing is shared (the simulator).
   */
  readonly hostName?: string;
  /** A directory another node on this host advertised by its `localUri`; undefined where it cannot be opened. */
  openLocal?(dirUri: string): Disk | undefined;
  readonly log: Logger;
}

/** What a host drives: it hands inbound envelopes to `receive`, already validated. */
export interface Actor {
  start(): Promise<void>;
  receive(envelope: Envelope): void;
  /** Stops timers and syncs files; the host closes links afterwards. */
  stop(): Promise<void>;
}

export function randomInt(env: Pick<Env, 'random'>, n: number): number {
  return Math.floor(env.random() * n);
}
