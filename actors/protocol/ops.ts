// Operations service: answered by the process hosting a master or worker (not by
// the actor), for `strata getConf --master`, `strata logLevel`, `fsadmin metrics`
// and `fsadmin ufs --mode`.
import { arr, msg, obj, oneOf, opt, str, strMax, type Infer } from '../../transport/schema.js';

export const GetConf = msg('GetConf', {});
export const ConfReply = msg('ConfReply', { entries: arr(obj({ name: strMax(512), value: strMax(65536), source: strMax(64) }), 10_000) });
/** Without `level`: only reports the levels of the loggers `logName` names. */
export const SetLogLevel = msg('SetLogLevel', { logName: strMax(512), level: opt(strMax(16)) });
export const LogLevelReply = msg('LogLevelReply', { loggers: arr(obj({ name: strMax(512), level: strMax(16) }), 1000) });
/** Prometheus text of the node's registry (for the leading master: with the cluster totals). */
export const GetMetrics = msg('GetMetrics', {});
export const MetricsReply = msg('MetricsReply', { text: str });
export const ClearMetrics = msg('ClearMetrics', {});
export const SetUfsMode = msg('SetUfsMode', { ufsUri: strMax(4096), mode: oneOf('noAccess', 'readOnly', 'readWrite') });
export const GetUfsModes = msg('GetUfsModes', {});
export const UfsModesReply = msg('UfsModesReply', { modes: arr(obj({ root: strMax(4096), mode: strMax(16) }), 10_000) });

export const OPS_MESSAGES = [GetConf, ConfReply, SetLogLevel, LogLevelReply, GetMetrics, MetricsReply, ClearMetrics, SetUfsMode, GetUfsModes, UfsModesReply] as const;

/** Requests the host answers itself. */
export const OPS_REQUESTS: ReadonlySet<string> = new Set(['GetConf', 'SetLogLevel', 'GetMetrics', 'ClearMetrics', 'SetUfsMode', 'GetUfsModes']);

export type OpsRequest =
  | Infer<typeof GetConf>
  | Infer<typeof SetLogLevel>
  | Infer<typeof GetMetrics>
  | Infer<typeof ClearMetrics>
  | Infer<typeof SetUfsMode>
  | Infer<typeof GetUfsModes>;
