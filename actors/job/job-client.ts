// The job service from a client's side: submit, watch, list and cancel jobs, and
// set replication targets, through the file system client's master channel.
import type { Infer } from '../../transport/schema.js';
import type { StrataClient } from '../client/client.js';
import type { Env } from '../env.js';
import { StrataError } from '../protocol/envelope.js';
import type * as J from '../protocol/job.js';
import type { JobInfo, JobRequest } from '../protocol/job.js';

export class JobClient {
  constructor(
    private readonly c: StrataClient,
    private readonly env: Pick<Env, 'setTimer'>,
  ) {}

  async submit(job: JobRequest): Promise<number> {
    return (await this.c.callMaster<Infer<typeof J.JobSubmitted>>({ t: 'SubmitJob', job }, 'JobSubmitted', true)).jobId;
  }

  async get(jobId: number, verbose = false): Promise<JobInfo> {
    return (await this.c.callMaster<Infer<typeof J.JobInfoReply>>({ t: 'GetJob', jobId, verbose }, 'JobInfoReply')).job;
  }

  async list(): Promise<JobInfo[]> {
    return (await this.c.callMaster<Infer<typeof J.JobListReply>>({ t: 'ListJobs' }, 'JobListReply')).jobs;
  }

  /** The job master's state (fsadmin report jobservice), with up to `recent` of the newest jobs and failures. */
  async report(recent = 10): Promise<Infer<typeof J.JobServiceReport>> {
    return this.c.callMaster<Infer<typeof J.JobServiceReport>>({ t: 'GetJobServiceReport', recent }, 'JobServiceReport');
  }

  async cancel(jobId: number): Promise<void> {
    await this.c.callMaster({ t: 'CancelJob', jobId }, 'Ok', true);
  }

  async setReplication(path: string, min: number | undefined, max: number | undefined, recursive: boolean): Promise<void> {
    await this.c.callMaster({ t: 'SetReplication', path, ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}), recursive }, 'Ok', true);
  }

  /** Polls until the job is no longer RUNNING; `onProgress` sees each poll. Fails with DEADLINE_EXCEEDED after `timeoutMs`. */
  async wait(jobId: number, opts: { pollMs?: number; timeoutMs?: number; onProgress?: (j: JobInfo) => void } = {}): Promise<JobInfo> {
    const poll = opts.pollMs ?? 200;
    let waited = 0;
    for (;;) {
      const j = await this.get(jobId);
      opts.onProgress?.(j);
      if (j.status !== 'RUNNING') return j;
      if (opts.timeoutMs !== undefined && waited >= opts.timeoutMs) throw new StrataError('DEADLINE_EXCEEDED', `job ${jobId} still running after ${opts.timeoutMs} ms`);
      await new Promise<void>((r) => this.env.setTimer(poll, r));
      waited += poll;
    }
  }
}

/** One line of `job ls` / progress: id, kind, status, files and bytes done of total. */
export function jobLine(j: JobInfo): string {
  return `${String(j.id).padStart(6)}  ${j.kind.padEnd(9)} ${j.status.padEnd(9)} files ${j.filesDone}/${j.filesTotal}  bytes ${j.bytesDone}/${j.bytesTotal}  ${j.path}${j.dst ? ` -> ${j.dst}` : ''}`;
}
