// Operating a running cluster: `strata fsadmin report|doctor|ufs|metrics`,
// `strata getConf --master` and `strata logLevel`, as Alluxio's shell has them.
import type { Command } from 'commander';
import { K, type Conf } from '../actors/conf.js';
import type { WorkerInfo } from '../actors/client/client.js';
import { METRIC } from '../actors/metrics.js';
import { StrataError, isStrataError } from '../actors/protocol/envelope.js';
import { masterGroup } from '../actors/node/roles.js';
import { LOG_LEVELS, isLogLevel } from '../transport/logging.js';
import { UFS_MODES, isUfsMode } from '../transport/ufs-mode.js';
import { survey } from './admin-commands.js';
import { ufsUri, withSession, type ClientSession } from './cluster.js';
import { humanBytes } from './fs-commands.js';
import { parsePrometheus, sampleValue, type PromText } from './prom-text.js';
import { table } from './table.js';
import { jobServiceLines } from './jobservice-report.js';
import { jobs } from './job-commands.js';

type Out = (line: string) => void;

/** The leading master's node id; UNAVAILABLE with each master's state when none leads. */
export async function leaderId(conf: Conf, s: ClientSession): Promise<string> {
  const all = await survey(conf, s.client);
  const leader = all.find((m) => m.info && (m.info.role === undefined || m.info.role === 'leader'));
  if (!leader) throw new StrataError('UNAVAILABLE', `no master is leading right now (${all.map((m) => `${m.id}: ${m.info?.role ?? m.error}`).join('; ')})`);
  return leader.id;
}

async function leaderMetrics(conf: Conf, s: ClientSession): Promise<{ id: string; metrics: PromText }> {
  const id = await leaderId(conf, s);
  return { id, metrics: parsePrometheus(await s.ops.metrics(id)) };
}

/** Live workers, made reachable for operations requests. */
async function liveWorkers(s: ClientSession): Promise<WorkerInfo[]> {
  const live = (await s.client.workers()).filter((w) => w.state === 'LIVE');
  for (const w of live) s.learnAddress(w.id, w.address);
  return live;
}

function byTier(p: PromText, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const x of p.samples) if (x.name === name && x.labels.tier) out.set(x.labels.tier, x.value);
  return out;
}

