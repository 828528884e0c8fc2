// A block's id names its file and its place in the file: fileId * BLOCKS_PER_FILE
// + index. Ids are derived, never stored, so master, workers, job workers and the
// simulator's checkers all compute them here.
export const BLOCKS_PER_FILE = 2 ** 20;

export const blockIdOf = (fileId: number, index = 0): number => fileId * BLOCKS_PER_FILE + index;

export const fileOfBlock = (blockId: number): number => Math.floor(blockId / BLOCKS_PER_FILE);

export const indexOfBlock = (blockId: number): number => blockId % BLOCKS_PER_FILE;
