// What clients report in their metrics heartbeats (Alluxio's client metrics
// heartbeat to the master): cumulative counters per client, summed into cluster
// totals. Reports carry totals, not increments, so a lost or repeated report, or
// a new leader that has heard nothing yet, is put right by the next one.

/** A client unheard of for this long leaves the per-client series; its bytes stay in the totals. */
export const CLIENT_RETENTION_MS = 10 * 60_000;

interface ClientReport {
  values: Map<string, number>;
  /** What the client had counted when the metrics were last cleared: counted from there. */
  base: Map<string, number>;
  at: number;
}

export class ClientTotals {
  private readonly clients = new Map<string, ClientReport>();
  /** Counts of clients forgotten or restarted, so the totals never go down. */
  private readonly retired = new Map<string, number>();

  report(clientId: string, metrics: ReadonlyArray<{ name: string; value: number }>, now: number): void {
    const prev = this.clients.get(clientId);
    const values = new Map<string, number>();
    for (const m of metrics) values.set(m.name, m.value);
    // A counter below its last report: the client restarted under the same id and counts from zero.
    const restarted = prev !== undefined && [...prev.values].some(([name, v]) => (values.get(name) ?? 0) < v);
    if (prev && restarted) this.retire(prev);
    this.clients.set(clientId, { values, base: prev && !restarted ? prev.base : new Map(), at: now });
    for (const [id, r] of this.clients) {
      if (now - r.at > CLIENT_RETENTION_MS) {
        this.retire(r);
        this.clients.delete(id);
      }
    }
  }

  /** Over every client that ever reported. */
  sum(name: string): number {
    let n = this.retired.get(name) ?? 0;
    for (const r of this.clients.values()) n += counted(r, name) ?? 0;
    return n;
  }

  /** Per client heard from within the retention time, by id. */
  perClient(name: string): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    for (const [id, r] of this.clients) {
      const v = counted(r, name);
      if (v !== undefined) out.push([id, v]);
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }

  /** After `metrics clear`: clients keep counting, so what they counted so far is set aside. */
  clear(): void {
    for (const r of this.clients.values()) r.base = new Map(r.values);
    this.retired.clear();
  }

  private retire(r: ClientReport): void {
    for (const name of r.values.keys()) this.retired.set(name, (this.retired.get(name) ?? 0) + counted(r, name)!);
  }
}

function counted(r: ClientReport, name: string): number | undefined {
  const v = r.values.get(name);
  return v === undefined ? undefined : v - (r.base.get(name) ?? 0);
}
