// Which actors a process hosts, and their options read from the property registry.
import { ConfError, K, type Conf } from '../conf.js';
import { readTieredStoreLayout, type TieredStoreLayout } from '../../storage/tiered-conf.js';
import type { Actor, Env } from '../env.js';
import { StrataClient, type ClientOptions, type ReadType, type WriteType } from '../client/client.js';
import type { LocationPolicy } from '../client/location-policy.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../master/master.js';
import { WorkerActor, type WorkerOptions } from '../worker/worker.js';

export { MASTER_ID };

/** A plain directory path becomes a file:// URI; URIs pass through. */
export function ufsUri(pathOrUri: string, cwd: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pathOrUri)) return pathOrUri;
  const abs = pathOrUri.startsWith('/') ? pathOrUri : `${cwd.replace(/\/$/, '')}/${pathOrUri.replace(/^\.\//, '')}`;
  return `file://${abs}`;
}

/** The masters a node talks to: their node ids and ws:// addresses, in order. */
export interface MasterGroup {
  readonly embedded: boolean;
  readonly ids: readonly string[];
  readonly addresses: readonly string[];
}

export function masterGroup(conf: Conf): MasterGroup {
  if (conf.str(K.masterJournalType) !== 'EMBEDDED') {
    return { embedded: false, ids: [MASTER_ID], addresses: [`ws://${conf.str(K.masterHostname)}:${conf.int(K.masterRpcPort)}`] };
  }
  const list = conf.str(K.masterAddresses).split(',').map((a) => a.trim()).filter(Boolean);
  if (list.length === 0) throw new ConfError(`${K.masterJournalType} is EMBEDDED but ${K.masterAddresses} lists no masters`);
  for (const a of list) if (!/^[^\s:/]+:\d+$/.test(a)) throw new ConfError(`${K.masterAddresses}: ${JSON.stringify(a)} is not host:port`);
  return { embedded: true, ids: list.map((_, i) => `master-${i}`), addresses: list.map((a) => `ws://${a}`) };
}

/** This master's node id: 'master' alone, or master-i where i is its place in the group's address list. */
export function masterIdOf(conf: Conf, group: MasterGroup = masterGroup(conf)): string {
  if (!group.embedded) return MASTER_ID;
  const self = `ws://${conf.str(K.masterHostname)}:${conf.int(K.masterRpcPort)}`;
  const i = group.addresses.indexOf(self);
  if (i < 0) throw new ConfError(`this master (${self.slice(5)}) is not in ${K.masterAddresses} (${group.addresses.map((a) => a.slice(5)).join(', ')})`);
  return group.ids[i]!;
}

/** The umask property is octal text (022); anything else is refused by name. */
function umask(conf: Conf): number {
  const raw = conf.str(K.permissionUmask).trim();
  if (!/^[0-7]{1,4}$/.test(raw)) throw new ConfError(`${K.permissionUmask}: not an octal umask: ${JSON.stringify(raw)}`);
  return Number.parseInt(raw, 8) & 0o777;
}

function ratio(conf: Conf, key: string): number {
  const raw = conf.str(key).trim();
  const v = Number(raw);
  if (raw === '' || !Number.isFinite(v) || v <= 0 || v > 1) throw new ConfError(`${key}: not a ratio in (0, 1]: ${JSON.stringify(raw)}`);
  return v;
}

/** strata.master.metastore and, for ROCKS, its inode cache. */
export function metastoreOptions(conf: Conf): Pick<MasterOptions, 'metastore'> {
  if (conf.str(K.masterMetastore) !== 'ROCKS') return {};
  const cacheMaxSize = conf.int(K.metastoreCacheMax);
  if (cacheMaxSize < 1) throw new ConfError(`${K.metastoreCacheMax}: must be at least 1, not ${cacheMaxSize}`);
  const highWaterMark = ratio(conf, K.metastoreCacheHigh);
  const lowWaterMark = ratio(conf, K.metastoreCacheLow);
  if (lowWaterMark > highWaterMark) throw new ConfError(`${K.metastoreCacheLow} (${lowWaterMark}) is above ${K.metastoreCacheHigh} (${highWaterMark})`);
  return { metastore: { type: 'ROCKS', cacheMaxSize, highWaterMark, lowWaterMark } };
}

