// Builds a Conf from its sources: defaults < conf/strata-site.properties <
// environment (STRATA_MASTER_HOSTNAME for strata.master.hostname) < --conf k=v.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Conf, ConfError, PROPERTY_KEYS } from '../actors/conf.js';

export function envVarName(key: string): string {
  return key.toUpperCase().replace(/[.-]/g, '_');
}

export function parseProperties(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith('!')) return;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(t);
    if (!m) throw new ConfError(`${file}:${i + 1}: expected key=value`);
    out[m[1]!] = m[2]!;
  });
  return out;
}

export function parseConfFlags(flags: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flags) {
    const i = f.indexOf('=');
    if (i <= 0) throw new ConfError(`--conf expects key=value, got ${JSON.stringify(f)}`);
    out[f.slice(0, i).trim()] = f.slice(i + 1).trim();
  }
  return out;
}

export function loadConf(opts: { confFlags?: readonly string[]; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Conf {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const dir = env.STRATA_CONF_DIR ?? join(cwd, 'conf');
  const site = join(dir, 'strata-site.properties');
  const fromFile = existsSync(site) ? parseProperties(readFileSync(site, 'utf8'), site) : {};
  const fromEnv: Record<string, string> = {};
  for (const name of PROPERTY_KEYS.keys()) {
    const v = env[envVarName(name)];
    if (v !== undefined) fromEnv[name] = v;
  }
  return new Conf([
    ['site-properties', fromFile],
    ['environment', fromEnv],
    ['command-line', parseConfFlags(opts.confFlags ?? [])],
  ]);
}
