// Where a client writes a new file's blocks: Alluxio's block write location policies.
import { StrataError } from '../protocol/envelope.js';
import type { Infer } from '../../transport/schema.js';
import type * as M from '../protocol/master.js';

type WorkerInfo = Infer<typeof M.WorkerInfo>;

export const LOCATION_POLICIES = ['LocalFirst', 'RoundRobin', 'MostAvailableFirst', 'DeterministicHash', 'SpecificHost'] as const;
export type LocationPolicy = (typeof LOCATION_POLICIES)[number];

function hostOf(address: string): string {
  try {
    return new URL(address).hostname;
  } catch {
    return '';
  }
}

function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export interface PolicyContext {
  /** Host names that count as this client's own (LocalFirst). */
  localHosts: readonly string[];
  /** The host to write to (SpecificHost). */
  specificHost?: string;
  random: () => number;
}

/** Stateful only for RoundRobin (its cursor); one per client. */
export class WorkerChooser {
  private cursor = 0;

  constructor(
    readonly policy: LocationPolicy,
    private readonly ctx: PolicyContext,
  ) {}

  /** Picks a live worker with room for `bytes` (any live one if none has room). */
  choose(workers: readonly WorkerInfo[], path: string, bytes: number): WorkerInfo {
    const live = [...workers].filter((w) => w.state === 'LIVE').sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (live.length === 0) throw new StrataError('UNAVAILABLE', 'no live workers to write to');
    const roomy = live.filter((w) => w.capacityBytes - w.usedBytes >= bytes);
    const pool = roomy.length > 0 ? roomy : live;
    const any = () => pool[Math.floor(this.ctx.random() * pool.length)]!;
    switch (this.policy) {
      case 'LocalFirst': {
        const local = pool.filter((w) => this.ctx.localHosts.includes(hostOf(w.address)));
        return local.length > 0 ? local[Math.floor(this.ctx.random() * local.length)]! : any();
      }
      case 'RoundRobin':
        return pool[this.cursor++ % pool.length]!;
      case 'MostAvailableFirst':
        return pool.reduce((best, w) => (w.capacityBytes - w.usedBytes > best.capacityBytes - best.usedBytes ? w : best));
      case 'DeterministicHash':
        // Over every live worker, not only roomy ones: the same path must map to the same worker.
        return live[hash32(path) % live.length]!;
      case 'SpecificHost': {
        const host = this.ctx.specificHost;
        const w = live.find((x) => hostOf(x.address) === host);
        if (!w) throw new StrataError('UNAVAILABLE', `no live worker on host ${host ?? '(strata.user.block.write.location.policy.specific.host is unset)'}`);
        return w;
      }
    }
  }
}
