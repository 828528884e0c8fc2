// Starting cluster processes: `strata local`, `strata master`, `strata worker`,
// and the client host that `strata fs` commands run in.
import { mkdirSync, readFileSync } from 'node:fs';
import { unpackRecord } from '../transport/codec.js';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { resolve, join } from 'node:path';
import { hostname, tmpdir, userInfo } from 'node:os';
import { execFileSync } from 'node:child_process';
import { K, type Conf } from '../actors/conf.js';
import type { LogLevel } from '../actors/env.js';
import { StrataClient } from '../actors/client/client.js';
import { NodeHost } from '../actors/node/nact-host.js';
import { clientOptions, clientRole, masterGroup, masterIdOf, masterOptions, masterRole, ufsUri, workerOptions, workerRole } from '../actors/node/roles.js';
import { StrataError } from '../actors/protocol/envelope.js';
import { OpsClient } from '../actors/node/ops-client.js';

/** SIMPLE authentication: the configured user, else the operating-system user, with its groups. */
export function loginIdentity(conf: Conf): { user: string; groups: string[] } {
  const user = conf.str(K.loginUsername).trim() || userInfo().username;
  const configured = conf.str(K.loginGroups).split(',').map((g) => g.trim()).filter(Boolean);
  if (configured.length > 0) return { user, groups: configured };
  try {
    const groups = execFileSync('id', ['-Gn', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split(/\s+/).filter(Boolean);
    if (groups.length > 0) return { user, groups };
  } catch {
    // No such local user (or no `id`): the user's name doubles as its group.
  }
  return { user, groups: [user] };
}

export function masterAddress(conf: Conf): string {
  return `ws://${conf.str(K.masterHostname)}:${conf.int(K.masterRpcPort)}`;
}

/** Every master's node id → ws:// address: what workers and clients dial. */
export function masterPeers(conf: Conf): Record<string, string> {
  const g = masterGroup(conf);
  return Object.fromEntries(g.ids.map((id, i) => [id, g.addresses[i]!]));
}

/** Reads a file written by `fsadmin backup`; a damaged or foreign file is refused with its name. */
export function readBackup(file: string): Uint8Array {
  let v: unknown;
  try {
    v = unpackRecord(readFileSync(file));
  } catch (e) {
    throw new StrataError('INVALID_ARGUMENT', `${file} is not a strata backup: ${(e as Error).message}`);
  }
  const b = v as { v?: unknown; kind?: unknown; namespace?: unknown };
  if (b?.kind !== 'strata-backup' || b.v !== 1 || !(b.namespace instanceof Uint8Array)) throw new StrataError('INVALID_ARGUMENT', `${file} is not a strata backup (version 1)`);
  return b.namespace;
}

export async function startMaster(conf: Conf, restoreFrom?: string): Promise<NodeHost> {
  const workDir = resolve(conf.str(K.workDir));
  const opts = { ...masterOptions(conf, process.cwd(), userInfo().username), ...(restoreFrom ? { restore: readBackup(restoreFrom) } : {}) };
  const id = masterIdOf(conf);
  if (opts.rootUfs.startsWith('file://')) mkdirSync(opts.rootUfs.slice('file://'.length), { recursive: true });
  const others = Object.fromEntries(Object.entries(masterPeers(conf)).filter(([peer]) => peer !== id));
  return NodeHost.start({
    conf,
    listen: { host: conf.str(K.masterHostname), port: conf.int(K.masterRpcPort) },
    superuser: userInfo().username,
    ...webListen(conf.str(K.masterHostname), conf.int(K.masterWebPort)),
    nodes: [{ id, dataDir: join(workDir, id), create: masterRole(opts) }],
    logLevel: conf.str(K.logLevel) as LogLevel,
    peers: others,
  });
}

/** The web port option of a host; -1 turns it off. */
function webListen(host: string, port: number): { web?: { host: string; port: number } } {
  return port < 0 ? {} : { web: { host, port } };
}

export async function startWorker(conf: Conf, id: string, port: number, webPort = conf.int(K.workerWebPort)): Promise<NodeHost> {
  const workDir = resolve(conf.str(K.workDir));
  let host: NodeHost | undefined;
  const address = () => host?.address ?? `ws://${conf.str(K.workerHostname)}:${port}`;
  host = await NodeHost.start({
    conf,
    listen: { host: conf.str(K.workerHostname), port },
    superuser: userInfo().username,
    ...webListen(conf.str(K.workerHostname), webPort),
    nodes: [{ id, dataDir: join(workDir, id), create: workerRole(workerOptions(conf, address)) }],
    logLevel: conf.str(K.logLevel) as LogLevel,
    peers: masterPeers(conf),
  });
  return host;
}

/** Fails fast with one clear line when nothing listens at the master's address. */
export async function checkReachable(address: string, timeoutMs = 3000): Promise<void> {
  const u = new URL(address);
  await new Promise<void>((ok, fail) => {
    const sock = connect({ host: u.hostname, port: Number(u.port) });
    const timer = setTimeout(() => {
      sock.destroy();
      fail(new StrataError('UNAVAILABLE', `cannot reach the master at ${address}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.end();
      ok();
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      fail(new StrataError('UNAVAILABLE', `cannot reach the master at ${address}: ${e.code === 'ECONNREFUSED' ? 'connection refused (is it running? `strata local` starts one)' : e.message}`));
    });
  });
}

export interface ClientSession {
  client: StrataClient;
  /** Operations requests (conf, log levels, metrics, UFS modes) to masters and workers by id. */
  ops: OpsClient;
  /** Tells the session where a worker listens, so `ops` can reach it. */
  learnAddress(node: string, address: string): void;
  close(): Promise<void>;
}

/** The longest a shell command waits, as it exits, for the master to take its client's metrics. */
const METRICS_FLUSH_MAX_MS = 2000;

export async function openClient(conf: Conf): Promise<ClientSession> {
  const peers = masterPeers(conf);
  // Any reachable master will do: a standby points the client at the leader.
  let address: string | undefined;
  const failures: string[] = [];
  for (const a of Object.values(peers)) {
    try {
      await checkReachable(a);
      address = a;
      break;
    } catch (e) {
      failures.push((e as Error).message);
    }
  }
  if (address === undefined) throw new StrataError('UNAVAILABLE', failures.length === 1 ? failures[0]! : `no master is reachable: ${failures.join('; ')}`);
  const suffix = randomBytes(4).toString('hex');
  const id = `client-${suffix}`;
  const opsId = `ops-${suffix}`;
  const host = await NodeHost.start({
    conf,
    nodes: [
      { id, dataDir: join(tmpdir(), 'strata-client'), create: clientRole({ ...clientOptions(conf, loginIdentity(conf)), localHosts: [hostname(), '127.0.0.1', 'localhost', '::1'] }) },
      { id: opsId, dataDir: join(tmpdir(), 'strata-client'), create: (env) => new OpsClient(env, conf.ms(K.rpcTimeout), loginIdentity(conf)) },
    ],
    // A shell command's own output is its result; link chatter would only clutter it.
    logLevel: conf.source(K.logLevel) === 'default' ? 'warn' : (conf.str(K.logLevel) as LogLevel),
    peers,
  });
  try {
    // Surfaces a refused handshake (wrong secret, version or cluster id) as one clear error.
    await host.connect(address);
  } catch (e) {
    await host.shutdown();
    throw e;
  }
  const client = host.actor(id) as StrataClient;
  const close = async (): Promise<void> => {
    // A command ends long before the client's first metrics heartbeat: report what it read while the host still
    // delivers the master's answer. Bounded, so an unreachable master does not hold up the command's exit.
    await client.flushMetrics(Math.min(conf.ms(K.rpcTimeout), METRICS_FLUSH_MAX_MS));
    await host.shutdown();
  };
  return { client, ops: host.actor(opsId) as OpsClient, learnAddress: (node, a) => host.learnAddress(node, a), close };
}

/** Runs `fn` with a client connected to the cluster, and always disconnects. */
export async function withClient<T>(conf: Conf, fn: (c: StrataClient) => Promise<T>): Promise<T> {
  return withSession(conf, (s) => fn(s.client));
}

/** Like withClient, with the whole session (the operations client too). */
export async function withSession<T>(conf: Conf, fn: (s: ClientSession) => Promise<T>): Promise<T> {
  const s = await openClient(conf);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

export { ufsUri };
