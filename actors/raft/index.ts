// The embedded journal's consensus: a pure core driven by a host-side driver.
export { RaftNode, encodeConfChange, decodeConfChange } from './core.js';
export type { ReadResult, RaftStatus, ProgressStatus } from './core.js';
export { RaftLog, emptySnapshot } from './log.js';
export { Progress, type ProgressState } from './progress.js';
export * from './types.js';
export { RaftStorage, type RaftDiskState, type RaftStorageOptions, type RaftStorageStats } from './storage.js';
export {
  RaftDriver,
  NotLeaderError,
  isRaftMessage,
  type StateMachine,
  type RaftDriverOptions,
  type RaftDriverStatus,
  type RaftObserver,
} from './driver.js';
