#!/usr/bin/env node
// `npm run bench -- NAME [args]`: compiles when dist is missing or older than the
// sources, then runs dist/bench/NAME.js, which prints `RESULT NAME ratio=<x>`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [name, ...args] = process.argv.slice(2);
const available = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .map((f) => f.slice(0, -3))
  .sort();

if (!name || !available.includes(name)) {
  process.stderr.write(`${name ? `unknown benchmark ${JSON.stringify(name)}\n` : ''}usage: npm run bench -- NAME\nbenchmarks: ${available.join(', ')}\n`);
  process.exit(2);
}

function newestSource(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

const out = join(root, 'dist', 'bench', `${name}.js`);
const sources = Math.max(
  statSync(join(root, 'tsconfig.json')).mtimeMs,
  ...['actors', 'transport', 'storage', 'sim', 'cli', 'bench'].map((d) => newestSource(join(root, d))),
);
if (!existsSync(out) || statSync(out).mtimeMs < sources) {
  process.stderr.write('compiling (npx tsc -p .)...\n');
  const r = spawnSync('npx', ['tsc', '-p', '.'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    // tsc still emits on type errors; run what was emitted rather than nothing.
    if (!existsSync(out)) process.exit(r.status ?? 1);
    process.stderr.write('tsc reported errors; running the emitted JavaScript anyway\n');
  }
}

const child = spawn(process.execPath, [out, ...args], { cwd: root, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
