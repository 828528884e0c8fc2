// The registry of every message type, by its `t`: what the codec validates against.
import type { MsgSchema, Schema } from '../../transport/schema.js';
import { ErrorReply, OkReply } from './envelope.js';
import { MASTER_MESSAGES } from './master.js';
import { RAFT_MESSAGES } from './raft.js';
import { WORKER_MESSAGES } from './worker.js';
import { OPS_MESSAGES } from './ops.js';
import { JOB_MESSAGES } from './job.js';

export * from './envelope.js';

function registry(schemas: ReadonlyArray<MsgSchema<unknown>>): ReadonlyMap<string, Schema<unknown>> {
  const map = new Map<string, Schema<unknown>>();
  for (const s of schemas) {
    if (map.has(s.name)) throw new Error(`duplicate message type ${s.name}`);
    map.set(s.name, s);
  }
  return map;
}

export const MESSAGES: ReadonlyMap<string, Schema<unknown>> = registry([
  ErrorReply,
  OkReply,
  ...MASTER_MESSAGES,
  ...WORKER_MESSAGES,
  ...RAFT_MESSAGES,
  ...OPS_MESSAGES,
  ...JOB_MESSAGES,
] as ReadonlyArray<MsgSchema<unknown>>);
