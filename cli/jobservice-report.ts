// `strata fsadmin report jobservice`: the job master's state, laid out as Alluxio's
// report of the same name (job workers and their tasks, jobs by status, the most
// recent jobs and failures).
import type { Infer } from '../transport/schema.js';
import type { JobServiceReport } from '../actors/protocol/job.js';
import type { JobInfo } from '../actors/protocol/job.js';
import { formatTime, humanBytes } from './fs-commands.js';
import { table } from './table.js';

export type JobServiceReportData = Infer<typeof JobServiceReport>;

const jobRow = (j: JobInfo): string[] => [
  formatTime(j.endMs ?? j.createdMs), String(j.id), j.kind, j.status, `${j.filesDone}/${j.filesTotal}`, `${humanBytes(j.bytesDone)}/${humanBytes(j.bytesTotal)}`,
  `${j.path}${j.dst ? ` -> ${j.dst}` : ''}${j.error ? `  (${j.error})` : ''}`,
];
const JOB_HEADER = ['Timestamp', 'Id', 'Kind', 'Status', 'Files', 'Bytes', 'Path'];

export function jobServiceLines(r: JobServiceReportData): string[] {
  const lines = [`Job service of the leading master ${r.master}:`, ''];
  lines.push(`Job workers: ${r.workers.length}`);
  if (r.workers.length > 0) {
    lines.push(...table(['Worker', 'Address', 'Running tasks', 'Task pool size'], r.workers.map((w) => [w.id, w.address.replace(/^ws:\/\//, ''), String(w.running), String(w.slots)])).map((l) => `    ${l}`));
  }
  lines.push('');
  for (const s of r.statuses) lines.push(`Status: ${s.status.padEnd(10)} Count: ${s.count}`);
  lines.push('', `${r.recent.length} most recent jobs:`);
  if (r.recent.length > 0) lines.push(...table(JOB_HEADER, r.recent.map(jobRow)).map((l) => `    ${l}`));
  lines.push('', `${r.failures.length} most recent failed jobs:`);
  if (r.failures.length > 0) lines.push(...table(JOB_HEADER, r.failures.map(jobRow)).map((l) => `    ${l}`));
  return lines;
}
