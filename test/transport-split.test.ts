// Envelopes with a large byte field travel as a split frame (head, then the bytes).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, decodeParts, encode, encodeParts, LARGE_BYTES_MIN } from '../transport/codec.js';
import { WsNetwork } from '../transport/ws-network.js';
import type { Envelope } from '../actors/protocol/envelope.js';

describe('encodeParts / decodeParts', () => {
  it('decode(head ‖ tail) and decodeParts(head, tail) give the envelope back', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300_000 }),
        fc.nat(),
        fc.option(fc.nat(), { nil: undefined }),
        fc.boolean(),
        (len, seq, re, last) => {
          const data = new Uint8Array(len).map((_, i) => (i * 7 + seq) & 255);
          const env: Envelope = { f: 'worker-1', to: 'client-2', id: 0, ...(re !== undefined ? { re } : {}), m: { t: 'BlockChunk', seq, data, last, cached: true } as Envelope['m'] };
          const { head, tail } = encodeParts(env);
          expect(tail !== undefined).toBe(len >= LARGE_BYTES_MIN);
          const whole = tail ? Buffer.concat([head, tail]) : head;
          for (const r of [decode(whole), tail ? decodeParts(head, Buffer.from(tail)) : decode(head)]) {
            expect(r.ok).toBe(true);
            if (!r.ok) return;
            const m = r.envelope.m as unknown as { seq: number; data: Uint8Array; last: boolean };
            expect(r.envelope).toMatchObject({ f: 'worker-1', to: 'client-2', id: 0 });
            expect(r.envelope.re).toBe(re);
            expect([m.seq, m.last]).toEqual([seq, last]);
            expect(Buffer.compare(m.data, data)).toBe(0);
          }
          if (len < LARGE_BYTES_MIN) expect(Buffer.compare(head, encode(env))).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a tail of the wrong length or a head that is not an envelope is refused', () => {
    const data = new Uint8Array(LARGE_BYTES_MIN);
    const { head, tail } = encodeParts({ f: 'a', to: 'b', id: 5, m: { t: 'WriteChunk', stream: 1, seq: 0, data } as Envelope['m'] });
    expect(decodeParts(head, tail!.subarray(1))).toMatchObject({ ok: false });
    expect(decodeParts(head, tail!, 1000)).toMatchObject({ ok: false, error: { code: 'RESOURCE_EXHAUSTED' } });
    const bad = Buffer.from(head);
    bad[0] = 0x93;
    expect(decodeParts(bad, tail!).ok).toBe(false);
    // The tail is only bytes: any tail of the announced length completes the head.
    const { head: h2 } = encodeParts({ f: 'a', to: 'b', id: 6, m: { t: 'WriteChunk', stream: 1, seq: 0, data } as Envelope['m'] });
    expect(decodeParts(h2, new Uint8Array(LARGE_BYTES_MIN)).ok).toBe(true);
  });
});

describe('split frames on a link', () => {
  let server: WsNetwork;
  let client: WsNetwork;
  const got: Envelope[] = [];
  const replies: Envelope[] = [];

  beforeAll(async () => {
    server = new WsNetwork({ clusterId: 'c', clusterSecret: 'k', maxFrameBytes: 4 * 1024 * 1024 });
    server.addLocal('srv', (e) => {
      got.push(e);
      if (e.id > 0) server.send(e.f, { f: 'srv', to: e.f, id: 0, re: e.id, m: { t: 'Ok' } });
    });
    const addr = await server.listen('127.0.0.1', 0);
    client = new WsNetwork({ clusterId: 'c', clusterSecret: 'k' });
    client.addLocal('cli', (e) => replies.push(e));
    client.learnAddress('srv', addr);
    await client.connect(addr);
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  async function until(cond: () => boolean): Promise<void> {
    const end = Date.now() + 5000;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  it('carries 1 MiB chunks byte for byte, in order', async () => {
    const chunks = Array.from({ length: 20 }, (_, i) => new Uint8Array(1024 * 1024).map((_, j) => (i + j * 31) & 255));
    chunks.forEach((data, seq) => client.send('srv', { f: 'cli', to: 'srv', id: 0, m: { t: 'WriteChunk', stream: 9, seq, data } as Envelope['m'] }));
    await until(() => got.length === 20);
    got.forEach((e, i) => {
      const m = e.m as unknown as { seq: number; data: Uint8Array };
      expect(m.seq).toBe(i);
      expect(Buffer.compare(m.data, chunks[i]!)).toBe(0);
    });
    expect(server.stats().invalidFrames).toBe(0);
  });

  it('a split head without its tail, or a bogus one, is counted and the next frame still works', async () => {
    const before = server.stats().invalidFrames;
    const { head } = encodeParts({ f: 'cli', to: 'srv', id: 77, m: { t: 'WriteChunk', stream: 1, seq: 0, data: new Uint8Array(LARGE_BYTES_MIN) } as Envelope['m'] });
    client.sendFrame('srv', Buffer.concat([Buffer.of(0xc1), head]));
    client.sendFrame('srv', Buffer.of(0xc1, 1, 2));
    client.sendFrame('srv', Buffer.of(0xc1, 0, 0xc6, 0, 0, 0, 9));
    client.send('srv', { f: 'cli', to: 'srv', id: 78, m: { t: 'GetWorkers' } });
    await until(() => replies.some((e) => e.re === 78));
    expect(got.some((e) => e.id === 77)).toBe(false);
    expect(server.stats().invalidFrames - before).toBe(3);
  });
});
