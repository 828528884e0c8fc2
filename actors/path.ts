// strata paths: absolute, '/'-separated, no '.' or '..' components.
import { StrataError } from './protocol/envelope.js';

const DOT_ENTRY = (p: string): boolean => p === '.' || p === '..';
const ENCODED_SEPARATOR = /%2f|%5c/i;

/** A name that, joined under a directory, could land outside it: a dot entry or an encoded separator. */
export function escapingName(p: string): boolean {
  return DOT_ENTRY(p) || ENCODED_SEPARATOR.test(p);
}

export function splitPath(path: string): string[] {
  if (typeof path !== 'string' || !path.startsWith('/')) throw new StrataError('INVALID_ARGUMENT', `path must be absolute: ${JSON.stringify(path)}`);
  const parts = path.split('/').filter((p) => p !== '');
  // Every request resolves a path: a clean one is judged by four scans
  // of the whole string, the part-by-part checks run only when one of them finds
  // something (a '.', a '%', a NUL or a backslash).
  if (!path.includes('.') && !path.includes('%') && !path.includes('\u0000') && !path.includes('\\')) return parts;
  for (const p of parts) {
    if (DOT_ENTRY(p)) throw new StrataError('INVALID_ARGUMENT', `path may not contain '.' or '..': ${path}`);
    if (p.includes('\u0000') || p.includes('\\')) throw new StrataError('INVALID_ARGUMENT', `invalid character in path: ${JSON.stringify(path)}`);
    if (ENCODED_SEPARATOR.test(p)) throw new StrataError('INVALID_ARGUMENT', `encoded separator in path: ${path}`);
  }
  return parts;
}

export function normalizePath(path: string): string {
  return '/' + splitPath(path).join('/');
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function parentPath(path: string): string {
  const parts = splitPath(path);
  parts.pop();
  return '/' + parts.join('/');
}

export function baseName(path: string): string {
  const parts = splitPath(path);
  return parts[parts.length - 1] ?? '';
}
