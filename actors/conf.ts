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

export const K = {
  clusterId: key('strata.cluster.id', 'string', 'strata', 'all', 'Name of the cluster; peers with another id are refused at the handshake.'),
  clusterSecret: key('strata.security.cluster.secret', 'string', 'strata-dev-secret', 'all', 'Shared secret proven by HMAC challenge in the transport handshake; never sent on the wire.'),
  maxFrameBytes: key('strata.network.max.frame.size', 'bytes', '17MB', 'all', 'Largest inbound frame accepted; larger frames get RESOURCE_EXHAUSTED and the link is closed.'),
  rpcTimeout: key('strata.user.rpc.timeout', 'duration', '30s', 'all', 'Deadline for one request before it fails with DEADLINE_EXCEEDED.'),
  connectRetryMax: key('strata.user.rpc.retry.max.duration', 'duration', '10s', 'client', 'How long a client keeps retrying an unreachable master before giving up.'),
  workDir: key('strata.work.dir', 'string', './strata-data', 'all', 'Base directory for journals, worker storage and the default UFS.'),
  masterHostname: key('strata.master.hostname', 'string', '127.0.0.1', 'all', 'Host the master binds to and clients connect to.'),
  masterRpcPort: key('strata.master.rpc.port', 'int', '19998', 'all', 'Master RPC port.'),
  masterWebPort: key('strata.master.web.port', 'int', '19999', 'master', 'Master web port (metrics).'),
  masterJournalFolder: key('strata.master.journal.folder', 'string', '${strata.work.dir}/journal', 'master', 'Where the master keeps its write-ahead journal.'),
  masterJournalType: key('strata.master.journal.type', 'enum', 'UFS', 'master', 'UFS: single master with a local write-ahead journal. EMBEDDED (Raft) is not built yet.', ['UFS']),
  rootUfs: key('strata.master.mount.table.root.ufs', 'string', '${strata.work.dir}/ufs', 'master', 'The UFS mounted at / (a local directory path or file:// URI).'),
  workerTimeout: key('strata.master.worker.timeout', 'duration', '10s', 'master', 'A worker silent this long is marked lost and its block locations dropped.'),
  workerHostname: key('strata.worker.hostname', 'string', '127.0.0.1', 'worker', 'Host the worker binds to.'),
  workerRpcPort: key('strata.worker.rpc.port', 'int', '29999', 'worker', 'Worker RPC port (0 picks a free port).'),
  workerHeartbeatInterval: key('strata.worker.block.heartbeat.interval', 'duration', '1s', 'worker', 'How often a worker heartbeats to the master with block changes.'),
  workerMemSize: key('strata.worker.ramdisk.size', 'bytes', '1GB', 'worker', 'Quota of the MEM tier.'),
  workerLevel0Alias: key('strata.worker.tieredstore.level0.alias', 'enum', 'MEM', 'worker', 'Alias of the top tier.', ['MEM']),
  workerLevel0Quota: key('strata.worker.tieredstore.level0.dirs.quota', 'bytes', '${strata.worker.ramdisk.size}', 'worker', 'Quota of the top tier.'),
  workerReadWindow: key('strata.worker.network.flowcontrol.window', 'int', '8', 'all', 'Chunks a reader lets a worker send ahead (credit-based flow control).'),
  userBlockSize: key('strata.user.block.size.bytes.default', 'bytes', '64MB', 'client', 'Block size of new files.'),
  userChunkSize: key('strata.user.streaming.reader.chunk.size.bytes', 'bytes', '1MB', 'client', 'Size of one streamed data chunk.'),
  userWriteType: key('strata.user.file.writetype.default', 'enum', 'CACHE_THROUGH', 'client', 'Write type: CACHE_THROUGH or THROUGH in this build.', ['CACHE_THROUGH', 'THROUGH']),
  userReadType: key('strata.user.file.readtype.default', 'enum', 'CACHE', 'client', 'Read type: CACHE or NO_CACHE in this build.', ['CACHE', 'NO_CACHE']),
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
