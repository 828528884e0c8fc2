// POSIX-style permissions as Alluxio applies them: owner, group and mode bits on
// every inode; execute on each ancestor to pass through it; the superuser (the
// user the master runs as) and members of the supergroup pass every check.
import { StrataError } from '../protocol/envelope.js';

export const READ = 4;
export const WRITE = 2;
export const EXECUTE = 1;

/** The caller of a request, as the client names it (SIMPLE authentication). */
export interface Caller {
  readonly user: string;
  readonly groups: readonly string[];
}

export interface Owned {
  readonly owner: string;
  readonly group: string;
  readonly mode: number;
}

export interface PermissionPolicy {
  readonly enabled: boolean;
  readonly superuser: string;
  readonly supergroup: string;
  /** Bits removed from the mode of what callers create (022 by default). */
  readonly umask: number;
}

export function isSuper(policy: PermissionPolicy, c: Caller): boolean {
  return !policy.enabled || c.user === policy.superuser || c.groups.includes(policy.supergroup);
}

/** The permission bits of `o` that apply to `c`: owner's, group's or other's. */
function bitsFor(o: Owned, c: Caller): number {
  if (o.owner === c.user) return (o.mode >> 6) & 7;
  if (c.groups.includes(o.group)) return (o.mode >> 3) & 7;
  return o.mode & 7;
}

/** `path` may be a function: the hot path builds it only for the error. */
export function check(policy: PermissionPolicy, c: Caller, o: Owned, want: number, path: string | (() => string)): void {
  if (isSuper(policy, c)) return;
  if ((bitsFor(o, c) & want) === want) return;
  throw new StrataError('PERMISSION_DENIED', `user ${c.user} lacks ${describe(want)} permission on ${typeof path === 'string' ? path : path()} (${o.owner}:${o.group} ${modeString(o.mode, false).slice(1)})`);
}

function describe(bits: number): string {
  return [bits & READ ? 'read' : '', bits & WRITE ? 'write' : '', bits & EXECUTE ? 'execute' : ''].filter(Boolean).join('+');
}

export function modeString(mode: number, isDir: boolean): string {
  const rwx = (b: number) => `${b & 4 ? 'r' : '-'}${b & 2 ? 'w' : '-'}${b & 1 ? 'x' : '-'}`;
  return `${isDir ? 'd' : '-'}${rwx((mode >> 6) & 7)}${rwx((mode >> 3) & 7)}${rwx(mode & 7)}`;
}

/** Parses chmod's octal modes (755) and symbolic ones (u+x, go-w, a=r, u+x,g-w). */
export function parseMode(spec: string, current: number, isDir: boolean): number {
  if (/^[0-7]{3,4}$/.test(spec)) return Number.parseInt(spec, 8) & 0o777;
  let mode = current;
  for (const clause of spec.split(',')) {
    const m = /^([ugoa]*)([+=-])([rwxX]*)$/.exec(clause);
    if (!m) throw new StrataError('INVALID_ARGUMENT', `invalid mode ${JSON.stringify(spec)} (use e.g. 755 or u+x,go-w)`);
    const who = m[1] === '' || m[1]!.includes('a') ? 'ugo' : m[1]!;
    let bits = 0;
    for (const p of m[3]!) bits |= p === 'r' ? 4 : p === 'w' ? 2 : p === 'x' || (p === 'X' && (isDir || (current & 0o111) !== 0)) ? 1 : 0;
    for (const w of who) {
      const shift = w === 'u' ? 6 : w === 'g' ? 3 : 0;
      if (m[2] === '+') mode |= bits << shift;
      else if (m[2] === '-') mode &= ~(bits << shift);
      else mode = (mode & ~(7 << shift)) | (bits << shift);
    }
  }
  return mode & 0o777;
}
