// `strata job ls|stat|cancel`, and the `strata fs` commands that run on the job
// service: load, distributedLoad, distributedCp, distributedMv, persist, setReplication.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { Conf } from '../actors/conf.js';
import type { StrataClient } from '../actors/client/client.js';
import { ERROR_CODES, StrataError, type ErrorCode } from '../actors/protocol/envelope.js';
import type { JobInfo, JobRequest } from '../actors/protocol/job.js';
import { JobClient, jobLine } from '../actors/job/job-client.js';
import { formatTime, humanBytes } from './fs-commands.js';
import { withClient } from './cluster.js';
import { startProgress, type Progress, type ProgressStream } from './progress.js';

type Out = (line: string) => void;

const realTimers = {
  setTimer(ms: number, fn: () => void) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

export function jobs(c: StrataClient): JobClient {
  return new JobClient(c, realTimers);
}

function count(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new StrataError('INVALID_ARGUMENT', `${name} must be an integer of at least ${min}, got ${JSON.stringify(v)}`);
  return n;
}

const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

function jobId(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new StrataError('INVALID_ARGUMENT', `not a job id: ${JSON.stringify(v)}`);
  return n;
}

/** A job that did not complete fails the command with the code of its first error. */
function outcome(j: JobInfo): void {
  if (j.status === 'COMPLETED') return;
  const m = /^([A-Z_]+): /.exec(j.error?.replace(/^task \d+ \([^)]*\): /, '') ?? '');
  const code = m && (ERROR_CODES as readonly string[]).includes(m[1]!) ? (m[1] as ErrorCode) : 'FAILED_PRECONDITION';
  throw new StrataError(code, `job ${j.id} ${j.status}${j.error ? `: ${j.error}` : ''}`);
}

/**
 * Follows a job on a progress display: bytes done of total, with files, rate and
 * ETA; a bar on a terminal, plain lines through `out` otherwise (logs, pipes).
 */
function jobProgress(label: string, out: Out): { update(j: JobInfo): void; stop(ok: boolean): void } {
  const stream: ProgressStream = process.stdout.isTTY ? process.stdout : { isTTY: false, write: (text: string) => out(text.replace(/\n$/, '')) };
  let bar: Progress | undefined;
  let last: JobInfo | undefined;
  let shown = 0;
  return {
    update(j) {
      last = j;
      // The totals are known once the job is planned, i.e. from its first poll.
      bar ??= startProgress(label, j.bytesTotal, { stream, note: () => `files ${last?.filesDone ?? 0}/${last?.filesTotal ?? 0}` });
      bar.advance(Math.max(0, j.bytesDone - shown));
      shown = Math.max(shown, j.bytesDone);
    },
    stop(ok) {
      bar?.stop(ok);
    },
  };
}

/** Submits a job; unless `async`, waits for it with a progress display, and fails if it did not complete. */
async function runJob(conf: Conf, out: Out, req: JobRequest, o: { async?: boolean; json?: boolean }, verb: string): Promise<void> {
  await withClient(conf, async (c) => {
    const jc = jobs(c);
    const id = await jc.submit(req);
    if (o.async) {
      out(o.json ? JSON.stringify({ jobId: id }) : `Submitted job ${id}: ${verb} ${req.path}${req.dst ? ` to ${req.dst}` : ''}`);
      return;
    }
    if (!o.json) out(`Submitted job ${id}: ${verb} ${req.path}${req.dst ? ` to ${req.dst}` : ''}; waiting (Ctrl-C leaves it running; \`strata job stat ${id}\` follows it)`);
    const progress = o.json ? undefined : jobProgress(`${verb} ${req.path}`, out);
    let done: JobInfo;
    try {
      done = await jc.wait(id, { pollMs: 200, onProgress: (j) => progress?.update(j) });
    } catch (e) {
      progress?.stop(false);
      throw e;
    }
    progress?.stop(done.status === 'COMPLETED');
    if (o.json) out(JSON.stringify(done));
    else out(`Job ${id} ${done.status}: ${done.filesDone}/${done.filesTotal} files, ${humanBytes(done.bytesDone)}/${humanBytes(done.bytesTotal)}${done.error ? ` (${done.error})` : ''}`);
    outcome(done);
  });
}

/** The flags every batch job command shares: how its work is cut and run, and how the command reports. */
interface BatchFlags {
  batchSize: string;
  activeJobs: string;
  async?: boolean;
  json?: boolean;
}

function batchFlags(c: Command): Command {
  return c
    .option('--batch-size <n>', 'files per task', '1')
    .option('--active-jobs <n>', 'tasks of this job running at once', '3000')
    .option('--async', 'print the job id and return at once')
    .option('--json', 'print JSON');
}

function batch(o: BatchFlags): { batchSize?: number; activeJobs?: number } {
  return { batchSize: count('--batch-size', o.batchSize, 1), activeJobs: count('--active-jobs', o.activeJobs, 1) };
}

