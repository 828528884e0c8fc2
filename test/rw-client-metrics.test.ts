// Client read metrics: clients count bytes read short-circuit and streamed, and
// report them in a metrics heartbeat to the leading master, which sums them into
// strata_cluster_bytes_read_local_total and shows each client's counters.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StrataClient } from '../actors/client/client.js';
import { K } from '../actors/conf.js';
import { CLIENT_RETENTION_MS, ClientTotals } from '../actors/master/client-totals.js';
import { METRIC, metricsOf } from '../actors/metrics.js';
import type { NodeHost } from '../actors/node/nact-host.js';
import { MASTER_ID, clientOptions, clientRole } from '../actors/node/roles.js';
import { isStrataError } from '../actors/protocol/envelope.js';
import { parsePrometheus, sampleValue } from '../cli/prom-text.js';
import { renderPrometheus } from '../transport/metrics-http.js';
import { bytes } from './data-bed.js';
import { startLocalReadBed, until } from './helpers/local-read-bed.js';

const LOCAL = METRIC.clientBytesReadLocal.name;
const REMOTE = METRIC.clientBytesReadRemote.name;

describe('ClientTotals', () => {
  it('sums the latest report of each client; a restart, a forgotten client and a clear never lose or double count', () => {
    const t = new ClientTotals();
    t.report('a', [{ name: LOCAL, value: 100 }, { name: REMOTE, value: 5 }], 0);
    t.report('b', [{ name: LOCAL, value: 10 }], 0);
    // Reports are totals: a repeated one changes nothing.
    t.report('a', [{ name: LOCAL, value: 100 }, { name: REMOTE, value: 5 }], 10);
    expect(t.sum(LOCAL)).toBe(110);
    expect(t.perClient(LOCAL)).toEqual([['a', 100], ['b', 10]]);
    // `a` restarted under the same id: it counts from zero, its old bytes stay counted.
    t.report('a', [{ name: LOCAL, value: 7 }, { name: REMOTE, value: 0 }], 20);
    expect(t.sum(LOCAL)).toBe(117);
    expect(t.sum(REMOTE)).toBe(5);
    // `b` falls silent: it leaves the per-client series, not the total.
    t.report('a', [{ name: LOCAL, value: 8 }, { name: REMOTE, value: 0 }], 20 + CLIENT_RETENTION_MS + 1);
    expect(t.perClient(LOCAL)).toEqual([['a', 8]]);
    expect(t.sum(LOCAL)).toBe(118);
    // After a clear only what is read from then on counts, though clients keep their totals.
    t.clear();
    expect(t.sum(LOCAL)).toBe(0);
    t.report('a', [{ name: LOCAL, value: 11 }, { name: REMOTE, value: 0 }], 30 + CLIENT_RETENTION_MS);
    expect(t.sum(LOCAL)).toBe(3);
    expect(t.perClient(LOCAL)).toEqual([['a', 3]]);
  });
});

const MIB = 1024 * 1024;
let dir: string;
let server: NodeHost;
let clients: NodeHost;
const data = bytes(2 * MIB + 4321, 9);

const client = (id: string): StrataClient => clients.actor(id) as StrataClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-rw-cm-'));
  ({ server, clients } = await startLocalReadBed(dir, data, {
    secret: 'rw-cm',
    writer: 'client-stream',
    conf: { [K.userMetricsHeartbeat]: '50ms' },
    others: (user, conf) => [
      { id: 'client-quiet', dataDir: join(dir, 'client-quiet'), create: clientRole({ ...clientOptions(conf({ [K.userMetricsCollection]: 'false' }), user), cache: undefined }) },
    ],
  }));
}, 30_000);

afterAll(async () => {
  await clients?.shutdown();
  await server?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('client metrics heartbeat', () => {
  it('the master\'s /metrics shows the bytes clients read short-circuit and streamed, per client and for the cluster', async () => {
    const master = metricsOf(server.env(MASTER_ID));
    const before = master.value(METRIC.clusterBytesReadLocal.name) ?? 0;
    await client('client-sc').readFile('/f');
    await client('client-stream').readFile('/f');
    await client('client-quiet').readFile('/f');
    const sc = client('client-sc').counters;
    expect(sc.bytesReadShortCircuit).toBe(data.byteLength);
    await until('the short-circuit bytes reaching the master', () => (master.value(METRIC.clusterBytesReadLocal.name) ?? 0) - before === data.byteLength);
    await until('the streamed bytes reaching the master', () => (master.value(REMOTE, { client: 'client-stream' }) ?? 0) >= data.byteLength);
    const p = parsePrometheus(await renderPrometheus([[MASTER_ID, master]]));
    expect(sampleValue(p, METRIC.clusterBytesReadLocal.name)).toBe(sc.bytesReadShortCircuit);
    expect(sampleValue(p, LOCAL, { client: 'client-sc' })).toBe(sc.bytesReadShortCircuit);
    expect(sampleValue(p, LOCAL, { client: 'client-stream' })).toBe(0);
    expect(sampleValue(p, REMOTE, { client: 'client-stream' })).toBe(client('client-stream').counters.bytesRead);
    // With collection off a client reports nothing.
    expect(sampleValue(p, REMOTE, { client: 'client-quiet' })).toBeUndefined();
  });

  it('the master refuses a report that is not a count', async () => {
    const c = client('client-quiet');
    const err = await c.callMaster({ t: 'ClientMetrics', clientId: 'client-quiet', metrics: [{ name: LOCAL, value: -1 }] }, 'Ok').catch((e: unknown) => e);
    expect(isStrataError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect(metricsOf(server.env(MASTER_ID)).value(LOCAL, { client: 'client-quiet' })).toBeUndefined();
  });
});