/** `superuser`: the user the master process runs as (Alluxio's rule). */
export function masterOptions(conf: Conf, cwd: string, superuser = 'strata'): MasterOptions {
  const group = masterGroup(conf);
  return {
    permissions: { enabled: conf.bool(K.permissionEnabled), superuser, supergroup: conf.str(K.permissionSupergroup), umask: umask(conf) },
    rootUfs: ufsUri(conf.str(K.rootUfs), cwd),
    blockSize: conf.bytes(K.userBlockSize),
    workerTimeoutMs: conf.ms(K.workerTimeout),
    ttlCheckIntervalMs: conf.ms(K.ttlCheckInterval),
    ufsTempMaxAgeMs: conf.ms(K.ufsTempMaxAge),
    persistCheckIntervalMs: conf.ms(K.persistCheckInterval),
    jobs: {
      jobCapacity: conf.int(K.jobCapacity), taskTimeoutMs: conf.ms(K.jobTaskTimeout), maxAttempts: conf.int(K.jobTaskMaxAttempts), workerSlots: conf.int(K.jobWorkerThreads),
      replicationCheckMs: conf.ms(K.replicationCheckInterval),
      persistence: {
        schedulerMs: conf.ms(K.persistCheckInterval), initialWaitMs: conf.ms(K.persistInitialWait), initialIntervalMs: conf.ms(K.persistInitialInterval),
        maxIntervalMs: conf.ms(K.persistMaxInterval), maxTotalWaitMs: conf.ms(K.persistMaxTotalWait),
      },
    },
    rpcTimeoutMs: conf.ms(K.rpcTimeout),
    journalDir: 'journal',
    ...metastoreOptions(conf),
    ...(group.embedded
      ? {
          journal: {
            type: 'EMBEDDED' as const,
            voters: group.ids,
            electionTimeoutMinMs: conf.ms(K.electionTimeoutMin),
            electionTimeoutMaxMs: conf.ms(K.electionTimeoutMax),
            heartbeatIntervalMs: conf.ms(K.raftHeartbeat),
            leaseReads: conf.bool(K.raftLeaseReads),
            checkpointEntries: conf.int(K.checkpointEntries),
          },
        }
      : {}),
  };
}

/** The worker's tiers from the strata.worker.tieredstore.* keys; a bad value fails naming its key. */
export function tierLayout(conf: Conf): TieredStoreLayout {
  try {
    return readTieredStoreLayout((k) => conf.raw(k));
  } catch (e) {
    throw new ConfError(e instanceof Error ? e.message : String(e));
  }
}

export function workerOptions(conf: Conf, address: WorkerOptions['address']): WorkerOptions {
  const group = masterGroup(conf);
  return {
    masterId: group.ids[0]!,
    masterIds: group.ids,
    address,
    tiers: tierLayout(conf),
    verifyReads: conf.bool(K.workerVerifyReads),
    heartbeatIntervalMs: conf.ms(K.workerHeartbeatInterval),
    rpcTimeoutMs: conf.ms(K.rpcTimeout),
    chunkSize: conf.bytes(K.userChunkSize),
  };
}

export function clientOptions(conf: Conf, identity?: { user: string; groups: readonly string[] }): ClientOptions {
  return {
    ...(identity ? { user: identity.user, groups: identity.groups } : {}),
    syncIntervalMs: conf.ms(K.metadataSyncInterval),
    metadataLoadType: conf.str(K.metadataLoadType) as NonNullable<ClientOptions['metadataLoadType']>,
    durableReplication: conf.int(K.durableReplication),
    ...(conf.int(K.userReplicationMin) > 0 || conf.int(K.userReplicationMax) >= 0 ? { replication: { min: conf.int(K.userReplicationMin), max: conf.int(K.userReplicationMax) } } : {}),
    locationPolicy: conf.str(K.writeLocationPolicy) as LocationPolicy,
    ...(conf.str(K.writeSpecificHost) ? { specificHost: conf.str(K.writeSpecificHost) } : {}),
    masterId: masterGroup(conf).ids[0]!,
    masterIds: masterGroup(conf).ids,
    rpcTimeoutMs: conf.ms(K.rpcTimeout),
    chunkSize: conf.bytes(K.userChunkSize),
    readWindow: conf.int(K.workerReadWindow),
    blockSize: conf.bytes(K.userBlockSize),
    writeType: conf.str(K.userWriteType) as WriteType,
    readType: conf.str(K.userReadType) as ReadType,
    shortCircuit: conf.bool(K.shortCircuit),
    passiveCache: conf.bool(K.passiveCache),
    metricsHeartbeatMs: conf.bool(K.userMetricsCollection) ? conf.ms(K.userMetricsHeartbeat) : undefined,
    cache: conf.bool(K.clientCacheEnabled)
      ? { maxBytes: conf.bytes(K.clientCacheSize), pageBytes: conf.bytes(K.clientCachePageSize), prefetchPages: conf.int(K.clientCachePrefetch) }
      : undefined,
  };
}

export type RoleFactory = (env: Env) => Actor;

export function masterRole(opts: MasterOptions): RoleFactory {
  return (env) => new MasterActor(env, opts);
}

export function workerRole(opts: WorkerOptions): RoleFactory {
  return (env) => new WorkerActor(env, opts);
}

export function clientRole(opts: ClientOptions): RoleFactory {
  return (env) => new StrataClient(env, opts);
}
