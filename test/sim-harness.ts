// Shared helpers for the simulator's own tests: a recorder actor that logs what
// it receives, and a small cluster of them on a chosen network.
import type { Actor, Env } from '../actors/env.js';
import type { Envelope } from '../actors/protocol/envelope.js';
import type { WorkerRequest } from '../actors/protocol/worker.js';
import { QUIET_NETWORK, type NetworkFaults } from '../sim/network.js';
import { createSimBed, type SimBed } from '../sim/scenario.js';

export interface Received {
  at: number;
  from: string;
  envelope: Envelope;
}

export class Recorder implements Actor {
  readonly got: Received[] = [];
  constructor(
    readonly env: Env,
    private readonly clock: () => number,
  ) {}
  async start(): Promise<void> {}
  receive(e: Envelope): void {
    this.got.push({ at: this.clock(), from: e.f, envelope: e });
  }
  async stop(): Promise<void> {}
  /** A one-way numbered message (ReadCredit carries a uint we use as a sequence number). */
  send(to: string, n: number, id = 0): void {
    const m: WorkerRequest = { t: 'ReadCredit', stream: 7, n };
    this.env.send(to, { f: this.env.self, to, id, m });
  }
}

export async function recorders(ids: string[], faults: Partial<NetworkFaults> = {}, seed = 1): Promise<SimBed & { node(id: string): Recorder }> {
  const bed = createSimBed(seed, { network: () => ({ ...QUIET_NETWORK, ...faults }) });
  for (const id of ids) bed.cluster.addNode(id, (env) => new Recorder(env, () => bed.sim.now));
  await bed.sim.settle(Promise.all(ids.map((id) => bed.cluster.start(id))));
  return { ...bed, node: (id) => bed.cluster.actor<Recorder>(id) };
}

export function seqs(r: Recorder, from?: string): number[] {
  return r.got.filter((g) => from === undefined || g.from === from).map((g) => (g.envelope.m as unknown as { n: number }).n);
}
