// Mutual authentication of a link before any envelope crosses it. Both ends
// prove knowledge of the cluster secret with an HMAC over a transcript that binds
// both nonces, the cluster id, the protocol version and the node ids each side
// hosts, so a proof cannot be replayed on another link or reflected back. The
// secret itself never leaves the process.
//
// The two state machines here are pure apart from drawing nonces: they take a
// frame and say what to send and whether the link is up or refused. The socket
// driver (ws-network.ts) feeds them; that keeps the protocol testable without
// sockets and keeps every refusal path explicit.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Packr } from 'msgpackr';
import { PROTOCOL_VERSION } from '../actors/protocol/envelope.js';
import { arr, bytes, lit, obj, oneOf, strMax, uint, type Infer, type Schema } from './schema.js';

const NONCE_BYTES = 32;
const PROOF_BYTES = 32;
const MAX_NODES = 1024;

/** Close codes for refused links (4000–4999 are free for applications). */
export const CLOSE_CODES = {
  malformed: 4000,
  secret: 4001,
  version: 4002,
  cluster: 4003,
  timeout: 4008,
  /** Not a handshake failure: too many invalid frames on an authenticated link. */
  garbage: 4009,
} as const;

export type RefusalKind = 'malformed' | 'secret' | 'version' | 'cluster' | 'timeout';

const nodeList = arr(strMax(256), MAX_NODES);

const Hello = obj({ t: lit('Hello'), cluster: strMax(256), version: uint, nonce: bytes, nodes: nodeList });
const Auth = obj({ t: lit('Auth'), cluster: strMax(256), version: uint, nonce: bytes, nodes: nodeList, proof: bytes });
const Welcome = obj({ t: lit('Welcome'), proof: bytes });
const Refused = obj({ t: lit('Refused'), kind: oneOf('malformed', 'secret', 'version', 'cluster', 'timeout'), reason: strMax(1024) });

type Hello = Infer<typeof Hello>;
type Auth = Infer<typeof Auth>;

// Same plain-data rules as the envelope codec: nothing but maps, arrays, scalars and bytes.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

export interface HandshakeConfig {
  clusterId: string;
  clusterSecret: string;
  /** Node ids hosted by this end of the link. */
  nodes: readonly string[];
  /** Overridable only so tests can speak a wrong version. */
  version?: number;
}

/** What the other end proved about itself. */
export interface PeerInfo {
  nodes: string[];
}

export type HandshakeStep =
  | { kind: 'send'; frame: Uint8Array }
  /** The link is authenticated; `frame` (if any) must be sent before anything else. */
  | { kind: 'done'; peer: PeerInfo; frame?: Uint8Array }
  /** `frame` (if any) tells the peer why; then close with `closeCode`. */
  | { kind: 'refuse'; refusal: RefusalKind; reason: string; closeCode: number; frame?: Uint8Array }
  /** The peer refused us. */
  | { kind: 'refused'; refusal: RefusalKind; reason: string };

export class HandshakeRefusedError extends Error {
  constructor(
    readonly refusal: RefusalKind,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'HandshakeRefusedError';
  }
}

function parse<T>(schema: Schema<T>, frame: Uint8Array): T | string {
  let v: unknown;
  try {
    v = packr.unpack(frame);
  } catch (e) {
    return `undecodable handshake frame: ${(e as Error).message}`;
  }
  const err = schema.check(v, 'handshake');
  return err ?? (v as T);
}

function proof(secret: string, role: 'client' | 'server', cluster: string, version: number, hello: Hello, auth: { nonce: Uint8Array; nodes: readonly string[] }): Uint8Array {
  // Length-prefixed fields so no two transcripts concatenate to the same bytes.
  const h = createHmac('sha256', secret);
  const field = (b: Uint8Array | string): void => {
    const buf = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(buf.byteLength);
    h.update(len);
    h.update(buf);
  };
  field('strata-handshake-v1');
  field(role);
  field(cluster);
  field(String(version));
  field(hello.nonce);
  field(auth.nonce);
  field(hello.nodes.join('\n'));
  field(auth.nodes.join('\n'));
  return h.digest();
}

