// The one registry of property keys. Every component reads its settings through
// a Conf built from it; names mirror Alluxio's with the prefix `strata.`.
// Sources, lowest to highest precedence: defaults, conf/strata-site.properties,
// the environment (STRATA_MASTER_HOSTNAME for strata.master.hostname), --conf k=v.

export type PropType = 'string' | 'int' | 'bytes' | 'duration' | 'boolean' | 'enum' | 'list';
export type Scope = 'master' | 'worker' | 'client' | 'all';

export interface PropertyKey {
  readonly name: string;
  readonly type: PropType;
  readonly defaultValue: string;
  readonly scope: Scope;
  readonly description: string;
  readonly values?: readonly string[];
}

const keys: PropertyKey[] = [];
function key(name: string, type: PropType, defaultValue: string, scope: Scope, description: string, values?: readonly string[]): string {
  keys.push({ name, type, defaultValue, scope, description, ...(values ? { values } : {}) });
  return name;
}

const TIER_ALIASES = ['MEM', 'SSD', 'HDD'] as const;
const TIER_DEFAULTS = {
  MEM: { path: 'tiers/mem', quota: '${strata.worker.ramdisk.size}' },
  SSD: { path: 'tiers/ssd', quota: '10GB' },
  HDD: { path: 'tiers/hdd', quota: '100GB' },
};

/** The registry has no `level{N}` templates, so each level's keys are spelled out. */
function tierLevelKeys(n: 0 | 1 | 2) {
  const alias = TIER_ALIASES[n];
  const p = `strata.worker.tieredstore.level${n}`;
  const d = TIER_DEFAULTS[alias];
  return {
    [`workerLevel${n}Alias`]: key(`${p}.alias`, 'enum', alias, 'worker', `Alias of tier ${n} (0 is the top).`, TIER_ALIASES),
    [`workerLevel${n}Paths`]: key(`${p}.dirs.path`, 'list', d.path, 'worker', `Comma-separated directories of tier ${n}; a relative path is under the worker's own directory (\${strata.work.dir}/<worker id>)${n === 0 ? ', an absolute one may be a tmpfs such as /dev/shm/strata' : ''}.`),
    [`workerLevel${n}Quota`]: key(`${p}.dirs.quota`, 'list', d.quota, 'worker', `Comma-separated quotas of tier ${n}'s directories, in order; the last applies to any further directories.`),
    [`workerLevel${n}Medium`]: key(`${p}.dirs.mediumtype`, 'list', alias, 'worker', `Comma-separated medium types of tier ${n}'s directories; the last applies to any further directories.`),
  } as Record<`workerLevel${typeof n}${'Alias' | 'Paths' | 'Quota' | 'Medium'}`, string>;
}

