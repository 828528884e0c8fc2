// A linearizability checker for histories of concurrent operations, after Wing &
// Gong's search with Lowe's memoization (the approach Porcupine popularized):
// walk the history in time order, tentatively linearizing calls whose effect the
// sequential model accepts, backtracking when a return is reached whose call was
// not placed, and remembering (linearized set, model state) pairs already tried.
//
// An operation whose outcome the client never learned (a timeout, a crash) has no
// output: it may take effect at any point between its call and its return (the end
// of time when the caller cannot bound it), or never; the search tries both.

export interface Model<S, I, O> {
  init(): S;
  /** Applies `input` to `state`; `ok` when the model could have produced `output` (ignored when `output` is undefined). */
  step(state: S, input: I, output: O | undefined): { ok: boolean; state: S };
  /** A canonical string of a state: equal states must give equal keys. */
  key(state: S): string;
  describe?(input: I, output: O | undefined): string;
}

export interface Operation<I, O> {
  client: string;
  input: I;
  call: number;
  /** Undefined when the outcome is unknown. */
  ret?: number;
  output?: O;
}

export type LinearizabilityResult =
  | { ok: true; explored: number }
  | { ok: false; explored: number; reason: string }
  | { ok: 'unknown'; explored: number; reason: string };

interface Entry {
  kind: 'call' | 'return';
  op: number;
  time: number;
  match?: Entry;
  prev?: Entry;
  next?: Entry;
}

export function checkLinearizable<S, I, O>(model: Model<S, I, O>, history: ReadonlyArray<Operation<I, O>>, opts: { maxExplored?: number } = {}): LinearizabilityResult {
  const maxExplored = opts.maxExplored ?? 2_000_000;
  const events: Entry[] = [];
  history.forEach((op, i) => {
    const call: Entry = { kind: 'call', op: i, time: op.call };
    const ret: Entry = { kind: 'return', op: i, time: op.ret ?? Number.POSITIVE_INFINITY };
    call.match = ret;
    ret.match = call;
    events.push(call, ret);
  });
  // At equal times calls go first: operations that merely touch count as concurrent,
  // which can only accept more histories, never report a false violation.
  events.sort((a, b) => (a.time === b.time ? 0 : a.time - b.time) || (a.kind === b.kind ? a.op - b.op : a.kind === 'call' ? -1 : 1));
  const head: Entry = { kind: 'call', op: -1, time: Number.NEGATIVE_INFINITY };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }

  const lift = (e: Entry): void => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Entry): void => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };

  const linearized = new Uint8Array(history.length);
  const bits = new Uint32Array(Math.ceil(history.length / 32));
  const seen = new Set<string>();
  const stack: Array<{ entry: Entry; state: S; choice: number }> = [];
  let state = model.init();
  let entry = head.next;
  let explored = 0;
  let deepest = 0;
  // The operation that blocked the longest linearized prefix: the most useful pointer to the violation.
  let blocker = -1;
  let blockerDepth = -1;

  // Choices at a call: its effect per the model.
  const choices = (op: Operation<I, O>): S[] => {
    const r = model.step(state, op.input, op.ret === undefined || op.output === undefined ? undefined : op.output);
    return r.ok ? [r.state] : [];
  };
  // An operation whose outcome is unknown and that was lost changes nothing, so
  // where it is placed does not matter: it is placed at its return, only when
  // nothing placed it before. Trying "lost" at every point instead would multiply
  // the orders explored by every unknown operation of a fault-heavy history.
  const LOST = -1;
  let justRestored = false;
  let firstChoice = 0;

  while (head.next) {
    if (++explored > maxExplored) {
      return { ok: 'unknown', explored, reason: `gave up after exploring ${maxExplored} states (history of ${history.length} operations)` };
    }
    if (!entry) return { ok: false, explored, reason: 'internal: ran past the end of the history' };
    if (entry.kind === 'call') {
      const op = history[entry.op]!;
      const options = choices(op);
      let placed = false;
      bits[entry.op >>> 5]! |= 1 << (entry.op & 31);
      const prefix = bitsKey(bits);
      for (let c = firstChoice; c < options.length; c++) {
        const next = options[c]!;
        const key = `${prefix}|${model.key(next)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        stack.push({ entry, state, choice: c });
        linearized[entry.op] = 1;
        state = next;
        lift(entry);
        deepest = Math.max(deepest, stack.length);
        placed = true;
        break;
      }
      firstChoice = 0;
      if (placed) {
        entry = head.next;
        continue;
      }
      bits[entry.op >>> 5]! &= ~(1 << (entry.op & 31));
      entry = entry.next;
    } else {
      const op = history[entry.op]!;
      if (op.output === undefined && !justRestored) {
        // Unknown and not placed: it was lost, right here.
        const call = entry.match!;
        bits[entry.op >>> 5]! |= 1 << (entry.op & 31);
        const key = `${bitsKey(bits)}|${model.key(state)}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ entry: call, state, choice: LOST });
          linearized[entry.op] = 1;
          lift(call);
          entry = head.next;
          continue;
        }
        bits[entry.op >>> 5]! &= ~(1 << (entry.op & 31));
      }
      justRestored = false;
      // A return whose call could not be placed before it: undo the last choice.
      if (stack.length > blockerDepth) {
        blockerDepth = stack.length;
        blocker = entry.op;
      }
      if (stack.length === 0) {
        const op = history[blocker]!;
        const describe = (o: Operation<I, O>) => (model.describe ? model.describe(o.input, o.output) : JSON.stringify(o.input));
        return {
          ok: false,
          explored,
          reason: `no linearization: after the longest prefix that can be linearized (${blockerDepth} of ${history.length} operations), ` +
            `${op.client}'s ${describe(op)} (called at ${op.call.toFixed(1)}, returned at ${op.ret?.toFixed(1)}) cannot be placed`,
        };
      }
      const top = stack.pop()!;
      linearized[top.entry.op] = 0;
      bits[top.entry.op >>> 5]! &= ~(1 << (top.entry.op & 31));
      state = top.state;
      unlift(top.entry);
      if (top.choice === LOST) {
        // Being lost there failed; it cannot be lost anywhere else either: keep backtracking.
        entry = top.entry.match;
        justRestored = true;
        continue;
      }
      // Try the same call's next choice before moving past it.
      entry = top.entry;
      firstChoice = top.choice + 1;
    }
  }
  return { ok: true, explored };
}

function bitsKey(bits: Uint32Array): string {
  let s = '';
  for (let i = 0; i < bits.length; i++) s += bits[i]!.toString(36) + ',';
  return s;
}
