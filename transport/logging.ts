// Process logging with pino: JSON lines, or pino-pretty when stderr is a
// terminal. Every logger is registered by name (a node id, or `transport` for a
// process's links) so `strata logLevel` can change levels while it runs.
import pino, { type DestinationStream, type Logger as Pino } from 'pino';
import { createRequire } from 'node:module';
import type { LogLevel, Logger } from '../actors/env.js';
import { StrataError } from '../actors/protocol/envelope.js';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** The name that addresses every logger of a process at once (Alluxio's root logger). */
export const ROOT_LOGGER = 'root';

const registry = new Map<string, Set<Pino>>();
// pino-pretty is needed only on a terminal; required then, so other starts skip loading it.
const require = createRequire(import.meta.url);

export function isLogLevel(v: string): v is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(v);
}

function plain(v: unknown): unknown {
  return v instanceof Error ? v.message : v;
}

function destination(sink: ((line: string) => void) | undefined): DestinationStream {
  if (sink) {
    return {
      write(s: string) {
        try {
          sink(s.replace(/\n$/, ''));
        } catch {
          // A failing sink must not take the node down.
        }
      },
    };
  }
  if (process.stderr.isTTY) return (require('pino-pretty') as typeof import('pino-pretty'))({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:standard', ignore: 'pid,hostname', singleLine: true });
  return pino.destination({ dest: 2, sync: true });
}

/**
 * A named logger at `level`. `sink` receives each record as one JSON line (for
 * tests and embedding); without it records go to stderr.
 */
export function createLogger(name: string, level: LogLevel = 'info', sink?: (line: string) => void): Logger {
  const p = pino(
    { level, base: { node: name }, formatters: { level: (label) => ({ level: label }) }, timestamp: pino.stdTimeFunctions.isoTime },
    destination(sink),
  );
  let set = registry.get(name);
  if (!set) registry.set(name, (set = new Set()));
  set.add(p);
  return {
    log(lv, msg, fields) {
      if (!p.isLevelEnabled(lv)) return;
      // The message first, then the fields: a line reads (and greps) in the order it was said.
      const obj: Record<string, unknown> = { msg };
      if (fields) for (const [k, v] of Object.entries(fields)) if (k !== 'msg') obj[k] = plain(v);
      p[lv](obj);
    },
  };
}

/**
 * Sets the level of the loggers called `name` (all of them with `root`), or with
 * no level only reads it; returns each logger named and its level.
 */
export function setLogLevel(name: string, level?: string): Array<{ name: string; level: string }> {
  if (level !== undefined && !isLogLevel(level)) throw new StrataError('INVALID_ARGUMENT', `unknown log level ${JSON.stringify(level)}; one of ${LOG_LEVELS.join(', ')}`);
  const names = name === ROOT_LOGGER ? [...registry.keys()] : registry.has(name) ? [name] : [];
  if (names.length === 0) throw new StrataError('NOT_FOUND', `no logger named ${JSON.stringify(name)} here; known: ${[ROOT_LOGGER, ...registry.keys()].join(', ')}`);
  if (level !== undefined) for (const n of names) for (const p of registry.get(n)!) p.level = level;
  return names.sort().map((n) => ({ name: n, level: [...registry.get(n)!][0]?.level ?? 'info' }));
}
