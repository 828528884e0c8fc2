// The operations service a process answers for the nodes it hosts (see
// protocol/ops.ts): its configuration, log levels, metrics and UFS modes.
import type { Conf } from '../conf.js';
import type { Env } from '../env.js';
import { metricsOf } from '../metrics.js';
import type { Message } from '../protocol/envelope.js';
import type { OpsRequest } from '../protocol/ops.js';
import { setLogLevel } from '../../transport/logging.js';
import { renderPrometheus } from '../../transport/metrics-http.js';
import { ufsRoot } from '../../transport/real-env.js';
import { ufsModes } from '../../transport/ufs-mode.js';

export async function answerOps(conf: Conf, nodeId: string, env: Env, m: OpsRequest): Promise<Message> {
  switch (m.t) {
    case 'GetConf':
      return { t: 'ConfReply', entries: conf.entries() } as Message;
    case 'SetLogLevel':
      return { t: 'LogLevelReply', loggers: setLogLevel(m.logName, m.level) } as Message;
    case 'GetMetrics':
      return { t: 'MetricsReply', text: await renderPrometheus([[nodeId, metricsOf(env)]]) } as Message;
    case 'ClearMetrics':
      metricsOf(env).clear();
      return { t: 'Ok' };
    case 'SetUfsMode':
      ufsModes.set(ufsRoot(m.ufsUri), m.mode);
      return { t: 'Ok' };
    case 'GetUfsModes':
      return { t: 'UfsModesReply', modes: ufsModes.entries().map(([root, mode]) => ({ root, mode })) } as Message;
  }
}