export const K = {
  clusterId: key('strata.cluster.id', 'string', 'strata', 'all', 'Name of the cluster; peers with another id are refused at the handshake.'),
  clusterSecret: key('strata.security.cluster.secret', 'string', 'strata-dev-secret', 'all', 'Shared secret proven by HMAC challenge in the transport handshake; never sent on the wire.'),
  maxFrameBytes: key('strata.network.max.frame.size', 'bytes', '17MB', 'all', 'Largest inbound frame accepted; larger frames get RESOURCE_EXHAUSTED and the link is closed.'),
  rpcTimeout: key('strata.user.rpc.timeout', 'duration', '30s', 'all', 'Deadline for one request before it fails with DEADLINE_EXCEEDED.'),
  workDir: key('strata.work.dir', 'string', './strata-data', 'all', 'Base directory for journals, worker storage and the default UFS.'),
  masterHostname: key('strata.master.hostname', 'string', '127.0.0.1', 'all', 'Host the master binds to and clients connect to.'),
  masterRpcPort: key('strata.master.rpc.port', 'int', '19998', 'all', 'Master RPC port.'),
  masterWebPort: key('strata.master.web.port', 'int', '19999', 'master', 'Master web port: Prometheus metrics at /metrics (0 picks a free port, -1 turns it off).'),
  masterJournalType: key('strata.master.journal.type', 'enum', 'UFS', 'all', 'UFS: a single master with a local write-ahead journal. EMBEDDED: the masters listed in strata.master.embedded.journal.addresses form a Raft group.', ['UFS', 'EMBEDDED']),
  masterAddresses: key('strata.master.embedded.journal.addresses', 'list', '', 'all', 'host:port (RPC) of every master of an EMBEDDED group, in order; master i is master-i. A master finds itself by strata.master.hostname and strata.master.rpc.port.'),
  electionTimeoutMin: key('strata.master.embedded.journal.election.timeout.min', 'duration', '1s', 'master', 'Shortest wait without a leader before a standby campaigns (the actual wait is drawn up to twice this).'),
  electionTimeoutMax: key('strata.master.embedded.journal.election.timeout.max', 'duration', '2s', 'master', 'Longest wait without a leader before a standby campaigns.'),
  raftHeartbeat: key('strata.master.embedded.journal.heartbeat.interval', 'duration', '200ms', 'master', 'How often the leader heartbeats the standbys.'),
  raftLeaseReads: key('strata.master.embedded.journal.read.lease.enabled', 'boolean', 'false', 'master', 'Serve reads on the leader without a ReadIndex round (a heartbeat to a quorum), trusting its lease. Off by default: a leader that lost its quorum notices only at its next quorum check, up to two election timeouts later, while the others may elect a new leader after one, so a lease read can miss a newer write (and clocks that run at different rates widen that window).'),
  checkpointEntries: key('strata.master.journal.checkpoint.period.entries', 'int', '100000', 'master', 'Entries between checkpoints: the namespace is snapshotted and the journal compacted.'),
  rootUfs: key('strata.master.mount.table.root.ufs', 'string', '${strata.work.dir}/ufs', 'master', 'The UFS mounted at / (a local directory path or file:// URI).'),
  persistCheckInterval: key('strata.master.persistence.checker.interval', 'duration', '1s', 'master', 'How often the leading master hands ASYNC_THROUGH files to workers to persist.'),
  persistInitialInterval: key('strata.master.persistence.initial.interval', 'duration', '1s', 'master', 'How long after a failed persist job of an ASYNC_THROUGH file the next one starts; doubles with each failure.'),
  persistMaxInterval: key('strata.master.persistence.max.interval', 'duration', '1h', 'master', 'The longest wait between persist jobs of one file.'),
  persistMaxTotalWait: key('strata.master.persistence.max.total.wait.time', 'duration', '24h', 'master', 'After failing this long, persisting a file is given up (logged; the file stays in the cache, unpersisted).'),
  persistInitialWait: key('strata.user.file.persistence.initial.wait.time', 'duration', '0', 'master', 'How long an ASYNC_THROUGH file waits after it is completed before its persist job starts (applied by the leading master in this build).'),
  replicationCheckInterval: key('strata.master.replication.check.interval', 'duration', '1min', 'master', 'How often the leading master compares files with their replication targets (fs setReplication) and starts replicate or evict jobs.'),
  jobCapacity: key('strata.job.master.job.capacity', 'int', '100000', 'master', 'Finished jobs kept for `strata job ls` and `job stat`; the oldest are forgotten first.'),
  jobTaskTimeout: key('strata.job.master.task.timeout', 'duration', '10min', 'master', 'A task a job worker has not answered in this long is given to another worker.'),
  jobTaskMaxAttempts: key('strata.job.master.task.max.attempts', 'int', '5', 'master', 'Tries of one task (a lost worker counts) before it, and so its job, fails.'),
  jobWorkerThreads: key('strata.job.worker.threadpool.size', 'int', '10', 'master', 'Tasks one job worker is given at once.'),
  userReplicationMin: key('strata.user.file.replication.min', 'int', '0', 'client', 'Copies the replication checker keeps of every file this client writes (0: no minimum).'),
  userReplicationMax: key('strata.user.file.replication.max', 'int', '-1', 'client', 'Most copies kept of every file this client writes (-1: no limit); extra copies are evicted.'),
  ufsTempMaxAge: key('strata.master.ufs.temp.file.max.age', 'duration', '1h', 'master', 'A temporary file strata left in the UFS (a write not yet published, a persist attempt) older than this, that no open write or pending persist owns, is removed when the leading master lists its directory (left behind by crashes).'),
  ttlCheckInterval: key('strata.master.ttl.checker.interval', 'duration', '1min', 'master', 'How often the leading master deletes or frees what outlived its TTL.'),
  masterMetastore: key('strata.master.metastore', 'enum', 'HEAP', 'master', 'Where the master keeps inodes: HEAP (all in memory) or ROCKS (in classic-level under the master\'s data directory, with a bounded inode cache). Either way it is rebuilt from the journal on start.', ['HEAP', 'ROCKS']),
  metastoreCacheMax: key('strata.master.metastore.inode.cache.max.size', 'int', '10000000', 'master', 'ROCKS: inodes kept in memory at most; changes not yet written count against it too (see the high water mark).'),
  metastoreCacheHigh: key('strata.master.metastore.inode.cache.high.water.mark.ratio', 'string', '0.85', 'master', 'ROCKS: when the inode cache passes this fraction of its maximum, clean inodes are evicted (and changed ones encoded so they can be)... When changes not yet written pass it, writers wait...'),
  metastoreCacheLow: key('strata.master.metastore.inode.cache.low.water.mark.ratio', 'string', '0.8', 'master', '...down to this fraction (CLOCK order: inodes not used since the last sweep go first); ...until the write-back brings them under it.'),
  workerTimeout: key('strata.master.worker.timeout', 'duration', '10s', 'master', 'A worker silent this long is marked lost and its block locations dropped.'),
  workerHostname: key('strata.worker.hostname', 'string', '127.0.0.1', 'worker', 'Host the worker binds to.'),
  workerRpcPort: key('strata.worker.rpc.port', 'int', '29999', 'worker', 'Worker RPC port (0 picks a free port).'),
  workerWebPort: key('strata.worker.web.port', 'int', '30000', 'worker', 'Worker web port: Prometheus metrics at /metrics (0 picks a free port, -1 turns it off).'),
  workerHeartbeatInterval: key('strata.worker.block.heartbeat.interval', 'duration', '1s', 'worker', 'How often a worker heartbeats to the master with block changes.'),
  workerMemSize: key('strata.worker.ramdisk.size', 'bytes', '1GB', 'worker', 'Quota of the MEM tier.'),
  workerTierLevels: key('strata.worker.tieredstore.levels', 'int', '1', 'worker', 'Number of storage tiers on a worker (1 to 3).'),
  ...tierLevelKeys(0),
  ...tierLevelKeys(1),
  ...tierLevelKeys(2),
  workerAllocator: key('strata.worker.allocator.class', 'enum', 'MaxFree', 'worker', 'Chooses the directory of a tier for a new block: MaxFree (most free space), RoundRobin, or Greedy (first with room).', ['MaxFree', 'RoundRobin', 'Greedy']),
  workerAnnotator: key('strata.worker.block.annotator.class', 'enum', 'LRU', 'worker', 'Eviction order: LRU (least recently used) or LRFU (least recently/frequently used).', ['LRU', 'LRFU']),
  workerLrfuStep: key('strata.worker.block.annotator.lrfu.step.factor', 'string', '0.25', 'worker', 'LRFU step factor in [0, 1]: smaller is closer to LFU, larger closer to LRU.'),
  workerLrfuAttenuation: key('strata.worker.block.annotator.lrfu.attenuation.factor', 'string', '2', 'worker', 'LRFU attenuation factor, at least 2: how fast the weight of old accesses decays.'),
  workerVerifyReads: key('strata.worker.block.verify.reads', 'boolean', 'false', 'worker', 'Checksum every block read from the tiers, catching corruption that appears after a block was stored; recovery after a restart always verifies every block.'),
  workerReadWindow: key('strata.worker.network.flowcontrol.window', 'int', '8', 'all', 'Chunks a reader lets a worker send ahead (credit-based flow control).'),
  userBlockSize: key('strata.user.block.size.bytes.default', 'bytes', '64MB', 'client', 'Block size of new files.'),
  userChunkSize: key('strata.user.streaming.reader.chunk.size.bytes', 'bytes', '1MB', 'client', 'Size of one streamed data chunk.'),
  writeLocationPolicy: key('strata.user.block.write.location.policy.class', 'enum', 'LocalFirst', 'client', 'Which worker a new file is written to: LocalFirst (a worker on this host), RoundRobin, MostAvailableFirst, DeterministicHash (by path), SpecificHost.', ['LocalFirst', 'RoundRobin', 'MostAvailableFirst', 'DeterministicHash', 'SpecificHost']),
  writeSpecificHost: key('strata.user.block.write.location.policy.specific.host', 'string', '', 'client', 'The worker host the SpecificHost policy writes to.'),
  durableReplication: key('strata.user.file.replication.durable', 'int', '1', 'client', 'Workers that must hold every block of a cached write (MUST_CACHE, CACHE_THROUGH, ASYNC_THROUGH) before it is acknowledged.'),
  userWriteType: key('strata.user.file.writetype.default', 'enum', 'CACHE_THROUGH', 'client', 'Write type: MUST_CACHE (workers only), CACHE_THROUGH (cache and UFS), THROUGH (UFS only) or ASYNC_THROUGH (cache now, UFS soon after through the leading master).', ['MUST_CACHE', 'CACHE_THROUGH', 'THROUGH', 'ASYNC_THROUGH']),
  userReadType: key('strata.user.file.readtype.default', 'enum', 'CACHE', 'client', 'Read type: CACHE (cache what is read), CACHE_PROMOTE (also move it to the top tier) or NO_CACHE.', ['CACHE', 'CACHE_PROMOTE', 'NO_CACHE']),
  shortCircuit: key('strata.user.short.circuit.enabled', 'boolean', 'true', 'client', 'Read blocks cached by a worker on this host straight from its block files, falling back to streaming when that cannot be done.'),
  passiveCache: key('strata.user.file.passive.cache.enabled', 'boolean', 'true', 'client', 'When a block is read from a worker on another host, have a worker on this host fetch a copy from a worker holding it, so the next read here is local.'),
  clientCacheEnabled: key('strata.user.client.cache.enabled', 'boolean', 'true', 'client', 'Keep pages of files read through a file handle (openFile) in client memory, and prefetch ahead of sequential reads.'),
  clientCacheSize: key('strata.user.client.cache.size', 'bytes', '64MB', 'client', 'Memory the client cache may use; least recently used pages leave first.'),
  clientCachePageSize: key('strata.user.client.cache.page.size', 'bytes', '1MB', 'client', 'Unit the client cache stores and fetches.'),
  clientCachePrefetch: key('strata.user.client.cache.prefetch.pages', 'int', '4', 'client', 'Pages fetched ahead of a sequential reader while it consumes the current ones (0: no prefetch).'),
  userMetricsCollection: key('strata.user.metrics.collection.enabled', 'boolean', 'true', 'client', 'Send the leading master this client\'s byte counters (short-circuit and streamed reads), summed into cluster metrics such as strata_cluster_bytes_read_local_total.'),
  userMetricsHeartbeat: key('strata.user.metrics.heartbeat.interval', 'duration', '10s', 'client', 'How often a client sends its metrics to the master; a shell command also sends them once as it ends (waiting at most 2 s for the master).'),
  metadataSyncInterval: key('strata.user.file.metadata.sync.interval', 'duration', '-1', 'client', 'How stale metadata may be before a request re-checks the UFS: -1 never (load once), 0 always, or a duration; changed files get new blocks.'),
  metadataLoadType: key('strata.user.file.metadata.load.type', 'enum', 'ONCE', 'client', 'When a path strata does not know is looked up in the UFS: ONCE (a directory is listed from the UFS on first access), ALWAYS (also every time a path is not found, and every listing re-reads the UFS for new entries) or NEVER (the UFS is never consulted for lookups and listings).', ['ONCE', 'ALWAYS', 'NEVER']),
  loginUsername: key('strata.security.login.username', 'string', '', 'client', 'The user a client acts as (SIMPLE authentication); empty: the operating-system user running it.'),
  loginGroups: key('strata.security.login.groups', 'list', '', 'client', 'The groups of that user; empty: the operating-system groups of the user running it.'),
  permissionEnabled: key('strata.security.authorization.permission.enabled', 'boolean', 'true', 'master', 'Check owner, group and mode on every namespace operation.'),
  permissionSupergroup: key('strata.security.authorization.permission.supergroup', 'string', 'supergroup', 'master', 'Members of this group pass every permission check, as the superuser (the user the master runs as) does.'),
  permissionUmask: key('strata.security.authorization.permission.umask', 'string', '022', 'all', 'Octal bits removed from the mode of new files (666) and directories (777).'),
  logLevel: key('strata.logger.level', 'enum', 'info', 'all', 'Minimum log level.', ['debug', 'info', 'warn', 'error']),
} as const;

