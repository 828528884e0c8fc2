// Job service: clients submit, watch and cancel jobs at the leading master (the
// job master lives there); the job master hands tasks to the job workers hosted
// in the workers.
import { arr, bool, int, msg, num, obj, oneOf, opt, strMax, uint, type Infer } from '../../transport/schema.js';

const path = strMax(4096);
const host = strMax(256);

export const JOB_KINDS = ['load', 'persist', 'copy', 'move', 'replicate', 'evict'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export const JOB_STATUSES = ['RUNNING', 'COMPLETED', 'FAILED', 'CANCELED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/**
 * What a plan is asked to do. `replication`: workers each file is loaded onto
 * (distributedLoad); `batchSize`: files per task; `activeJobs`: tasks of this job
 * running at once; `hosts`/`excludedHosts`: workers (by id or host name) that may
 * or may not run its tasks; `dst`: the target of copy and move.
 */
export const JobRequest = obj({
  kind: oneOf(...JOB_KINDS),
  path,
  dst: opt(path),
  replication: opt(uint),
  batchSize: opt(uint),
  activeJobs: opt(uint),
  hosts: opt(arr(host, 1024)),
  excludedHosts: opt(arr(host, 1024)),
  /** copy/move: the write type of the copies (default CACHE_THROUGH). */
  writeType: opt(oneOf('MUST_CACHE', 'CACHE_THROUGH', 'THROUGH', 'ASYNC_THROUGH')),
});
export type JobRequest = Infer<typeof JobRequest>;

export const TaskInfo = obj({ id: uint, files: arr(path, 1_000_000), state: strMax(16), attempts: uint, bytes: uint, worker: opt(host), error: opt(strMax(4096)) });
export type TaskInfo = Infer<typeof TaskInfo>;

export const JobInfo = obj({
  id: uint,
  kind: oneOf(...JOB_KINDS),
  path,
  dst: opt(path),
  user: strMax(256),
  status: oneOf(...JOB_STATUSES),
  createdMs: num,
  endMs: opt(num),
  error: opt(strMax(4096)),
  filesTotal: uint,
  filesDone: uint,
  bytesTotal: uint,
  bytesDone: uint,
  tasksTotal: uint,
  tasksDone: uint,
  tasksFailed: uint,
  /** With `verbose`: every task. */
  tasks: opt(arr(TaskInfo, 1_000_000)),
});
export type JobInfo = Infer<typeof JobInfo>;

const rid = opt(uint);
export const SubmitJob = msg('SubmitJob', { job: JobRequest, rid });
export const JobSubmitted = msg('JobSubmitted', { jobId: uint });
export const GetJob = msg('GetJob', { jobId: uint, verbose: bool });
export const JobInfoReply = msg('JobInfoReply', { job: JobInfo });
export const ListJobs = msg('ListJobs', {});
export const JobListReply = msg('JobListReply', { jobs: arr(JobInfo, 1_000_000) });
export const CancelJob = msg('CancelJob', { jobId: uint, rid });
/** fs setReplication: the replication checker keeps every file under `path` within [min, max] copies (max -1: no limit). */
export const SetReplication = msg('SetReplication', { path, min: opt(uint), max: opt(int), recursive: bool, rid });

/** fsadmin report jobservice: the job master's state as the leader sees it. */
export const GetJobServiceReport = msg('GetJobServiceReport', { recent: uint });
export const JobServiceReport = msg('JobServiceReport', {
  master: host,
  /** Jobs kept, by status (every status, zeroes included). */
  statuses: arr(obj({ status: oneOf(...JOB_STATUSES), count: uint }), 16),
  /** Every live worker (each hosts a job worker) and the tasks it runs now. */
  workers: arr(obj({ id: host, address: strMax(512), running: uint, slots: uint }), 100_000),
  /** The newest jobs, newest first. */
  recent: arr(JobInfo, 10_000),
  /** The newest failed jobs, newest first. */
  failures: arr(JobInfo, 10_000),
});

/** One file of a task: its blocks as the master knows them, and for copy/move its target. */
export const TaskFile = obj({
  path,
  fileId: uint,
  length: uint,
  blockSize: uint,
  persisted: bool,
  ufsMount: strMax(4096),
  ufsPath: path,
  mtimeMs: num,
  dst: opt(path),
});
export type TaskFile = Infer<typeof TaskFile>;

/**
 * Job master → job worker. `ufsPath` for persist: where to write (beside the
 * target; the master publishes it). The reply is TaskDone or an Error.
 */
export const RunTask = msg('RunTask', {
  jobId: uint,
  taskId: uint,
  kind: oneOf(...JOB_KINDS),
  user: strMax(256),
  files: arr(TaskFile, 1_000_000),
  writeType: opt(oneOf('MUST_CACHE', 'CACHE_THROUGH', 'THROUGH', 'ASYNC_THROUGH')),
  persistTo: opt(path),
});
export const TaskDone = msg('TaskDone', { bytes: uint, mtimeMs: opt(num) });
/** One-way: stop a running task (its job was canceled, or its file deleted). */
export const CancelTask = msg('CancelTask', { jobId: uint, taskId: uint });

export const JOB_MESSAGES = [SubmitJob, JobSubmitted, GetJob, JobInfoReply, ListJobs, JobListReply, CancelJob, SetReplication, RunTask, TaskDone, CancelTask, GetJobServiceReport, JobServiceReport] as const;

/** The job service's requests, for the master's router. */
export const JOB_MASTER_REQUESTS = new Set(['SubmitJob', 'GetJob', 'ListJobs', 'CancelJob', 'SetReplication', 'GetJobServiceReport']);
