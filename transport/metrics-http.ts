// The web port of a master or worker: Prometheus text at /metrics (rendered by
// prom-client from the nodes' plain-data registries) and a health check at /.
import { createServer, type Server } from 'node:http';
import type { MetricFamily, Metrics } from '../actors/metrics.js';
import { StrataError } from '../actors/protocol/envelope.js';

/** What prom-client's Registry reads from a metric's get(): one sample per line. */
interface PromSample {
  metricName?: string;
  labels: Record<string, string>;
  value: number;
}

function promValues(f: MetricFamily, extra: Record<string, string>): PromSample[] {
  const out: PromSample[] = [];
  for (const s of f.samples) {
    const labels = { ...s.labels, ...extra };
    if (f.type !== 'histogram') {
      out.push({ labels, value: s.value });
      continue;
    }
    const bounds = f.bounds ?? [];
    (s.buckets ?? []).forEach((n, i) => out.push({ metricName: `${f.name}_bucket`, labels: { ...labels, le: i < bounds.length ? String(bounds[i]) : '+Inf' }, value: n }));
    out.push({ metricName: `${f.name}_sum`, labels, value: s.sum ?? 0 });
    out.push({ metricName: `${f.name}_count`, labels, value: s.value });
  }
  return out;
}

/**
 * Prometheus text exposition of several nodes' registries; with more than one
 * node, each sample carries a `node` label so their series stay apart.
 */
export async function renderPrometheus(nodes: ReadonlyArray<readonly [string, Metrics]>): Promise<string> {
  const merged = new Map<string, { f: MetricFamily; values: PromSample[] }>();
  for (const [node, m] of nodes) {
    for (const f of m.snapshot()) {
      const values = promValues(f, nodes.length > 1 ? { node } : {});
      const prev = merged.get(f.name);
      if (prev) prev.values.push(...values);
      else merged.set(f.name, { f, values });
    }
  }
  // Loaded on first use: a CLI process that never renders should not pay for it at start.
  const { Registry } = await import('prom-client');
  const reg = new Registry();
  for (const { f, values } of merged.values()) {
    const snapshot = { name: f.name, help: f.help, type: f.type, aggregator: 'sum', values };
    // prom-client renders any object with this shape; the values are already computed.
    reg.registerMetric({ ...snapshot, get: async () => snapshot, reset: () => {} } as unknown as Parameters<InstanceType<typeof Registry>['registerMetric']>[0]);
  }
  return reg.metrics();
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface WebServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on host:port (0 picks a free port); a port in use fails with one clear error. */
export async function startWebServer(host: string, port: number, nodes: () => ReadonlyArray<readonly [string, Metrics]>): Promise<WebServer> {
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('only GET\n');
      return;
    }
    if (url === '/metrics' || url === '/metrics/prometheus') {
      renderPrometheus(nodes()).then(
        (text) => res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(text),
        (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`),
      );
      return;
    }
    if (url === '/' || url === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok ${nodes().map(([n]) => n).join(',')}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new StrataError('UNAVAILABLE', e.code === 'EADDRINUSE' ? `web port ${host}:${port} is in use (set strata.master.web.port / strata.worker.web.port)` : `web server on ${host}:${port}: ${e.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
