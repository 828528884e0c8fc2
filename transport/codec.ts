// msgpack encoding of envelopes, and validation of everything that arrives.
// Both hosts go through here, so a codec or schema bug shows in simulation too.
import { Packr } from 'msgpackr';
import { EnvelopeHeader, StrataError, type Envelope } from '../actors/protocol/envelope.js';
import { MESSAGES } from '../actors/protocol/index.js';

/** Alluxio's gRPC default message limit is 16 MiB (plus headroom for a chunk). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024 + 64 * 1024;

// Plain maps/arrays only: no records or structured clones, so every decoded value
// is something the schemas can judge and nothing can smuggle prototypes in.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

export function encode(envelope: Envelope): Uint8Array {
  return packr.pack(envelope);
}

export type DecodeResult =
  | { ok: true; envelope: Envelope }
  /** `header` is set when the frame was readable enough to address an error reply to. */
  | { ok: false; error: StrataError; header?: { f: string; id: number } };

export function decode(frame: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): DecodeResult {
  if (frame.byteLength > maxFrameBytes) {
    return { ok: false, error: new StrataError('RESOURCE_EXHAUSTED', `frame of ${frame.byteLength} bytes exceeds the limit of ${maxFrameBytes}`) };
  }
  let value: unknown;
  try {
    value = packr.unpack(frame);
  } catch (e) {
    return { ok: false, error: new StrataError('INVALID_ARGUMENT', `undecodable frame: ${(e as Error).message}`) };
  }
  return validate(value);
}

export function validate(value: unknown): DecodeResult {
  const headerError = EnvelopeHeader.check(value, 'envelope');
  if (headerError) {
    return { ok: false, error: new StrataError('INVALID_ARGUMENT', `malformed envelope: ${headerError}`), header: addressOf(value) };
  }
  const env = value as Envelope;
  const schema = MESSAGES.get(env.m.t);
  if (!schema) {
    return { ok: false, error: new StrataError('INVALID_ARGUMENT', `unknown message type ${JSON.stringify(env.m.t)}`), header: { f: env.f, id: env.id } };
  }
  const err = schema.check(env.m, env.m.t);
  if (err) return { ok: false, error: new StrataError('INVALID_ARGUMENT', `malformed ${env.m.t}: ${err}`), header: { f: env.f, id: env.id } };
  return { ok: true, envelope: env };
}

function addressOf(v: unknown): { f: string; id: number } | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.f === 'string' && o.f.length <= 256 && typeof o.id === 'number' && Number.isSafeInteger(o.id) && o.id > 0) {
    return { f: o.f, id: o.id };
  }
  return undefined;
}

/** msgpack for stored records (journal entries, block metadata): same options as the wire. */
export function packRecord(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function unpackRecord(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** Byte fields at least this large are framed without going through msgpackr's buffer. */
export const LARGE_BYTES_MIN = 64 * 1024;

const EMPTY_BYTES = new Uint8Array(0);

/**
 * The envelope as msgpack in two parts, `head` then `tail` (the message's largest
 * byte field, by reference), whose concatenation is a msgpack encoding of the
 * envelope. The field is moved last in key order (and `m` last in the envelope)
 * so it ends the stream, and `head` ends with its bin32 header; key order means
 * nothing to the schemas. The transport sends the two parts as they are, so a
 * 1 MiB chunk reaches the socket without being copied. No tail when the message
 * has no byte field of at least LARGE_BYTES_MIN.
 */
export function encodeParts(envelope: Envelope): { head: Uint8Array; tail?: Uint8Array } {
  const m = envelope.m as unknown as Record<string, unknown>;
  let bigKey: string | undefined;
  let big: Uint8Array | undefined;
  for (const k in m) {
    const v = m[k];
    if (v instanceof Uint8Array && v.byteLength >= LARGE_BYTES_MIN && (!big || v.byteLength > big.byteLength)) {
      bigKey = k;
      big = v;
    }
  }
  if (!big || bigKey === undefined || /^\d+$/.test(bigKey)) return { head: encode(envelope) };
  const body: Record<string, unknown> = {};
  for (const k in m) if (k !== bigKey) body[k] = m[k];
  body[bigKey] = EMPTY_BYTES;
  const outer: Record<string, unknown> = {};
  const env = envelope as unknown as Record<string, unknown>;
  for (const k in env) if (k !== 'm') outer[k] = env[k];
  outer.m = body;
  const packed = packr.pack(outer);
  const n = packed.byteLength;
  // The placeholder must be the stream's last value, as bin8 of length 0.
  if (n < 2 || packed[n - 2] !== 0xc4 || packed[n - 1] !== 0x00) return { head: encode(envelope) };
  const head = new Uint8Array(n + 3);
  head.set(packed.subarray(0, n - 2));
  head[n - 2] = 0xc6;
  new DataView(head.buffer, head.byteOffset, head.byteLength).setUint32(n - 1, big.byteLength);
  return { head, tail: big };
}

/** The length a split head announces for its tail, or undefined if it is not shaped like one. */
export function tailLengthOf(head: Uint8Array): number | undefined {
  const n = head.byteLength;
  if (n < 6 || head[n - 5] !== 0xc6) return undefined;
  return new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(n - 4);
}

/**
 * Decodes and validates what encodeParts produced, without copying the tail:
 * the head is decoded with an empty placeholder where the tail goes, and the
 * tail is put in its place. Exactly as strict as decode(head ‖ tail).
 */
export function decodeParts(head: Uint8Array, tail: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): DecodeResult {
  const total = head.byteLength + tail.byteLength;
  if (total > maxFrameBytes) {
    return { ok: false, error: new StrataError('RESOURCE_EXHAUSTED', `frame of ${total} bytes exceeds the limit of ${maxFrameBytes}`) };
  }
  if (tailLengthOf(head) !== tail.byteLength) {
    return { ok: false, error: new StrataError('INVALID_ARGUMENT', 'split frame: the tail does not match the length its head announces') };
  }
  const n = head.byteLength;
  const probe = new Uint8Array(n - 3);
  probe.set(head.subarray(0, n - 5));
  probe[n - 5] = 0xc4;
  probe[n - 4] = 0x00;
  let value: unknown;
  try {
    value = packr.unpack(probe);
  } catch (e) {
    return { ok: false, error: new StrataError('INVALID_ARGUMENT', `undecodable frame: ${(e as Error).message}`) };
  }
  const headerError = EnvelopeHeader.check(value, 'envelope');
  if (headerError) {
    return { ok: false, error: new StrataError('INVALID_ARGUMENT', `malformed envelope: ${headerError}`), header: addressOf(value) };
  }
  // The placeholder ended the stream, so it is the last value of `m` and `m` the last of the envelope.
  const outerKeys = Object.keys(value as object);
  const m = (value as { m: Record<string, unknown> }).m;
  const keys = Object.keys(m);
  const last = keys[keys.length - 1];
  const env = value as Envelope;
  if (outerKeys[outerKeys.length - 1] !== 'm' || last === undefined || !(m[last] instanceof Uint8Array) || (m[last] as Uint8Array).byteLength !== 0) {
    return { ok: false, error: new StrataError('INVALID_ARGUMENT', 'split frame: the head does not end in the bytes field'), header: { f: env.f, id: env.id } };
  }
  m[last] = tail;
  return validate(value);
}
