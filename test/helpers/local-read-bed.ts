// One process, so one host: a master and a worker in a listening host, and clients
// in another host reaching them over real WebSocket links, with a file written and
// its blocks cached at the worker. Short-circuit reads work here; `client-stream`
// has them turned off.
import type { StrataClient } from '../../actors/client/client.js';
import { Conf, K } from '../../actors/conf.js';
import { NodeHost, type HostedNode } from '../../actors/node/nact-host.js';
import { MASTER_ID, clientOptions, clientRole, masterOptions, masterRole, workerOptions, workerRole } from '../../actors/node/roles.js';
import { join } from 'node:path';

export interface LocalReadBed {
  server: NodeHost;
  clients: NodeHost;
  client(id: string): StrataClient;
}

/** Polls `ok` every 25 ms for up to 5 s. */
export async function until(what: string, ok: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; !(await ok()); i++) {
    if (i > 200) throw new Error(`${what} did not happen within 5 s`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Each node's configuration: loopback ports, 1 MB blocks of 256 KB chunks, then `base`, then `extra`. */
function bedConf(dir: string, secret: string, base: Record<string, string>, extra: Record<string, string> = {}): Conf {
  return new Conf([
    ['runtime', {
      [K.workDir]: dir, [K.clusterSecret]: secret, [K.logLevel]: 'error', [K.masterRpcPort]: '0', [K.workerRpcPort]: '0',
      [K.userBlockSize]: '1MB', [K.userChunkSize]: '256KB', [K.workerHeartbeatInterval]: '50ms', ...base, ...extra,
    }],
  ]);
}

/**
 * `others` are hosted beside `client-sc` and `client-stream` (`conf(extra)` gives
 * a node's configuration with `extra` on top); `/f` holds `data`, written by `writer`.
 */
export async function startLocalReadBed(
  dir: string,
  data: Uint8Array,
  opts: {
    secret: string;
    writer: string;
    conf?: Record<string, string>;
    others?: (user: { user: string; groups: string[] }, conf: (extra: Record<string, string>) => Conf) => HostedNode[];
  },
): Promise<LocalReadBed> {
  const conf = (extra: Record<string, string> = {}): Conf => bedConf(dir, opts.secret, opts.conf ?? {}, extra);
  const c = conf();
  const server = await NodeHost.start({
    conf: c, logSink: () => {}, listen: { host: '127.0.0.1', port: 0 },
    nodes: [
      { id: MASTER_ID, dataDir: join(dir, 'master'), create: masterRole(masterOptions(c, dir)) },
      { id: 'worker-0', dataDir: join(dir, 'worker-0'), create: (env, info) => workerRole(workerOptions(c, () => info.address ?? ''))(env) },
    ],
  });
  const user = { user: 'strata', groups: [] };
  const clients = await NodeHost.start({
    conf: c, logSink: () => {},
    nodes: [
      { id: 'client-sc', dataDir: join(dir, 'client-sc'), create: clientRole({ ...clientOptions(c, user), cache: undefined }) },
      { id: 'client-stream', dataDir: join(dir, 'client-stream'), create: clientRole({ ...clientOptions(conf({ [K.shortCircuit]: 'false' }), user), cache: undefined }) },
      ...(opts.others?.(user, conf) ?? []),
    ],
    peers: { [MASTER_ID]: server.address!, 'worker-0': server.address! },
  });
  await clients.connect(server.address!, 10_000);
  const client = (id: string): StrataClient => clients.actor(id) as StrataClient;
  await client(opts.writer).writeFile('/f', data, { writeType: 'CACHE_THROUGH' });
  // The master learns of the cached blocks from the worker's next heartbeat.
  await until('the cached blocks showing at the master', async () => (await client('client-sc').getStatus('/f')).blocks.every((b) => b.locations.length > 0));
  return { server, clients, client };
}
