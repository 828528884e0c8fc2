// The job service's counters, kept in the node's metrics registry (served on
// /metrics like every other metric). Only the leading master's job master moves
// them: followers apply the same journal but run nothing.
import { metricDef, metricsOf, type MetricDef, type Metrics } from '../metrics.js';
import type { Env } from '../env.js';
import type { JobStatus } from '../protocol/job.js';

/** Mirrors Alluxio's job master counters (Master.JobCreated/JobCompleted/JobFailed/JobCanceled, task counts). */
export const JOB_METRIC = {
  jobsStarted: metricDef('strata_job_jobs_started_total', 'Jobs this master created while leading (Alluxio: Master.JobCreated).'),
  jobsCompleted: metricDef('strata_job_jobs_completed_total', 'Jobs that completed while this master led (Alluxio: Master.JobCompleted).'),
  jobsFailed: metricDef('strata_job_jobs_failed_total', 'Jobs that failed while this master led (Alluxio: Master.JobFailed).'),
  jobsCanceled: metricDef('strata_job_jobs_canceled_total', 'Jobs canceled while this master led (Alluxio: Master.JobCanceled).'),
  tasksRun: metricDef('strata_job_tasks_run_total', 'Task attempts handed to job workers.'),
  tasksFailed: metricDef('strata_job_tasks_failed_total', 'Tasks that failed for good (no attempts left, or an error another worker would repeat).'),
  tasksRetried: metricDef('strata_job_tasks_retried_total', 'Task attempts that failed or were lost and are tried again.'),
} as const;

const ENDED: Partial<Record<JobStatus, MetricDef>> = { COMPLETED: JOB_METRIC.jobsCompleted, FAILED: JOB_METRIC.jobsFailed, CANCELED: JOB_METRIC.jobsCanceled };

export class JobMetrics {
  private readonly m: Metrics;

  constructor(env: Env) {
    this.m = metricsOf(env);
    for (const d of Object.values(JOB_METRIC)) this.m.declare(d, 'counter');
  }

  started(): void {
    this.m.inc(JOB_METRIC.jobsStarted);
  }

  /** A job left RUNNING with `status`. */
  ended(status: JobStatus): void {
    const d = ENDED[status];
    if (d) this.m.inc(d);
  }

  taskRun(): void {
    this.m.inc(JOB_METRIC.tasksRun);
  }

  taskFailed(): void {
    this.m.inc(JOB_METRIC.tasksFailed);
  }

  taskRetried(): void {
    this.m.inc(JOB_METRIC.tasksRetried);
  }
}
