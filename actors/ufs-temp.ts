// Writes through to the UFS go to a temporary name beside the file; the master
// renames it into place when it completes the file. So a reader never sees a
// half-written UFS file, a rewrite of the same length cannot pass for the old
// one, and a write whose file was deleted meanwhile never recreates it.
// The names are hidden and never imported into the namespace.

const TEMP_NAME = /^\..+\.strata-(\d+)\.tmp$/;
/** A persist attempt's file (actors/job/persistence.ts persistTempName), renamed into place when the job succeeds. */
const PERSIST_TEMP_NAME = /^.+\.strata-persist-(\d+)-[^/]+$/;

/** Where the write of file `fileId` to `ufsPath` goes until it is published. */
export function ufsTempPath(ufsPath: string, fileId: number): string {
  const slash = ufsPath.lastIndexOf('/');
  return `${ufsPath.slice(0, slash + 1)}.${ufsPath.slice(slash + 1)}.strata-${fileId}.tmp`;
}

/** The file id a temporary name belongs to, or undefined if `name` is not one. */
export function ufsTempFileId(name: string): number | undefined {
  const m = TEMP_NAME.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Any temporary file strata leaves beside a UFS file: a write not yet published, or a persist attempt. */
export interface StrataTemp {
  readonly kind: 'write' | 'persist';
  readonly fileId: number;
}

export function strataTempOf(name: string): StrataTemp | undefined {
  const w = ufsTempFileId(name);
  if (w !== undefined) return { kind: 'write', fileId: w };
  const m = PERSIST_TEMP_NAME.exec(name);
  return m ? { kind: 'persist', fileId: Number(m[1]) } : undefined;
}