export function registerJobCommands(fs: Command, job: Command, conf: () => Conf, out: Out): void {
  batchFlags(fs.command('distributedLoad')
    .description('load files into the workers\' cache with a job (every worker can run its tasks)')
    .argument('<path>')
    .option('--replication <n>', 'workers each file is loaded onto', '1')
    .option('--hosts <list>', 'only workers on these hosts (or with these ids), comma-separated')
    .option('--excluded-hosts <list>', 'no workers on these hosts (or with these ids), comma-separated'))
    .action((path: string, o: BatchFlags & { replication: string; hosts?: string; excludedHosts?: string }) =>
      runJob(conf(), out, {
        kind: 'load', path, replication: count('--replication', o.replication, 1), ...batch(o),
        ...(list(o.hosts) ? { hosts: list(o.hosts) } : {}), ...(list(o.excludedHosts) ? { excludedHosts: list(o.excludedHosts) } : {}),
      }, o, 'load'));

  fs.command('load')
    .description('load files into the cache (with --local: onto the workers on this host)')
    .argument('<path>')
    .option('--local', 'load onto workers on this host only')
    .option('--json', 'print JSON')
    .action((path: string, o: { local?: boolean; json?: boolean }) =>
      runJob(conf(), out, { kind: 'load', path, ...(o.local ? { hosts: [hostname(), '127.0.0.1', 'localhost', '::1'] } : {}) }, o, 'load'));

  for (const [name, kind, what] of [['distributedCp', 'copy', 'copy'], ['distributedMv', 'move', 'move']] as const) {
    batchFlags(fs.command(name)
      .description(`${what} files with a job, spread over the workers`)
      .argument('<src>')
      .argument('<dst>')
      .option('--write-type <type>', 'write type of the copies: MUST_CACHE, CACHE_THROUGH, THROUGH or ASYNC_THROUGH', 'CACHE_THROUGH'))
      .action((src: string, dst: string, o: BatchFlags & { writeType: string }) => {
        const types = ['MUST_CACHE', 'CACHE_THROUGH', 'THROUGH', 'ASYNC_THROUGH'] as const;
        const writeType = types.find((t) => t === o.writeType);
        if (!writeType) throw new StrataError('INVALID_ARGUMENT', `--write-type must be one of ${types.join(', ')}, got ${o.writeType}`);
        return runJob(conf(), out, { kind, path: src, dst, ...batch(o), writeType }, o, what);
      });
  }

  fs.command('persist')
    .description('write files that are only cached to the UFS, with a job')
    .argument('<paths...>')
    .option('--async', 'print the job ids and return at once')
    .option('--json', 'print JSON')
    .action(async (paths: string[], o: { async?: boolean; json?: boolean }) => {
      for (const path of paths) await runJob(conf(), out, { kind: 'persist', path }, o, 'persist');
    });

  fs.command('setReplication')
    .description('keep the files under a path within a number of cached copies (the replication checker adds or evicts copies)')
    .argument('<path>')
    .option('--min <n>', 'fewest copies (0: no minimum)')
    .option('--max <n>', 'most copies (-1: no limit)')
    .option('-R, --recursive', 'every file below a directory')
    .action(async (path: string, o: { min?: string; max?: string; recursive?: boolean }) => {
      const min = count('--min', o.min, 0);
      const max = count('--max', o.max, -1);
      if (min === undefined && max === undefined) throw new StrataError('INVALID_ARGUMENT', 'give --min, --max or both');
      await withClient(conf(), async (c) => {
        await jobs(c).setReplication(path, min, max, Boolean(o.recursive));
        out(`Set replication of ${path}${o.recursive ? ' (recursively)' : ''}: min ${min ?? 0}, max ${max ?? -1}`);
      });
    });

  job.command('ls')
    .description('list jobs: id, kind, status, progress')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      await withClient(conf(), async (c) => {
        const all = (await jobs(c).list()).sort((a, b) => a.id - b.id);
        if (o.json) out(JSON.stringify(all));
        else for (const j of all) out(jobLine(j));
      });
    });

  job.command('stat')
    .description('a job\'s status and progress (-v: every task)')
    .argument('<id>')
    .option('-v, --verbose', 'also list every task')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { verbose?: boolean; json?: boolean }) => {
      await withClient(conf(), async (c) => {
        const j = await jobs(c).get(jobId(id), Boolean(o.verbose));
        if (o.json) {
          out(JSON.stringify(j));
          return;
        }
        out(`ID: ${j.id}`);
        out(`Kind: ${j.kind}`);
        out(`Path: ${j.path}${j.dst ? ` -> ${j.dst}` : ''}`);
        out(`User: ${j.user}`);
        out(`Status: ${j.status}`);
        out(`Created: ${formatTime(j.createdMs)}${j.endMs !== undefined ? `, ended ${formatTime(j.endMs)}` : ''}`);
        out(`Files: ${j.filesDone}/${j.filesTotal}`);
        out(`Bytes: ${j.bytesDone}/${j.bytesTotal}`);
        out(`Tasks: ${j.tasksDone} done, ${j.tasksFailed} failed, ${j.tasksTotal} in all`);
        if (j.error) out(`Error: ${j.error}`);
        for (const t of j.tasks ?? []) out(`  task ${t.id} ${t.state}${t.worker ? ` on ${t.worker}` : ''} attempts ${t.attempts} bytes ${t.bytes}  ${t.files.join(' ')}${t.error ? `  (${t.error})` : ''}`);
      });
    });

  job.command('cancel')
    .description('cancel a running job: its tasks in flight are told to stop, the rest never start')
    .argument('<id>')
    .action(async (id: string) => {
      await withClient(conf(), async (c) => {
        await jobs(c).cancel(jobId(id));
        out(`Canceled job ${id}`);
      });
    });
}
