// Master service: namespace operations for clients, registration and heartbeats for workers.
import { arr, bool, bytes, int, msg, num, obj, oneOf, opt, str, strMax, uint, type Infer } from '../../transport/schema.js';

const path = strMax(4096);

export const BlockLocation = obj({ workerId: strMax(256), address: strMax(512) });
export type BlockLocation = Infer<typeof BlockLocation>;

export const BlockInfo = obj({ id: uint, offset: uint, length: uint, locations: arr(BlockLocation, 1024) });
export type BlockInfo = Infer<typeof BlockInfo>;

export const FileInfo = obj({
  fileId: uint,
  path,
  name: strMax(1024),
  isDir: bool,
  length: uint,
  mtimeMs: num,
  blockSize: uint,
  completed: bool,
  persisted: bool,
  /** The UFS that holds the file and the file's path relative to it, for read-through. */
  ufsMount: strMax(4096),
  ufsPath: path,
  owner: strMax(256),
  group: strMax(256),
  mode: uint,
  pinned: bool,
  ttl: opt(int),
  ttlAction: opt(strMax(16)),
  blocks: arr(BlockInfo, 1_000_000),
});
export type FileInfo = Infer<typeof FileInfo>;

export const WorkerInfo = obj({
  id: strMax(256),
  address: strMax(512),
  capacityBytes: uint,
  usedBytes: uint,
  lastHeartbeatMs: num,
  state: strMax(16),
  blockCount: uint,
});
export type WorkerInfo = Infer<typeof WorkerInfo>;

export const RegisterWorker = msg('RegisterWorker', {
  workerId: strMax(256),
  address: strMax(512),
  capacityBytes: uint,
  usedBytes: uint,
  blocks: arr(uint, 10_000_000),
  /** As in WorkerHeartbeat: asked at once, so a restarted worker's recovered blocks do not hold its tiers until a heartbeat. */
  unpersistedFiles: opt(arr(uint, 10_000_000)),
});
/** `persistedFiles`: as in HeartbeatReply. */
export const RegisterWorkerOk = msg('RegisterWorkerOk', { persistedFiles: opt(arr(uint, 10_000_000)) });
export const WorkerHeartbeat = msg('WorkerHeartbeat', {
  workerId: strMax(256),
  capacityBytes: uint,
  usedBytes: uint,
  added: arr(uint, 10_000_000),
  removed: arr(uint, 10_000_000),
  /** The worker's metrics (counters since start, capacity per tier), summed by the master into cluster metrics. */
  metrics: opt(arr(obj({ name: strMax(200), tier: opt(strMax(16)), value: num }), 1000)),
  /** Files of which the worker holds blocks it keeps as the only copy (not known to be persisted). */
  unpersistedFiles: opt(arr(uint, 10_000_000)),
  /** Of `unpersistedFiles`, those the worker has had no write stream for in 2 × its RPC timeout: it asks to release their blocks. */
  releaseFiles: opt(arr(uint, 10_000_000)),
});
/** A client's metrics heartbeat: its counters since it started (names from METRIC.client*), answered with Ok. */
export const ClientMetrics = msg('ClientMetrics', {
  clientId: strMax(256),
  metrics: arr(obj({ name: strMax(200), value: num }), 100),
});
/**
 * `register`: the master does not know this worker (restarted, or marked it lost).
 * `pinnedFiles`: ids of every pinned file (their blocks must not be evicted);
 * `free`: blocks to drop (fs free);
 * `persistedFiles`: those of the heartbeat's `unpersistedFiles` that are persisted now,
 * whose blocks the worker may evict again;
 * `releasedFiles`: those of its `releaseFiles` that are deleted or were never completed
 * (abandoned writes, which can no longer be completed): the worker removes their blocks.
 */
export const HeartbeatReply = msg('HeartbeatReply', {
  cmd: strMax(16), pinnedFiles: opt(arr(uint, 10_000_000)), free: opt(arr(uint, 10_000_000)), persistedFiles: opt(arr(uint, 10_000_000)),
  releasedFiles: opt(arr(uint, 10_000_000)),
});

/** `forRead`: the caller is about to read the file's data, so read permission is checked too. */
/**
 * `syncMs`: strata.user.file.metadata.sync.interval: -1 never re-checks the UFS, 0
 * always does, N does when the directory was last synced more than N ms ago.
 * `load`: strata.user.file.metadata.load.type (absent: ONCE).
 */
export const GetStatus = msg('GetStatus', { path, forRead: opt(bool), syncMs: opt(int), load: opt(oneOf('ONCE', 'ALWAYS', 'NEVER')) });
export const ListStatus = msg('ListStatus', { path, syncMs: opt(int), load: opt(oneOf('ONCE', 'ALWAYS', 'NEVER')) });
/** fs checkConsistency: paths whose metadata differs from the UFS; with `repair`, synced. */
export const CheckConsistency = msg('CheckConsistency', { path, repair: bool });
export const ConsistencyReply = msg('ConsistencyReply', { inconsistent: arr(strMax(4096), 1_000_000) });
/** fs loadMetadata: re-reads a directory (and with `recursive`, what is below) from the UFS. */
export const LoadMetadata = msg('LoadMetadata', { path, recursive: bool });
export const FileInfoReply = msg('FileInfoReply', { info: FileInfo });
export const ListStatusReply = msg('ListStatusReply', { entries: arr(FileInfo, 10_000_000) });
/**
 * `rid` on a mutation: the client's id for the request, the same on every retry,
 * so a master answers a retry of an applied request instead of applying it twice.
 */
