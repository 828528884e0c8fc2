// Worker service: block reads (streamed with credits) and writes through to the UFS.
import { bool, bytes, msg, num, opt, strMax, uint, type Infer } from '../../transport/schema.js';

/**
 * Streams `length` bytes from `offset` inside block `blockId`. The block is the
 * slice [fileOffset, fileOffset + blockLength) of `ufsPath` in the UFS at
 * `ufsMount`, read through on a cache miss. The worker sends BlockChunk frames
 * (re = this request's id) while it holds credits; `window` is the initial grant.
 */
export const ReadBlock = msg('ReadBlock', {
  blockId: uint,
  ufsMount: strMax(4096),
  ufsPath: strMax(4096),
  fileOffset: uint,
  blockLength: uint,
  offset: uint,
  length: uint,
  window: uint,
  cache: bool,
  /** CACHE_PROMOTE: move a block found on a lower tier up to the top one. */
  promote: opt(bool),
  /** The file's fingerprint as the master knows it: a UFS file that no longer matches is neither served nor cached. */
  ufsLength: opt(uint),
  ufsMtimeMs: opt(num),
});
export const BlockChunk = msg('BlockChunk', { seq: uint, data: bytes, last: bool, cached: bool });
/** One-way: grants `n` more chunks to stream `stream` (the ReadBlock's id). */
export const ReadCredit = msg('ReadCredit', { stream: uint, n: uint });
export const ReadCancel = msg('ReadCancel', { stream: uint });

/** Opens a write of a whole file through this worker to the UFS; reply WriteReady. */
export const WriteOpen = msg('WriteOpen', {
  ufsMount: strMax(4096),
  ufsPath: strMax(4096),
  fileId: uint,
  blockSize: uint,
  cache: bool,
  /** false: MUST_CACHE, the blocks are kept on this worker only and the UFS is not written. */
  ufs: opt(bool),
});
export const WriteReady = msg('WriteReady', { stream: uint, window: uint });
/** Request; the WriteAck reply returns one credit. Chunks must arrive in `seq` order. */
export const WriteChunk = msg('WriteChunk', { stream: uint, seq: uint, data: bytes });
export const WriteAck = msg('WriteAck', { seq: uint });
export const WriteClose = msg('WriteClose', { stream: uint, chunks: uint, abort: bool });
export const WriteDone = msg('WriteDone', { length: uint, mtimeMs: uint });

export const WORKER_MESSAGES = [
  ReadBlock, BlockChunk, ReadCredit, ReadCancel, WriteOpen, WriteReady, WriteChunk, WriteAck, WriteClose, WriteDone,
] as const;

export type WorkerRequest =
  | Infer<typeof ReadBlock>
  | Infer<typeof ReadCredit>
  | Infer<typeof ReadCancel>
  | Infer<typeof WriteOpen>
  | Infer<typeof WriteChunk>
  | Infer<typeof WriteClose>;
