// Changes the master has proposed to the journal but not yet seen applied, by
// the keys they touch. Validation runs against the applied namespace, so it is
// only sound if nothing it depends on is about to change: a change that touches
// a pending key waits for it and validates again, and a change that depends on
// more than a few keys (a delete, a rename, a sync) waits until nothing is
// pending at all. This is what lets creates of different names share journal
// fsyncs instead of committing one at a time.

/** The key of a name in a directory: creates of one name are ordered, creates of different names are not. */
export const nameKey = (parent: number, name: string): string => `n:${parent}/${name}`;

/** The key of a client's request id: a retry waits for its first attempt, then finds it applied. */
export const requestKey = (req: { c: string; r: number }): string => `r:${req.c}:${req.r}`;

export class PendingChanges {
  private readonly byKey = new Map<string, Promise<void>>();
  private readonly all = new Set<Promise<void>>();

  /** Settles once no pending change holds any of `keys`; undefined when none does now. */
  conflict(keys: readonly string[]): Promise<void> | undefined {
    const held = keys.map((k) => this.byKey.get(k)).filter((p): p is Promise<void> => p !== undefined);
    return held.length === 0 ? undefined : Promise.all(held).then(() => undefined);
  }

  /** Settles once every change pending now has settled; undefined when none is. */
  drained(): Promise<void> | undefined {
    return this.all.size === 0 ? undefined : Promise.all([...this.all]).then(() => undefined);
  }

  get size(): number {
    return this.all.size;
  }

  /**
   * Starts `change`, holding `keys` until it settles (either way). The caller must
   * have checked `conflict(keys)` in the same critical section.
   */
  start<T>(keys: readonly string[], change: () => Promise<T>): Promise<T> {
    const done = change();
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    for (const k of keys) this.byKey.set(k, settled);
    this.all.add(settled);
    void settled.then(() => {
      this.all.delete(settled);
      for (const k of keys) if (this.byKey.get(k) === settled) this.byKey.delete(k);
    });
    return done;
  }
}
