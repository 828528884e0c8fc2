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
 * The envelope as msgpack in two parts: `head`, then `tail` (a large byte field
 * of the message, by reference) — their concatenation decodes like encode()'s
 * output. The large field is moved last in key order (and `m` last in the
 * envelope) so it ends the stream; key order means nothing to the schemas. This
 * lets the transport put a 1 MiB chunk on the wire without packing it first.
 * Returns no tail when the message has no large byte field.
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
  if (!big || bigKey === undefined) return { head: encode(envelope) };
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
  const len = big.byteLength;
  const hdr = len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
  const head = new Uint8Array(n - 2 + hdr);
  head.set(packed.subarray(0, n - 2));
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (hdr === 2) {
    head[n - 2] = 0xc4;
    head[n - 1] = len;
  } else if (hdr === 3) {
    head[n - 2] = 0xc5;
    view.setUint16(n - 1, len);
  } else {
    head[n - 2] = 0xc6;
    view.setUint32(n - 1, len);
  }
  return { head, tail: big };
}
