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

/** The largest range a ReadRange may ask for: one reply holds it, with no flow control. */
export const READ_RANGE_MAX_BYTES = 1024 * 1024;

/**
 * A small range of a block in a single reply (BlockRange): a positioned read costs
 * one request and one answer, not a stream's setup. Served as ReadBlock serves it
 * (cache hit, read-through on a miss, NO_CACHE, CACHE_PROMOTE); `length` is at most
 * READ_RANGE_MAX_BYTES, or INVALID_ARGUMENT.
 */
export const ReadRange = msg('ReadRange', {
  blockId: uint,
  offset: uint,
  length: uint,
  cache: bool,
  promote: opt(bool),
});
/** `cached`: the bytes came from this worker's cache or were read through into it; false for NO_CACHE straight from the UFS. */
export const BlockRange = msg('BlockRange', { data: bytes, cached: bool });

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
 * One-way, client → a worker on its host (passive caching, Alluxio's async cache
 * request): the client just had block `blockId` of `path` streamed from a worker
 * on another host; this worker fetches a copy from a holder, reading as the
 * client's user, so the next read on this host is local.
 */
export const CacheBlock = msg('CacheBlock', { path: strMax(4096), blockId: uint });

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
  ReadBlock, BlockChunk, ReadCredit, ReadCancel, ReadRange, BlockRange, OpenLocalBlock, LocalBlock, CloseLocalBlock, CacheBlock, GetUfsLocation, UfsLocation, WriteOpen, WriteReady, WriteChunk, WriteAck, WriteClose, WriteDone,
] as const;

export type WorkerRequest =
  | Infer<typeof ReadBlock>
  | Infer<typeof ReadCredit>
  | Infer<typeof ReadCancel>
  | Infer<typeof ReadRange>
  | Infer<typeof OpenLocalBlock>
  | Infer<typeof CloseLocalBlock>
  | Infer<typeof WriteOpen>
  | Infer<typeof WriteChunk>
  | Infer<typeof WriteClose>;
