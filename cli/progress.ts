// Progress of long work in the shell (copies of large files; load jobs can reuse
// it): a cli-progress bar with bytes, rate and ETA when stdout is a terminal,
// plain progress lines when it is not (a log, a pipe), so nothing redraws there.
import { createRequire } from 'node:module';
import { humanBytes } from './format.js';

export interface Progress {
  /** `n` more units done. */
  advance(n: number): void;
  /** Ends the display: `ok` false leaves the last state visible with a failure note. */
  stop(ok?: boolean): void;
}

/** Where a display goes: a terminal gets a redrawn bar, anything else plain lines. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** Units are bytes (shown as KB/MB) unless false (shown as counts, e.g. files). */
  bytes?: boolean;
  /** Where to draw; defaults to stdout. */
  stream?: ProgressStream;
  /** More to show after the units (e.g. files done of a job counted in bytes). */
  note?: () => string;
  /** Plain lines: at most one per this many ms (default 2000), and always the last. */
  lineEveryMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

function rateText(perSec: number, bytes: boolean): string {
  return bytes ? `${humanBytes(Math.round(perSec))}/s` : `${perSec.toFixed(1)}/s`;
}

function etaText(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** A progress display of `label` towards `total` units. */
export function startProgress(label: string, total: number, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stdout;
  const bytes = opts.bytes ?? true;
  const now = opts.now ?? Date.now;
  const start = now();
  let done = 0;
  const unit = (n: number) => (bytes ? humanBytes(n) : String(n));
  const stats = () => {
    const secs = Math.max(0.001, (now() - start) / 1000);
    const rate = done / secs;
    // Not `rate`/`eta`: cli-progress has tokens of those names that would win.
    return {
      rateText: rateText(rate, bytes), etaText: etaText(done >= total ? 0 : rate > 0 ? (total - done) / rate : Infinity), doneText: unit(done), totalText: unit(total),
      noteText: opts.note ? `, ${opts.note()}` : '',
    };
  };
  if (stream.isTTY) {
    // Required only when a bar is drawn, so other commands start without it.
    const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
    const bar = new cliProgress.SingleBar(
      // Only a real terminal reports isTTY, so this stream is one.
      { stream: stream as NodeJS.WriteStream, format: `${label} [{bar}] {percentage}% | {doneText}/{totalText}{noteText} | {rateText} | ETA {etaText}`, hideCursor: true, barsize: 30 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, stats());
    return {
      advance(n) {
        done += n;
        bar.update(done, stats());
      },
      stop(ok = true) {
        bar.update(done, stats());
        bar.stop();
        if (!ok) stream.write(`${label}: failed at ${unit(done)} of ${unit(total)}\n`);
      },
    };
  }
  const every = opts.lineEveryMs ?? 2000;
  let lastLine = start;
  const line = () => {
    const s = stats();
    const pct = total > 0 ? Math.floor((done * 100) / total) : 100;
    stream.write(`${label}: ${s.doneText} of ${s.totalText} (${pct}%)${s.noteText}, ${s.rateText}, ETA ${s.etaText}\n`);
  };
  return {
    advance(n) {
      done += n;
      if (now() - lastLine >= every) {
        lastLine = now();
        line();
      }
    },
    stop(ok = true) {
      if (ok) line();
      else stream.write(`${label}: failed at ${unit(done)} of ${unit(total)}\n`);
    },
  };
}