const rid = opt(uint);
export const CreateDirectory = msg('CreateDirectory', { path, recursive: bool, rid });
export const CreateFile = msg('CreateFile', { path, overwrite: bool, blockSize: opt(uint), rid });
/** `fileId`: the inode CreateFile made; a file replaced meanwhile is not completed by its stale writer. */
/** `persisted: false`: written MUST_CACHE, only on workers; the UFS holds nothing to check. */
export const CompleteFile = msg('CompleteFile', { path, length: uint, fileId: opt(uint), persisted: opt(bool), asyncPersist: opt(bool), rid });
/**
 * `unchecked` (rm -U): skip the check that the UFS holds nothing under the path strata
 * does not know. `strataOnly` (Alluxio's --alluxioOnly): leave the UFS alone.
 */
export const Delete = msg('Delete', { path, recursive: bool, unchecked: opt(bool), strataOnly: opt(bool), rid });
export const Rename = msg('Rename', { src: path, dst: path, rid });
/** chown (owner; superuser only), chgrp (group), chmod (mode bits); with `recursive`, the whole subtree. */
export const SetAttribute = msg('SetAttribute', {
  path, owner: opt(strMax(256)), group: opt(strMax(256)), mode: opt(uint), pinned: opt(bool),
  /** fs setTtl/unsetTtl: ms after the modification time (-1 removes the TTL), and what then happens. */
  ttl: opt(int), ttlAction: opt(oneOf('DELETE', 'FREE')),
  recursive: bool, rid,
});
/** fs free: drop the cached blocks of the files under `path` (pinned ones too with `force`). */
export const Free = msg('Free', { path, force: bool, rid });
const mountOptions = arr(arr(strMax(4096), 2), 256);
export const Mount = msg('Mount', { path, ufsUri: strMax(4096), readOnly: bool, shared: bool, options: mountOptions, rid });
export const Unmount = msg('Unmount', { path, rid });
export const UpdateMount = msg('UpdateMount', { path, readOnly: bool, shared: bool, options: mountOptions, rid });
export const MountPointInfo = obj({ path, ufsUri: strMax(4096), readOnly: bool, shared: bool, options: mountOptions });
export type MountPointInfo = Infer<typeof MountPointInfo>;
export const GetMountTable = msg('GetMountTable', {});
export const MountTableReply = msg('MountTableReply', { mounts: arr(MountPointInfo, 100_000) });
export const GetWorkers = msg('GetWorkers', {});
export const WorkersReply = msg('WorkersReply', { workers: arr(WorkerInfo, 100_000) });
export const GetMasterInfo = msg('GetMasterInfo', {});
export const MasterInfoReply = msg('MasterInfoReply', {
  masterId: strMax(256),
  rootUfs: strMax(4096),
  journalSeq: uint,
  inodes: uint,
  liveWorkers: uint,
  lostWorkers: uint,
  startedAtMs: num,
  version: str,
  /** The embedded journal's view from this master; absent with the UFS journal. */
  role: opt(strMax(32)),
  leader: opt(strMax(256)),
  term: opt(uint),
  commit: opt(uint),
  voters: opt(arr(strMax(256), 64)),
});
/** Journal quorum administration (fsadmin journal quorum elect/remove), sent to the leader. */
export const TransferLeadership = msg('TransferLeadership', { to: strMax(256) });
export const RemoveMaster = msg('RemoveMaster', { id: strMax(256) });
export const AddMaster = msg('AddMaster', { id: strMax(256) });
/** fsadmin backup: the leader's namespace at one journal position (a consistent snapshot). */
export const Backup = msg('Backup', {});
export const BackupReply = msg('BackupReply', { masterId: strMax(256), seq: uint, inodes: uint, data: bytes });
/** fsadmin journal checkpoint: snapshot the namespace and compact the journal now. */
export const Checkpoint = msg('Checkpoint', {});
export const CheckpointReply = msg('CheckpointReply', { index: uint });

export const MASTER_MESSAGES = [
  RegisterWorker, RegisterWorkerOk, WorkerHeartbeat, HeartbeatReply,
  GetStatus, ListStatus, FileInfoReply, ListStatusReply, CreateDirectory, CreateFile, CompleteFile, Delete, Rename,
  GetWorkers, WorkersReply, GetMasterInfo, MasterInfoReply, Mount, Unmount, UpdateMount, GetMountTable, MountTableReply, SetAttribute, TransferLeadership, RemoveMaster, AddMaster, Backup, BackupReply, Checkpoint, CheckpointReply,
  CheckConsistency, ConsistencyReply, LoadMetadata, Free, ClientMetrics,
] as const;

export type MasterRequest =
  | Infer<typeof RegisterWorker>
  | Infer<typeof WorkerHeartbeat>
  | Infer<typeof GetStatus>
  | Infer<typeof ListStatus>
  | Infer<typeof CreateDirectory>
  | Infer<typeof CreateFile>
  | Infer<typeof CompleteFile>
  | Infer<typeof Delete>
  | Infer<typeof Rename>
  | Infer<typeof Mount>
  | Infer<typeof SetAttribute>
  | Infer<typeof Unmount>
  | Infer<typeof UpdateMount>
  | Infer<typeof GetMountTable>
  | Infer<typeof GetWorkers>
  | Infer<typeof GetMasterInfo>;