export const PROPERTY_KEYS: ReadonlyMap<string, PropertyKey> = new Map(keys.map((k) => [k.name, k]));

export type Source = 'default' | 'site-properties' | 'environment' | 'command-line' | 'runtime';

export class ConfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfError';
  }
}

const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

export function parseBytes(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?B)?\s*$/i.exec(s);
  if (!m) throw new ConfError(`not a byte size: ${JSON.stringify(s)} (use e.g. 64MB, 1GB, 4096)`);
  return Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? 'B').toUpperCase()]!);
}

export function parseDuration(s: string): number {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?\s*$/.exec(s);
  if (!m) throw new ConfError(`not a duration: ${JSON.stringify(s)} (use e.g. 500ms, 10s, 5min)`);
  return Math.floor(Number(m[1]) * TIME_UNITS[m[2] ?? 'ms']!);
}

function checkValue(k: PropertyKey, raw: string): void {
  switch (k.type) {
    case 'int':
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfError(`${k.name}: not an integer: ${JSON.stringify(raw)}`);
      return;
    case 'bytes':
      parseBytes(raw);
      return;
    case 'duration':
      parseDuration(raw);
      return;
    case 'boolean':
      if (!/^(true|false)$/i.test(raw.trim())) throw new ConfError(`${k.name}: not a boolean: ${JSON.stringify(raw)}`);
      return;
    case 'enum':
      if (!k.values!.includes(raw.trim())) throw new ConfError(`${k.name}: ${JSON.stringify(raw)} is not one of ${k.values!.join(', ')}`);
      return;
    default:
      return;
  }
}

