// Properties of the codec that both hosts share: valid envelopes round-trip
// exactly; no input bytes, however mangled, make decode throw or accept a
// message that its schema refuses.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, validate } from '../transport/codec.js';
import type { Envelope, Message } from '../actors/protocol/envelope.js';
import { ERROR_CODES } from '../actors/protocol/envelope.js';

const id = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const node = fc.string({ minLength: 1, maxLength: 40 });
const path = fc.array(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('/')), { maxLength: 5 }).map((p) => '/' + p.join('/'));
const u = fc.nat({ max: 2 ** 48 });

const location = fc.record({ workerId: node, address: fc.string({ maxLength: 60 }) });
const block = fc.record({ id: u, offset: u, length: u, locations: fc.array(location, { maxLength: 3 }) });
const fileInfo = fc.record({
  fileId: u, path, name: fc.string({ maxLength: 20 }), isDir: fc.boolean(), length: u, mtimeMs: fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? 0 : x)),
  blockSize: u, completed: fc.boolean(), persisted: fc.boolean(), ufsMount: fc.string({ maxLength: 40 }), ufsPath: fc.string({ maxLength: 40 }), owner: fc.string({ maxLength: 12 }), group: fc.string({ maxLength: 12 }), mode: fc.nat({ max: 0o777 }), pinned: fc.boolean(), ttl: fc.option(fc.integer({ min: 0, max: 1e9 }), { nil: undefined }),
  blocks: fc.array(block, { maxLength: 4 }),
});

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ t: fc.constant('GetStatus'), path }),
  fc.record({ t: fc.constant('ListStatus'), path }),
  fc.record({ t: fc.constant('CreateDirectory'), path, recursive: fc.boolean() }),
  fc.record({ t: fc.constant('Error'), code: fc.constantFrom(...ERROR_CODES), message: fc.string({ maxLength: 100 }) }),
  fc.record({ t: fc.constant('BlockChunk'), seq: u, data: fc.uint8Array({ maxLength: 3000 }), last: fc.boolean(), cached: fc.boolean() }),
  fc.record({ t: fc.constant('WorkerHeartbeat'), workerId: node, capacityBytes: u, usedBytes: u, added: fc.array(u, { maxLength: 50 }), removed: fc.array(u, { maxLength: 50 }) }),
  fc.record({ t: fc.constant('FileInfoReply'), info: fileInfo }),
  fc.record({ t: fc.constant('ListStatusReply'), entries: fc.array(fileInfo, { maxLength: 4 }) }),
);

const envelope: fc.Arbitrary<Envelope> = fc
  .record({ f: node, to: node, id: fc.oneof(fc.constant(0), id), re: fc.option(id, { nil: undefined }), ttl: fc.option(fc.integer({ min: 0, max: 1e9 }), { nil: undefined }), m: message })
  .map((e) => {
    const out: Envelope = { f: e.f, to: e.to, id: e.id, m: e.m };
    if (e.re !== undefined) out.re = e.re;
    if (e.ttl !== undefined) out.ttl = e.ttl;
    return out;
  });

function normalizeBytes(v: unknown): unknown {
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(normalizeBytes);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalizeBytes(x)]));
  return v;
}

describe('codec properties', () => {
  it('every valid envelope round-trips exactly', () => {
    fc.assert(
      fc.property(envelope, (e) => {
        const r = decode(encode(e));
        expect(r.ok).toBe(true);
        if (r.ok) expect(normalizeBytes(r.envelope)).toEqual(normalizeBytes(e));
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary bytes never throw and never pass as a valid envelope by accident', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const r = decode(bytes);
        // Whatever decodes must satisfy the schema of its type; nothing throws.
        if (r.ok) expect(validate(r.envelope).ok).toBe(true);
        else expect(r.error.code === 'INVALID_ARGUMENT' || r.error.code === 'RESOURCE_EXHAUSTED').toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('truncated and bit-flipped valid frames get a typed error or still validate', () => {
    fc.assert(
      fc.property(envelope, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), (e, cut, at, xor) => {
        const frame = encode(e);
        const truncated = frame.subarray(0, cut % Math.max(1, frame.length));
        const t = decode(truncated);
        if (!t.ok) expect(t.error.code).toBe('INVALID_ARGUMENT');
        const flipped = frame.slice();
        flipped[at % flipped.length]! ^= xor;
        const f = decode(flipped);
        if (f.ok) expect(validate(f.envelope).ok).toBe(true);
        else expect(typeof f.error.message).toBe('string');
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses frames over the limit before decoding them', () => {
    const big = encode({ f: 'a', to: 'b', id: 1, m: { t: 'BlockChunk', seq: 0, data: new Uint8Array(4096), last: true, cached: false } as Message });
    const r = decode(big, 1024);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('RESOURCE_EXHAUSTED');
  });

  it('names the field a malformed message gets wrong', () => {
    const r = validate({ f: 'c', to: 'm', id: 7, m: { t: 'GetStatus', path: 42 } });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.message).toBe('malformed GetStatus: GetStatus.path: expected string');
      expect(r.header).toEqual({ f: 'c', id: 7 });
    }
  });
});
