// `npm test`: builds (integration tests run the compiled CLI), runs vitest, and
// ends with the one line CI reads: `N passed, N failed`. The real-process
// integration tests, which measure failover against wall-clock bounds, run after
// the rest, one file at a time, so CPU-heavy simulation sweeps do not starve them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
if (build.status !== 0) {
  console.log('build failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

// The tests themselves are type-checked too (tsconfig.json covers only the
// sources): a test that no longer matches the types it exercises counts as a failure.
const typecheck = spawnSync('npx', ['tsc', '-p', 'tsconfig.test.json'], { stdio: 'inherit' });
if (typecheck.status !== 0) console.log('type check of the tests failed');

const dir = mkdtempSync(join(tmpdir(), 'strata-test-'));
const extra = process.argv.slice(2);
const INTEGRATION = 'test/integration-';

function vitest(name, args) {
  const report = join(dir, `${name}.json`);
  const run = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args], { stdio: 'inherit' });
  let passed = 0;
  let failed = 0;
  try {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    passed = r.numPassedTests ?? 0;
    failed = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTests ?? 0);
    // A file that fails to load has no tests to count: count it as a failure.
    for (const f of r.testResults ?? []) if (f.status === 'failed' && (f.assertionResults ?? []).length === 0) failed++;
  } catch {
    failed = Math.max(failed, 1);
  }
  if (run.status !== 0 && failed === 0) failed = 1;
  return { passed, failed };
}

const results =
  extra.length > 0
    ? [vitest('selected', extra)]
    : [vitest('unit', ['--exclude', `${INTEGRATION}*`]), vitest('integration', ['--no-file-parallelism', INTEGRATION])];
rmSync(dir, { recursive: true, force: true });
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0) + (typecheck.status !== 0 ? 1 : 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
