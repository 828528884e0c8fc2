// A shell command's client reads and exits long before its first metrics
// heartbeat (10 s by default): it reports its byte counters as it ends, and the
// master takes them before the command's host stops.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Conf, K } from '../actors/conf.js';
import { METRIC, metricsOf } from '../actors/metrics.js';
import type { NodeHost } from '../actors/node/nact-host.js';
import { masterIdOf } from '../actors/node/roles.js';
import { withClient } from '../cli/cluster.js';
import { registerFsCommands } from '../cli/fs-commands.js';
import { bytes } from './data-bed.js';
import { cliRunner, startCliCluster, stopCliCluster } from './helpers/cli-cluster.js';
import { freePort } from './helpers/processes.js';

let dir: string;
let conf: Conf;
const hosts: NodeHost[] = [];
const strata = cliRunner((program, out) => registerFsCommands(program.command('fs'), () => conf, out));
const data = bytes(300 * 1024 + 17, 4);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-climetrics-'));
  conf = new Conf().with({
    [K.workDir]: dir, [K.masterRpcPort]: String(await freePort()), [K.workerRpcPort]: '0', [K.workerHeartbeatInterval]: '100ms',
    [K.userBlockSize]: '128KB', [K.logLevel]: 'error', [K.rpcTimeout]: '5s',
  });
  expect(conf.ms(K.userMetricsHeartbeat)).toBe(10_000);
  hosts.push(...(await startCliCluster(conf, 1)));
  await withClient(conf, (c) => c.writeFile('/f', data, { writeType: 'MUST_CACHE' }));
}, 30_000);

afterAll(() => stopCliCluster(hosts, dir));

/** What every client has reported to the master: bytes read short-circuit plus streamed. */
function reportedBytes(): number {
  const m = metricsOf(hosts[0]!.env(masterIdOf(conf)));
  const family = (name: string) => m.snapshot().find((f) => f.name === name)?.samples ?? [];
  return [METRIC.clientBytesReadLocal.name, METRIC.clientBytesReadRemote.name]
    .flatMap(family)
    .reduce((n, s) => n + s.value, 0);
}

describe('a one-shot CLI command', () => {
  it('reports the bytes it read to the master before it exits', async () => {
    const before = reportedBytes();
    const started = Date.now();
    await strata('fs', 'copyToLocal', '/f', join(dir, 'copy'));
    const took = Date.now() - started;
    expect(readFileSync(join(dir, 'copy')).equals(data)).toBe(true);
    // Read at once, without waiting: the master already holds the command's report.
    expect(reportedBytes() - before).toBe(data.byteLength);
    // The master answered the report: the command was not held up until the flush gave up (2 s).
    expect(took).toBeLessThan(2000);
  });
});
