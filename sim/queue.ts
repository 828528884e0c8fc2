// The simulator's pending events: a binary min-heap ordered by (time, seq). The
// sequence number breaks ties in scheduling order, so two events at the same
// virtual time always fire in the same order, whatever the heap's layout.

export interface QueuedEvent {
  readonly time: number;
  readonly seq: number;
}

function before(a: QueuedEvent, b: QueuedEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

export class EventQueue<E extends QueuedEvent> {
  private readonly heap: E[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): E | undefined {
    return this.heap[0];
  }

  push(e: E): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent]!;
      if (!before(e, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = e;
  }

  pop(): E | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) this.siftDown(last);
    return top;
  }

  private siftDown(e: E): void {
    const h = this.heap;
    const n = h.length;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && before(h[right]!, h[child]!)) child = right;
      const c = h[child]!;
      if (!before(c, e)) break;
      h[i] = c;
      i = child;
    }
    h[i] = e;
  }

  /** Drops every event `keep` rejects and restores the heap in O(n). */
  filter(keep: (e: E) => boolean): void {
    const h = this.heap;
    let w = 0;
    for (let r = 0; r < h.length; r++) if (keep(h[r]!)) h[w++] = h[r]!;
    h.length = w;
    for (let i = (w >> 1) - 1; i >= 0; i--) {
      const e = h[i]!;
      // Sift down from i: reuse the loop by temporarily treating i as the root.
      let j = i;
      for (;;) {
        let child = 2 * j + 1;
        if (child >= w) break;
        const right = child + 1;
        if (right < w && before(h[right]!, h[child]!)) child = right;
        const c = h[child]!;
        if (!before(c, e)) break;
        h[j] = c;
        j = child;
      }
      h[j] = e;
    }
  }
}
