#!/usr/bin/env node
// The `strata` executable: runs the CLI compiled by `npm run build` (which `npm ci` runs through `prepare`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/strata.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('strata is not built yet: run `npm run build` (npm ci does it through `prepare`)\n');
  process.exit(1);
}
await import(entry.href);
