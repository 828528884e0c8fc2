// The frame every message travels in, and the error values shared by all services.
import { arr, int, msg, obj, oneOf, opt, str, strMax, uint, type Infer, type Schema } from '../../transport/schema.js';

/** Bumped on any incompatible change; checked in the transport handshake. */
export const PROTOCOL_VERSION = 1;

export const ERROR_CODES = [
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'INVALID_ARGUMENT',
  'PERMISSION_DENIED',
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'FAILED_PRECONDITION',
  'RESOURCE_EXHAUSTED',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** `leader`: set by a master that is not the leader, naming the one it believes is (NOT_LEADER). */
export const ErrorReply = msg('Error', { code: oneOf(...ERROR_CODES), message: strMax(4096), leader: opt(strMax(256)) });
export type ErrorReply = Infer<typeof ErrorReply>;

export const OkReply = msg('Ok', {});
export type OkReply = Infer<typeof OkReply>;

/** An error as a value: what request helpers reject with. */
export class StrataError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** For NOT_LEADER refusals: the master believed to lead, when known. */
    readonly leader?: string,
  ) {
    super(message);
    this.name = 'StrataError';
  }
  toReply(): ErrorReply {
    return { t: 'Error', code: this.code, message: this.message, ...(this.leader !== undefined ? { leader: this.leader } : {}) };
  }
}

/** A master that is not the leader refuses with this, so clients move on to the leader. */
export function notLeader(self: string, leader: string | undefined): StrataError {
  return new StrataError('UNAVAILABLE', `NOT_LEADER: ${self} is not the leader${leader ? `; the leader is ${leader}` : ''}`, leader);
}

export function isNotLeader(e: unknown): e is StrataError {
  return e instanceof StrataError && e.code === 'UNAVAILABLE' && e.message.startsWith('NOT_LEADER');
}

export function isStrataError(e: unknown, code?: ErrorCode): e is StrataError {
  return e instanceof StrataError && (code === undefined || e.code === code);
}

/** Any message body: a plain object discriminated by `t`. */
export interface Message {
  readonly t: string;
}

/**
 * `id` is the sender's correlation id (0 for a one-way message); a reply or a
 * stream frame carries the request's id in `re`. `ttl` is the sender's
 * remaining deadline in ms, relative so clock skew between hosts does not matter.
 */
export interface Envelope<M extends Message = Message> {
  f: string;
  to: string;
  id: number;
  re?: number;
  ttl?: number;
  /** The user a request acts for and its groups, as the client names them (SIMPLE authentication). */
  u?: string;
  g?: string[];
  m: M;
}

export const EnvelopeHeader: Schema<{ f: string; to: string; id: number; re?: number; ttl?: number; u?: string; g?: string[]; m: { t: string } }> = obj({
  f: strMax(256),
  to: strMax(256),
  id: uint,
  re: opt(uint),
  ttl: opt(int),
  u: opt(strMax(256)),
  g: opt(arr(strMax(256), 256)),
  m: obj({ t: strMax(64) }),
});
