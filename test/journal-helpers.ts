// Shared by the journal tests: a logger that records, and a disk whose fsyncs can be held.
import type { Disk, FileStat, Logger, LogLevel } from '../actors/env.js';
import { MemDisk } from '../sim/disk.js';

export interface LogLine {
  level: LogLevel;
  msg: string;
  fields?: Record<string, unknown>;
}

export class RecordingLogger implements Logger {
  readonly lines: LogLine[] = [];
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level, msg, ...(fields ? { fields } : {}) });
  }
  at(level: LogLevel): LogLine[] {
    return this.lines.filter((l) => l.level === level);
  }
}

/**
 * A MemDisk whose fsyncs wait while `hold` is set, so a test can have writes on
 * disk but not yet durable, pile up appends behind an fsync in flight, or crash
 * with fsyncs outstanding.
 */
export class GatedDisk implements Disk {
  hold = false;
  fsyncCalls = 0;
  private waiting: Array<() => void> = [];
  constructor(readonly mem: MemDisk = new MemDisk()) {}

  /** Lets every held fsync proceed (and stops holding new ones). */
  release(): void {
    this.hold = false;
    const w = this.waiting;
    this.waiting = [];
    for (const f of w) f();
  }
  get held(): number {
    return this.waiting.length;
  }

  stat(path: string): Promise<FileStat | null> {
    return this.mem.stat(path);
  }
  list(dir: string): Promise<string[]> {
    return this.mem.list(dir);
  }
  mkdir(dir: string): Promise<void> {
    return this.mem.mkdir(dir);
  }
  readFile(path: string): Promise<Uint8Array> {
    return this.mem.readFile(path);
  }
  read(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.mem.read(path, offset, length);
  }
  writeFile(path: string, data: Uint8Array): Promise<void> {
    return this.mem.writeFile(path, data);
  }
  append(path: string, data: Uint8Array): Promise<void> {
    return this.mem.append(path, data);
  }
  truncate(path: string, size: number): Promise<void> {
    return this.mem.truncate(path, size);
  }
  async fsync(path: string): Promise<void> {
    this.fsyncCalls++;
    if (this.hold) await new Promise<void>((r) => this.waiting.push(r));
    return this.mem.fsync(path);
  }
  rename(from: string, to: string): Promise<void> {
    return this.mem.rename(from, to);
  }
  remove(path: string): Promise<void> {
    return this.mem.remove(path);
  }
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Lets every queued microtask and already-resolved disk operation run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}
