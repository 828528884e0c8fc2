// The worker registry and block locations. Not journaled, as in Alluxio: after
// a master restart, workers re-register and report their blocks again.
import type { BlockLocation, WorkerInfo } from '../protocol/master.js';

interface WorkerState {
  id: string;
  address: string;
  capacityBytes: number;
  usedBytes: number;
  lastHeartbeatMs: number;
  blocks: Set<number>;
}

export class WorkerRegistry {
  private readonly live = new Map<string, WorkerState>();
  private readonly lost = new Map<string, { id: string; address: string; lostAtMs: number }>();
  private readonly locations = new Map<number, Set<string>>();

  register(id: string, address: string, capacityBytes: number, usedBytes: number, blocks: readonly number[], now: number): void {
    this.forget(id);
    this.lost.delete(id);
    const w: WorkerState = { id, address, capacityBytes, usedBytes, lastHeartbeatMs: now, blocks: new Set() };
    this.live.set(id, w);
    for (const b of blocks) this.addLocation(w, b);
  }

  /** False when the worker is unknown (the master restarted or marked it lost): it must register again. */
  heartbeat(id: string, capacityBytes: number, usedBytes: number, added: readonly number[], removed: readonly number[], now: number): boolean {
    const w = this.live.get(id);
    if (!w) return false;
    w.capacityBytes = capacityBytes;
    w.usedBytes = usedBytes;
    w.lastHeartbeatMs = now;
    for (const b of added) this.addLocation(w, b);
    for (const b of removed) this.removeLocation(w, b);
    return true;
  }

  /**
   * What a live worker reported outside its heartbeat (a job task it finished), so
   * decisions made before the next heartbeat (the replication checker's) see it.
   */
  report(id: string, added: readonly number[], removed: readonly number[]): void {
    const w = this.live.get(id);
    if (!w) return;
    for (const b of added) this.addLocation(w, b);
    for (const b of removed) this.removeLocation(w, b);
  }

  /** Marks workers silent for longer than `timeoutMs` as lost and drops their locations. */
  expire(now: number, timeoutMs: number): string[] {
    const out: string[] = [];
    for (const w of [...this.live.values()]) {
      if (now - w.lastHeartbeatMs > timeoutMs) {
        this.forget(w.id);
        this.lost.set(w.id, { id: w.id, address: w.address, lostAtMs: now });
        out.push(w.id);
      }
    }
    return out;
  }

  private forget(id: string): void {
    const w = this.live.get(id);
    if (!w) return;
    for (const b of w.blocks) this.locations.get(b)?.delete(id);
    for (const b of w.blocks) if (this.locations.get(b)?.size === 0) this.locations.delete(b);
    this.live.delete(id);
  }

  private addLocation(w: WorkerState, block: number): void {
    w.blocks.add(block);
    let s = this.locations.get(block);
    if (!s) this.locations.set(block, (s = new Set()));
    s.add(w.id);
  }

  private removeLocation(w: WorkerState, block: number): void {
    w.blocks.delete(block);
    const s = this.locations.get(block);
    if (!s) return;
    s.delete(w.id);
    if (s.size === 0) this.locations.delete(block);
  }

  /** Forgets blocks (of deleted files) on every worker; they stay on disk until the worker drops them. */
  dropBlocks(blocks: readonly number[]): void {
    for (const b of blocks) {
      const s = this.locations.get(b);
      if (!s) continue;
      for (const id of s) this.live.get(id)?.blocks.delete(b);
      this.locations.delete(b);
    }
  }

  locationsOf(block: number): BlockLocation[] {
    const s = this.locations.get(block);
    if (!s) return [];
    return [...s].sort().map((id) => ({ workerId: id, address: this.live.get(id)!.address }));
  }

  liveCount(): number {
    return this.live.size;
  }

  lostCount(): number {
    return this.lost.size;
  }

  infos(): WorkerInfo[] {
    const out: WorkerInfo[] = [];
    for (const w of this.live.values()) {
      out.push({ id: w.id, address: w.address, capacityBytes: w.capacityBytes, usedBytes: w.usedBytes, lastHeartbeatMs: w.lastHeartbeatMs, state: 'LIVE', blockCount: w.blocks.size });
    }
    for (const w of this.lost.values()) {
      out.push({ id: w.id, address: w.address, capacityBytes: 0, usedBytes: 0, lastHeartbeatMs: w.lostAtMs, state: 'LOST', blockCount: 0 });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