/** Settings: defaults overlaid by sources; values may refer to other keys as ${key}. */
export class Conf {
  private readonly values = new Map<string, { raw: string; source: Source }>();

  constructor(layers: ReadonlyArray<readonly [Source, Readonly<Record<string, string>>]> = []) {
    for (const [source, entries] of layers) for (const [name, raw] of Object.entries(entries)) this.set(name, raw, source);
  }

  /** Fails fast, naming the key, on an unknown key or an invalid value. */
  set(name: string, raw: string, source: Source = 'runtime'): void {
    const k = PROPERTY_KEYS.get(name);
    if (!k) throw new ConfError(`unknown property key ${name}`);
    if (!raw.includes('${')) checkValue(k, raw);
    this.values.set(name, { raw, source });
  }

  source(name: string): Source {
    this.key(name);
    return this.values.get(name)?.source ?? 'default';
  }

  private key(name: string): PropertyKey {
    const k = PROPERTY_KEYS.get(name);
    if (!k) throw new ConfError(`unknown property key ${name}`);
    return k;
  }

  raw(name: string, depth = 0): string {
    const k = this.key(name);
    const v = this.values.get(name)?.raw ?? k.defaultValue;
    if (depth > 8) throw new ConfError(`${name}: \${...} references nest too deep`);
    const expanded = v.replace(/\$\{([a-z0-9.]+)\}/g, (_, ref: string) => this.raw(ref, depth + 1));
    if (depth === 0 && expanded !== v) checkValue(k, expanded);
    return expanded;
  }

