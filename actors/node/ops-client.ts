// The CLI's side of the operations service: requests to any master or worker
// process (by node id), answered by its host (see ops-service.ts).
import type { Actor, Env, NodeId } from '../env.js';
import type { Envelope, Message } from '../protocol/envelope.js';
import type { Infer } from '../../transport/schema.js';
import type * as O from '../protocol/ops.js';
import { Rpc } from '../rpc.js';

export class OpsClient implements Actor {
  private readonly rpc: Rpc;

  /** `identity`: who asks (administrative requests are the superuser's). */
  constructor(env: Env, timeoutMs: number, identity: { user: string; groups: readonly string[] }) {
    this.rpc = new Rpc(env, timeoutMs);
    this.rpc.identity = identity;
  }

  async start(): Promise<void> {}

  receive(envelope: Envelope): void {
    this.rpc.handle(envelope);
  }

  async stop(): Promise<void> {
    this.rpc.stop();
  }

  conf(node: NodeId): Promise<Infer<typeof O.ConfReply>> {
    return this.rpc.request(node, { t: 'GetConf' }, 'ConfReply');
  }

  /** Without `level`, only reads the levels. */
  async logLevel(node: NodeId, logName: string, level?: string): Promise<Infer<typeof O.LogLevelReply>['loggers']> {
    const m: Infer<typeof O.SetLogLevel> = { t: 'SetLogLevel', logName, ...(level !== undefined ? { level } : {}) };
    return (await this.rpc.request<Infer<typeof O.LogLevelReply>>(node, m, 'LogLevelReply')).loggers;
  }

  async metrics(node: NodeId): Promise<string> {
    return (await this.rpc.request<Infer<typeof O.MetricsReply>>(node, { t: 'GetMetrics' }, 'MetricsReply')).text;
  }

  async clearMetrics(node: NodeId): Promise<void> {
    await this.rpc.request<Message>(node, { t: 'ClearMetrics' }, 'Ok');
  }

  async setUfsMode(node: NodeId, ufsUri: string, mode: Infer<typeof O.SetUfsMode>['mode']): Promise<void> {
    const m: Infer<typeof O.SetUfsMode> = { t: 'SetUfsMode', ufsUri, mode };
    await this.rpc.request<Message>(node, m, 'Ok');
  }

  async ufsModes(node: NodeId): Promise<Infer<typeof O.UfsModesReply>['modes']> {
    return (await this.rpc.request<Infer<typeof O.UfsModesReply>>(node, { t: 'GetUfsModes' }, 'UfsModesReply')).modes;
  }
}