function sum(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 86400)} day(s), ${Math.floor((s % 86400) / 3600)} hour(s), ${Math.floor((s % 3600) / 60)} minute(s), and ${s % 60} second(s)`;
}

function percent(used: number, total: number): string {
  return total === 0 ? '0%' : `${Math.round((used * 100) / total)}%`;
}

/** A flag's list value: "a,b c" → ['a', 'b', 'c']. */
function list(v: string | undefined): string[] {
  return (v ?? '').split(/[,\s]+/).filter(Boolean);
}

async function summary(conf: Conf, s: ClientSession) {
  const { id, metrics } = await leaderMetrics(conf, s);
  const [info, theirConf] = await Promise.all([s.client.masterInfoOf(id), s.ops.conf(id)]);
  const total = byTier(metrics, METRIC.clusterCapacityTotal.name);
  const used = byTier(metrics, METRIC.clusterCapacityUsed.name);
  return {
    masterId: id,
    masterAddress: masterGroup(conf).addresses[masterGroup(conf).ids.indexOf(id)]!.replace(/^ws:\/\//, ''),
    webPort: Number(theirConf.entries.find((e) => e.name === K.masterWebPort)?.value),
    startedAtMs: info.startedAtMs,
    uptimeMs: Date.now() - info.startedAtMs,
    version: info.version,
    journal: masterGroup(conf).embedded ? 'EMBEDDED' : 'UFS',
    raftTerm: info.term ?? 0,
    liveWorkers: info.liveWorkers,
    lostWorkers: info.lostWorkers,
    totalPaths: info.inodes,
    capacity: Object.fromEntries([...total].map(([tier, t]) => [tier, { total: t, used: used.get(tier) ?? 0, free: t - (used.get(tier) ?? 0) }])),
    totalCapacity: sum(total),
    usedCapacity: sum(used),
    freeCapacity: sum(total) - sum(used),
  };
}

async function capacity(s: ClientSession, o: { live?: boolean; lost?: boolean; workers?: string }) {
  if (o.live && o.lost) throw new StrataError('INVALID_ARGUMENT', 'report capacity takes at most one of -live and -lost');
  let all = await s.client.workers();
  const wanted = list(o.workers);
  if (wanted.length > 0) {
    const names = (x: WorkerInfo, w: string) => x.id === w || x.address.replace(/^ws:\/\//, '') === w || hostOf(x.address) === w;
    const unknown = wanted.filter((w) => !all.some((x) => names(x, w)));
    if (unknown.length > 0) throw new StrataError('NOT_FOUND', `no such worker: ${unknown.join(', ')} (workers: ${all.map((w) => w.id).join(', ') || 'none'})`);
    all = all.filter((x) => wanted.some((w) => names(x, w)));
  }
  if (o.live) all = all.filter((w) => w.state === 'LIVE');
  if (o.lost) all = all.filter((w) => w.state === 'LOST');
  const rows = await Promise.all(
    all.map(async (w) => {
      let tiers: Record<string, { total: number; used: number }> = {};
      if (w.state === 'LIVE') {
        s.learnAddress(w.id, w.address);
        try {
          const p = parsePrometheus(await s.ops.metrics(w.id));
          const used = byTier(p, METRIC.capacityUsed.name);
          tiers = Object.fromEntries([...byTier(p, METRIC.capacityTotal.name)].map(([t, total]) => [t, { total, used: used.get(t) ?? 0 }]));
        } catch {
          // A worker that cannot answer still shows its heartbeat totals.
        }
      }
      return { id: w.id, address: w.address.replace(/^ws:\/\//, ''), state: w.state, capacityBytes: w.capacityBytes, usedBytes: w.usedBytes, blocks: w.blockCount, lastHeartbeatMs: w.lastHeartbeatMs, tiers };
    }),
  );
  return {
    workers: rows,
    totalCapacity: rows.reduce((n, r) => n + r.capacityBytes, 0),
    usedCapacity: rows.reduce((n, r) => n + r.usedBytes, 0),
  };
}

function hostOf(address: string): string {
  return address.replace(/^ws:\/\//, '').replace(/:\d+$/, '');
}

/** Every sample as name → value, labels folded into the name; histograms by their _sum and _count (buckets left out). */
function metricRows(p: PromText): Array<{ name: string; value: number }> {
  const rows: Array<{ name: string; value: number }> = [];
  for (const x of p.samples) {
    if (x.name.endsWith('_bucket')) continue;
    const labels = Object.entries(x.labels).map(([k, v]) => `${k}=${v}`).join(',');
    rows.push({ name: labels ? `${x.name}{${labels}}` : x.name, value: x.value });
  }
  return rows;
}

export function registerOpsCommands(program: Command, fsadmin: Command, conf: () => Conf, out: Out): void {
  const json = (v: unknown) => out(JSON.stringify(v, null, 2));

  fsadmin
    .command('report')
    .description('report the cluster: summary (default), capacity [-live|-lost|-workers <list>], metrics, ufs, jobservice')
    .argument('[category]', 'summary, capacity, metrics, ufs or jobservice', 'summary')
    .option('--live', 'capacity: live workers only (also -live)')
    .option('--lost', 'capacity: lost workers only (also -lost)')
    .option('--workers <list>', 'capacity: these workers only, by id, host or host:port, comma-separated (also -workers)')
    .option('--limit <n>', 'jobservice: how many recent jobs and failures to list', '10')
    .option('--json', 'print JSON')
    .action(async (category: string, o: { live?: boolean; lost?: boolean; workers?: string; limit?: string; json?: boolean }) => {
      const known = ['summary', 'capacity', 'metrics', 'ufs', 'jobservice'];
      if (!known.includes(category)) throw new StrataError('INVALID_ARGUMENT', `unknown report category ${JSON.stringify(category)}; one of ${known.join(', ')}`);
      if (category !== 'capacity' && (o.live || o.lost || o.workers)) throw new StrataError('INVALID_ARGUMENT', '-live, -lost and -workers go with report capacity');
      if (o.limit !== undefined && !/^\d{1,4}$/.test(o.limit)) throw new StrataError('INVALID_ARGUMENT', `--limit must be an integer from 0 to 9999, got ${JSON.stringify(o.limit)}`);
      await withSession(conf(), async (s) => {
        if (category === 'jobservice') {
          const r = await jobs(s.client).report(Number(o.limit ?? 10));
          if (o.json) {
            const { t: _t, ...report } = r;
            return json(report);
          }
          for (const line of jobServiceLines(r)) out(line);
          return;
        }
        if (category === 'summary') {
          const r = await summary(conf(), s);
          if (o.json) return json(r);
          out('Strata cluster summary:');
          out(`    Master Address: ${r.masterAddress} (${r.masterId})`);
          out(`    Web Port: ${r.webPort}`);
          out(`    Started: ${new Date(r.startedAtMs).toISOString()}`);
          out(`    Uptime: ${duration(r.uptimeMs)}`);
          out(`    Version: ${r.version}`);
          out(`    Journal: ${r.journal}${r.journal === 'EMBEDDED' ? ` (term ${r.raftTerm})` : ''}`);
          out(`    Total Paths: ${r.totalPaths}`);
          out(`    Live Workers: ${r.liveWorkers}`);
          out(`    Lost Workers: ${r.lostWorkers}`);
          out(`    Total Capacity: ${humanBytes(r.totalCapacity)}`);
          for (const [tier, c] of Object.entries(r.capacity)) out(`        Tier: ${tier}  Size: ${humanBytes(c.total)}`);
          out(`    Used Capacity: ${humanBytes(r.usedCapacity)}`);
          for (const [tier, c] of Object.entries(r.capacity)) out(`        Tier: ${tier}  Size: ${humanBytes(c.used)}`);
          out(`    Free Capacity: ${humanBytes(r.freeCapacity)}`);
          return;
        }
        if (category === 'capacity') {
          const r = await capacity(s, o);
          if (o.json) return json(r);
          out(`Capacity information for ${o.live ? 'live' : o.lost ? 'lost' : 'all'} workers:`);
          out(`    Total Capacity: ${humanBytes(r.totalCapacity)}`);
          out(`    Used Capacity: ${humanBytes(r.usedCapacity)}`);
          out(`    Used Percentage: ${percent(r.usedCapacity, r.totalCapacity)}`);
          out('');
          const tiers = [...new Set(r.workers.flatMap((w) => Object.keys(w.tiers)))];
          const rows = r.workers.map((w) => [
            w.id, w.address, w.state, humanBytes(w.capacityBytes), humanBytes(w.usedBytes), percent(w.usedBytes, w.capacityBytes), String(w.blocks),
            ...tiers.map((t) => (w.tiers[t] ? `${humanBytes(w.tiers[t].used)}/${humanBytes(w.tiers[t].total)}` : '-')),
          ]);
          for (const line of table(['Worker', 'Address', 'State', 'Capacity', 'Used', 'Used %', 'Blocks', ...tiers.map((t) => `${t} used/total`)], rows)) out(line);
          return;
        }
        if (category === 'metrics') {
          const { id, metrics } = await leaderMetrics(conf(), s);
          const rows = metricRows(metrics);
          if (o.json) return json({ master: id, metrics: Object.fromEntries(rows.map((r) => [r.name, r.value])) });
          out(`Metrics of the leading master ${id} (cluster totals from worker heartbeats):`);
          for (const line of table(['Metric', 'Value'], rows.map((r) => [r.name, Number.isInteger(r.value) ? String(r.value) : r.value.toFixed(4)]))) out(line);
          return;
        }
        // ufs
        const id = await leaderId(conf(), s);
        const [mounts, modes] = await Promise.all([s.client.mountTable(), s.ops.ufsModes(id)]);
        const modeOf = (uri: string) => modes.find((m) => uri.replace(/^file:\/\//, '').replace(/\/$/, '') === m.root)?.mode ?? 'readWrite';
        const rows = mounts.map((m) => ({ ufsUri: m.ufsUri, mountPoint: m.path, readOnly: m.readOnly, shared: m.shared, mode: modeOf(m.ufsUri), options: Object.fromEntries(m.options) }));
        if (o.json) return json(rows);
        for (const line of table(['UFS', 'Mount point', 'Mode', 'Read-only', 'Shared', 'Options'], rows.map((r) => [r.ufsUri, r.mountPoint, r.mode, String(r.readOnly), String(r.shared), Object.entries(r.options).map(([k, v]) => `${k}=${v}`).join(',')]))) out(line);
      });
    });

  fsadmin
    .command('ufs')
    .description('set the access mode of a UFS on every master and worker: noAccess, readOnly or readWrite')
    .requiredOption('--mode <mode>', UFS_MODES.join(', '))
    .argument('<ufsUri>', 'the UFS, as mounted (file:///dir or a local directory)')
    .action(async (uri: string, o: { mode: string }) => {
      if (!isUfsMode(o.mode)) throw new StrataError('INVALID_ARGUMENT', `--mode must be one of ${UFS_MODES.join(', ')}, got ${o.mode}`);
      const mode = o.mode;
      const full = ufsUri(uri, process.cwd());
      await withSession(conf(), async (s) => {
        const mounts = await s.client.mountTable();
        if (!mounts.some((m) => m.ufsUri.replace(/\/$/, '') === full.replace(/\/$/, ''))) {
          throw new StrataError('NOT_FOUND', `${full} is not mounted (mounted: ${mounts.map((m) => m.ufsUri).join(', ')})`);
        }
        const masters = masterGroup(conf()).ids;
        const workers = await liveWorkers(s);
        const nodes = [...masters, ...workers.map((w) => w.id)];
        const results = await Promise.allSettled(nodes.map((n) => s.ops.setUfsMode(n, full, mode)));
        // The masters decide every namespace operation: the mode must hold on each of them, so a master's refusal is the answer.
        const masterFailure = results.slice(0, masters.length).find((r) => r.status === 'rejected');
        if (masterFailure) throw (masterFailure as PromiseRejectedResult).reason;
        const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${nodes[i]}: ${(r.reason as Error).message}`] : []));
        const reached = nodes.length - failed.length;
        out(`Set the mode of ${full} to ${mode} on ${reached} node(s)${failed.length ? ` (not reached: ${failed.join('; ')})` : ''}`);
      });
    });

  fsadmin
    .command('metrics')
    .description('metrics administration')
    .command('clear')
    .description('reset the counters and histograms of the masters and workers (cluster totals restart from zero)')
    .option('--master', 'only the masters')
    .option('--workers <list>', 'only these workers (ids, comma-separated)')
    .action(async (o: { master?: boolean; workers?: string }) => {
      await withSession(conf(), async (s) => {
        const workers = await liveWorkers(s);
        const wanted = list(o.workers);
        const unknown = wanted.filter((w) => !workers.some((x) => x.id === w));
        if (unknown.length) throw new StrataError('NOT_FOUND', `no live worker ${unknown.join(', ')}`);
        const targets = [
          ...(wanted.length && !o.master ? [] : masterGroup(conf()).ids),
          ...(o.master ? [] : workers.filter((w) => wanted.length === 0 || wanted.includes(w.id)).map((w) => w.id)),
        ];
        // Workers first: the masters' cluster totals then restart from the workers' zeroes.
        const ordered = [...targets.filter((t) => !masterGroup(conf()).ids.includes(t)), ...targets.filter((t) => masterGroup(conf()).ids.includes(t))];
        const cleared: string[] = [];
        for (const n of ordered) {
          try {
            await s.ops.clearMetrics(n);
            cleared.push(n);
          } catch (e) {
            if (!masterGroup(conf()).embedded) throw e;
          }
        }
        out(`Cleared the metrics of ${cleared.join(', ')}`);
      });
    });

  fsadmin
    .command('doctor')
    .description('check the configuration and the cluster\'s health; exits 1 if a problem is found')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const checks: Array<{ check: string; status: 'ok' | 'warn' | 'fail'; detail: string }> = [];
      const add = (check: string, ok: boolean, detail: string, otherwise: 'warn' | 'fail' = 'fail') => checks.push({ check, status: ok ? 'ok' : otherwise, detail });
      const c = conf();
      add('cluster secret', c.str(K.clusterSecret) !== 'strata-dev-secret', c.str(K.clusterSecret) === 'strata-dev-secret' ? `${K.clusterSecret} is the built-in development secret: set your own outside development` : 'set', 'warn');
      try {
        const g = masterGroup(c);
        add('masters', true, `${g.ids.length} (${g.embedded ? 'EMBEDDED journal' : 'UFS journal'})`);
        if (g.embedded && g.ids.length % 2 === 0) add('quorum size', false, `${g.ids.length} masters: an even group tolerates no more failures than one master fewer`);
      } catch (e) {
        add('masters', false, (e as Error).message);
      }
      try {
        await withSession(c, async (s) => {
          const all = await survey(c, s.client);
          for (const m of all) add(`master ${m.id}`, Boolean(m.info), m.info ? `${m.address} ${m.info.role ?? 'leader'}` : `${m.address}: ${m.error}`);
          let leader: string | undefined;
          try {
            leader = await leaderId(c, s);
            add('leader', true, leader);
          } catch (e) {
            add('leader', false, (e as Error).message);
          }
          const workers = await s.client.workers();
          const live = workers.filter((w) => w.state === 'LIVE');
          const lost = workers.filter((w) => w.state === 'LOST');
          add('live workers', live.length > 0, live.length > 0 ? String(live.length) : 'no worker is registered: reads go nowhere and writes fail');
          add('lost workers', lost.length === 0, lost.length === 0 ? '0' : lost.map((w) => w.id).join(', '));
          const cap = live.reduce((n, w) => n + w.capacityBytes, 0);
          const used = live.reduce((n, w) => n + w.usedBytes, 0);
          add('free capacity', cap === 0 || used < cap * 0.95, `${humanBytes(cap - used)} of ${humanBytes(cap)} free`);
          if (leader) {
            const modes = await s.ops.ufsModes(leader);
            const limited = modes.filter((m) => m.mode !== 'readWrite');
            add('UFS modes', limited.length === 0, limited.length === 0 ? 'every UFS is readWrite' : limited.map((m) => `${m.root} is ${m.mode}`).join('; '));
            const theirs = new Map((await s.ops.conf(leader)).entries.map((e) => [e.name, e.value]));
            const differ = [K.clusterId, K.masterJournalType, K.masterAddresses].filter((k) => theirs.get(k) !== c.raw(k));
            add('configuration matches the master', differ.length === 0, differ.length === 0 ? 'yes' : differ.map((k) => `${k}: here ${JSON.stringify(c.raw(k))}, master ${JSON.stringify(theirs.get(k))}`).join('; '));
          }
        });
      } catch (e) {
        add('cluster reachable', false, (e as Error).message);
      }
      const bad = checks.filter((x) => x.status === 'fail');
      const warned = checks.filter((x) => x.status === 'warn');
      if (o.json) out(JSON.stringify({ ok: bad.length === 0, checks }, null, 2));
      else {
        for (const x of checks) out(`[${x.status.toUpperCase().padStart(4)}] ${x.check}: ${x.detail}`);
        out(bad.length === 0 ? `All checks passed${warned.length ? ` (${warned.length} warning(s))` : ''}.` : `${bad.length} check(s) failed.`);
      }
      if (bad.length > 0) process.exitCode = 1;
    });

  program
    .command('logLevel')
    .description('get or set the log level of running masters and workers')
    .requiredOption('--logName <name>', 'a logger: a node id (master, worker-0), transport, or root for all')
    .option('--target <targets>', 'master, workers, or host:port of a node, comma-separated', 'master,workers')
    .option('--level <level>', LOG_LEVELS.join(', '))
    .action(async (o: { logName: string; target: string; level?: string }) => {
      if (o.level !== undefined && !isLogLevel(o.level)) throw new StrataError('INVALID_ARGUMENT', `--level must be one of ${LOG_LEVELS.join(', ')}, got ${o.level}`);
      await withSession(conf(), async (s) => {
        const g = masterGroup(conf());
        const targets: Array<{ id: string; label: string }> = [];
        let workers: WorkerInfo[] | undefined;
        for (const t of list(o.target)) {
          if (t === 'master') targets.push(...g.ids.map((id, i) => ({ id, label: `${g.addresses[i]!.slice(5)} (${id})` })));
          else if (t === 'workers') targets.push(...(workers ??= await liveWorkers(s)).map((w) => ({ id: w.id, label: `${w.address.slice(5)} (${w.id})` })));
          else if (/^[^\s:/]+:\d+$/.test(t)) {
            const mi = g.addresses.indexOf(`ws://${t}`);
            const w = (workers ??= await liveWorkers(s)).find((x) => x.address === `ws://${t}`);
            if (mi >= 0) targets.push({ id: g.ids[mi]!, label: `${t} (${g.ids[mi]})` });
            else if (w) targets.push({ id: w.id, label: `${t} (${w.id})` });
            else throw new StrataError('NOT_FOUND', `no master or live worker listens at ${t}`);
          } else throw new StrataError('INVALID_ARGUMENT', `--target takes master, workers or host:port, got ${JSON.stringify(t)}`);
        }
        if (targets.length === 0) throw new StrataError('FAILED_PRECONDITION', 'no target: no live workers and no master named');
        // A node's own logger (worker-1) exists only in its process: the others say so, and only none having it is an error.
        const lines: string[] = [];
        let missing: unknown;
        for (const t of targets) {
          try {
            const loggers = await s.ops.logLevel(t.id, o.logName, o.level);
            lines.push(`${t.label}: ${loggers.map((l) => `${l.name}=${l.level.toUpperCase()}`).join(' ')}`);
          } catch (e) {
            if (!isStrataError(e, 'NOT_FOUND')) throw e;
            missing = e;
            lines.push(`${t.label}: no logger ${o.logName}`);
          }
        }
        if (missing && lines.every((l) => l.endsWith(`: no logger ${o.logName}`))) throw missing;
        for (const l of lines) out(l);
      });
    });
}