  str(name: string): string {
    return this.raw(name);
  }
  int(name: string): number {
    return Number.parseInt(this.raw(name), 10);
  }
  bytes(name: string): number {
    return parseBytes(this.raw(name));
  }
  ms(name: string): number {
    return parseDuration(this.raw(name));
  }
  bool(name: string): boolean {
    return /^true$/i.test(this.raw(name).trim());
  }

  /** Every key with its resolved value and source, for getConf. */
  entries(): Array<{ name: string; value: string; source: Source }> {
    return [...PROPERTY_KEYS.keys()].sort().map((name) => ({ name, value: this.raw(name), source: this.source(name) }));
  }

  with(overrides: Readonly<Record<string, string>>): Conf {
    const c = new Conf();
    for (const [n, v] of this.values) c.values.set(n, v);
    for (const [n, v] of Object.entries(overrides)) c.set(n, v, 'runtime');
    return c;
  }
}

/** docs/configuration.md, generated from the registry (a test keeps the checked-in copy current). */
export function renderConfigurationDoc(): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    '# strata configuration',
    '',
    'Generated from the property registry (`actors/conf.ts`) by `npm run docs`; do not edit by hand.',
    '',
    'Values are read, lowest to highest precedence, from the defaults below, `conf/strata-site.properties`,',
    'environment variables (`STRATA_MASTER_RPC_PORT` for `strata.master.rpc.port`) and `--conf key=value`.',
    'A value may refer to another key as `${key}`. Sizes take `KB`/`MB`/`GB`/`TB`; durations `ms`/`s`/`min`/`h`.',
    '',
    '| key | type | default | scope | description |',
    '|---|---|---|---|---|',
  ];
  for (const k of [...PROPERTY_KEYS.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const type = k.type === 'enum' && k.values ? `enum (${k.values.join(', ')})` : k.type;
    lines.push(`| \`${k.name}\` | ${esc(type)} | \`${esc(k.defaultValue)}\` | ${k.scope} | ${esc(k.description)} |`);
  }
  return lines.join('\n') + '\n';
}
