// The operations service a process answers for the nodes it hosts (see
// protocol/ops.ts): its configuration, log levels, metrics and UFS modes.
import { K, type Conf } from '../conf.js';
import type { Env } from '../env.js';
import { metricsOf } from '../metrics.js';
import { StrataError, type Envelope, type Message } from '../protocol/envelope.js';
import { isSuper } from '../master/permissions.js';
import type { OpsRequest } from '../protocol/ops.js';
import { setLogLevel } from '../../transport/logging.js';
import { renderPrometheus } from '../../transport/metrics-http.js';
import { ufsRoot } from '../../transport/real-env.js';
import { ufsModes } from '../../transport/ufs-mode.js';

/** Requests that change how the process runs: the superuser's (or the supergroup's) alone, as for fsadmin in Alluxio. */
const ADMIN_ONLY = new Set(['SetUfsMode', 'ClearMetrics']);

export async function answerOps(conf: Conf, superuser: string, nodeId: string, env: Env, req: Envelope<OpsRequest>): Promise<Message> {
  const m = req.m;
  const changesLevel = m.t === 'SetLogLevel' && m.level !== undefined;
  if (ADMIN_ONLY.has(m.t) || changesLevel) {
    const policy = { enabled: conf.bool(K.permissionEnabled), superuser, supergroup: conf.str(K.permissionSupergroup), umask: 0 };
    const caller = { user: req.u ?? '', groups: req.g ?? [] };
    if (!isSuper(policy, caller)) throw new StrataError('PERMISSION_DENIED', `${m.t} is for the superuser ${superuser} or the group ${policy.supergroup}; ${caller.user || 'an anonymous caller'} is neither`);
  }
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
