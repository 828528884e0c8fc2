// Worker service: block reads (streamed with credits) and writes through to the UFS.
import { bool, bytes, msg, num, opt, strMax, uint, type Infer } from '../../transport/schema.js';

/**
 * Streams `length` bytes from `offset` inside block `blockId`. On a cache miss the
 * worker reads the block through from the UFS at the location the master gives it
 * for the block's file (see GetUfsLocation): a client never names UFS paths. The
 * worker sends BlockChunk frames (re = this request's id) while it holds credits;
 * `window` is the initial grant.
 */
export const ReadBlock = msg('ReadBlock', {
  blockId: uint,
  offset: uint,
  length: uint,
  window: uint,
  cache: bool,
  /** CACHE_PROMOTE: move a block found on a lower tier up to the top one. */
  promote: opt(bool),
});
export const BlockChunk = msg('BlockChunk', { seq: uint, data: bytes, last: bool, cached: bool });
/** One-way: grants `n` more chunks to stream `stream` (the ReadBlock's id). */
export const ReadCredit = msg('ReadCredit', { stream: uint, n: uint });
export const ReadCancel = msg('ReadCancel', { stream: uint });

/**
 * Short-circuit read (Alluxio's local block reader): a client on the worker's host
 * asks where a cached block's file is. The worker keeps the file from being
 * deleted (evicted, moved, freed) until CloseLocalBlock or until the lease has
 * been idle for `leaseMs`. NOT_FOUND when the block is not cached here,
 * FAILED_PRECONDITION when `host` is not this worker's host or the block's
 * directory cannot be opened by another process.
 */
export const OpenLocalBlock = msg('OpenLocalBlock', { blockId: uint, host: strMax(256), promote: opt(bool) });
/** `dirUri` is a directory another process on the host can open; `path` the block file within it. */
export const LocalBlock = msg('LocalBlock', { lease: uint, dirUri: strMax(4096), path: strMax(4096), length: uint, leaseMs: uint });
/** One-way: the client is done with the block file. */
export const CloseLocalBlock = msg('CloseLocalBlock', { lease: uint });

/**
 * Worker to master: where a file lives in the UFS. With `write`, the file must be
 * one being written (incomplete); otherwise one that is complete. Only registered
 * workers are answered, so the UFS paths a worker touches are always the master's.
 */
export const GetUfsLocation = msg('GetUfsLocation', { fileId: uint, write: bool });
export const UfsLocation = msg('UfsLocation', {
  ufsMount: strMax(4096),
  ufsPath: strMax(4096),
  blockSize: uint,
  length: uint,
  mtimeMs: num,
  persisted: bool,
});

/** Opens a write of a whole file through this worker to the UFS; reply WriteReady. */
export const WriteOpen = msg('WriteOpen', {
  /** A file being written; its UFS location and block size come from the master. */
  fileId: uint,
  cache: bool,
  /** false: MUST_CACHE, the blocks are kept on this worker only and the UFS is not written. */
  ufs: opt(bool),
  /** The file's length, when the client knows it: each block then goes to its file as it streams in. */
  length: opt(uint),
});
export const WriteReady = msg('WriteReady', { stream: uint, window: uint });
/** Request; the WriteAck reply returns one credit. Chunks must arrive in `seq` order. */
export const WriteChunk = msg('WriteChunk', { stream: uint, seq: uint, data: bytes });
export const WriteAck = msg('WriteAck', { seq: uint });
export const WriteClose = msg('WriteClose', { stream: uint, chunks: uint, abort: bool });
export const WriteDone = msg('WriteDone', { length: uint, mtimeMs: uint });

export const WORKER_MESSAGES = [
  ReadBlock, BlockChunk, ReadCredit, ReadCancel, OpenLocalBlock, LocalBlock, CloseLocalBlock, GetUfsLocation, UfsLocation, WriteOpen, WriteReady, WriteChunk, WriteAck, WriteClose, WriteDone,
] as const;

export type WorkerRequest =
  | Infer<typeof ReadBlock>
  | Infer<typeof ReadCredit>
  | Infer<typeof ReadCancel>
  | Infer<typeof OpenLocalBlock>
  | Infer<typeof CloseLocalBlock>
  | Infer<typeof WriteOpen>
  | Infer<typeof WriteChunk>
  | Infer<typeof WriteClose>;