function sameProof(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

function refuse(refusal: RefusalKind, reason: string): Extract<HandshakeStep, { kind: 'refuse' }> {
  return { kind: 'refuse', refusal, reason, closeCode: CLOSE_CODES[refusal], frame: packr.pack({ t: 'Refused', kind: refusal, reason }) };
}

/** The accepting end: speaks first, judges the client's proof, then proves itself. */
export class ServerHandshake {
  private readonly hello: Hello;
  private finished = false;

  constructor(private readonly cfg: HandshakeConfig) {
    this.hello = { t: 'Hello', cluster: cfg.clusterId, version: cfg.version ?? PROTOCOL_VERSION, nonce: randomBytes(NONCE_BYTES), nodes: [...cfg.nodes] };
  }

  /** The first frame on the link. */
  start(): Uint8Array {
    return packr.pack(this.hello);
  }

  onFrame(frame: Uint8Array): HandshakeStep {
    if (this.finished) return refuse('malformed', 'unexpected handshake frame');
    this.finished = true;
    const auth = parse(Auth, frame);
    if (typeof auth === 'string') {
      // A client that refuses us answers Refused instead of Auth; report its reason.
      const r = parse(Refused, frame);
      if (typeof r !== 'string') return { kind: 'refused', refusal: r.kind, reason: r.reason };
      return refuse('malformed', `malformed handshake: ${auth}`);
    }
    if (auth.nonce.byteLength !== NONCE_BYTES) return refuse('malformed', `malformed handshake: nonce must be ${NONCE_BYTES} bytes`);
    if (auth.version !== this.hello.version) {
      return refuse('version', `protocol version mismatch: server speaks ${this.hello.version}, client speaks ${auth.version}`);
    }
    if (auth.cluster !== this.cfg.clusterId) {
      return refuse('cluster', `wrong cluster id: server is in ${JSON.stringify(this.cfg.clusterId)}, client in ${JSON.stringify(auth.cluster)}`);
    }
    const expected = proof(this.cfg.clusterSecret, 'client', this.cfg.clusterId, this.hello.version, this.hello, auth);
    if (!sameProof(expected, auth.proof)) return refuse('secret', 'wrong cluster secret');
    const mine = proof(this.cfg.clusterSecret, 'server', this.cfg.clusterId, this.hello.version, this.hello, auth);
    return { kind: 'done', peer: { nodes: auth.nodes }, frame: packr.pack({ t: 'Welcome', proof: mine }) };
  }
}

/** The dialing end: answers the Hello with its proof, then checks the server's. */
export class ClientHandshake {
  private hello: Hello | undefined;
  private auth: Auth | undefined;
  private finished = false;

  constructor(private readonly cfg: HandshakeConfig) {}

  onFrame(frame: Uint8Array): HandshakeStep {
    if (this.finished) return refuse('malformed', 'unexpected handshake frame');
    if (!this.hello) {
      const hello = parse(Hello, frame);
      if (typeof hello === 'string') {
        this.finished = true;
        return refuse('malformed', `malformed server hello: ${hello}`);
      }
      if (hello.nonce.byteLength !== NONCE_BYTES) {
        this.finished = true;
        return refuse('malformed', `malformed server hello: nonce must be ${NONCE_BYTES} bytes`);
      }
      this.hello = hello;
      const version = this.cfg.version ?? PROTOCOL_VERSION;
      // Always answer, even on a mismatch we can see: the server judges and both
      // sides then report the same reason.
      const partial = { nonce: randomBytes(NONCE_BYTES) as Uint8Array, nodes: [...this.cfg.nodes] };
      const p = proof(this.cfg.clusterSecret, 'client', this.cfg.clusterId, version, hello, partial);
      this.auth = { t: 'Auth', cluster: this.cfg.clusterId, version, nonce: partial.nonce, nodes: partial.nodes, proof: p };
      return { kind: 'send', frame: packr.pack(this.auth) };
    }
    this.finished = true;
    const refused = parse(Refused, frame);
    if (typeof refused !== 'string') return { kind: 'refused', refusal: refused.kind, reason: refused.reason };
    const welcome = parse(Welcome, frame);
    if (typeof welcome === 'string') return { ...refuse('malformed', `malformed server welcome: ${welcome}`), frame: undefined };
    const auth = this.auth!;
    const expected = proof(this.cfg.clusterSecret, 'server', this.cfg.clusterId, auth.version, this.hello, auth);
    if (welcome.proof.byteLength !== PROOF_BYTES || !sameProof(expected, welcome.proof)) {
      // The server already considers the link up, so it learns of this from the close code.
      return { ...refuse('secret', 'wrong cluster secret (the server could not prove it)'), frame: undefined };
    }
    return { kind: 'done', peer: { nodes: this.hello.nodes } };
  }
}
