// DESIGN.md: code under actors/ and storage/ reaches time, randomness, disk and
// network only through the Env. This scans the source and fails on direct use.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BANNED: Array<[RegExp, string]> = [
  [/\bDate\b/, 'Date'],
  [/\bMath\.random\b/, 'Math.random'],
  [/\bsetTimeout\b/, 'setTimeout'],
  [/\bsetInterval\b/, 'setInterval'],
  [/\bsetImmediate\b/, 'setImmediate'],
  [/\bprocess\.hrtime\b|\bperformance\.now\b/, 'a clock'],
  [/from\s+['"](node:)?(fs|fs\/promises|net|dgram|http|https)['"]/, 'a node I/O module'],
  [/from\s+['"]ws['"]/, 'ws'],
  [/\brequire\(\s*['"](node:)?(fs|net|ws)['"]\s*\)/, 'require of an I/O module'],
  [/\bimport\(\s*['"](node:)?(fs|fs\/promises|net|ws)['"]\s*\)/, 'dynamic import of an I/O module'],
];

/** Removes comments and string contents so prose about Date or fs does not count. */
export function stripCommentsAndStrings(src: string): string {
  return src
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:])\/\/.*$/gm, '$1')
    .replace(/`(?:\\[\s\S]|[^`\\])*`/g, '``');
}

export function violations(src: string): string[] {
  const code = stripCommentsAndStrings(src);
  const out: string[] = [];
  code.split('\n').forEach((line, i) => {
    for (const [re, what] of BANNED) if (re.test(line)) out.push(`line ${i + 1}: ${what}: ${line.trim()}`);
  });
  return out;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('the environment seam', () => {
  it('catches each kind of violation in a sample', () => {
    const sample = [
      "import { readFile } from 'node:fs';",
      "import WebSocket from 'ws';",
      'const t = Date.now();',
      'const r = Math.random();',
      'setTimeout(() => {}, 1);',
      'setImmediate(() => {});',
      "import * as net from 'net';",
      '// Date.now() in a comment is fine',
    ].join('\n');
    expect(violations(sample).map((v) => v.split(':')[0])).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'line 6', 'line 7']);
  });

  it('actors/ and storage/ never touch the world directly', () => {
    const found: string[] = [];
    const files = [...tsFiles('actors'), ...tsFiles('storage')];
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) for (const v of violations(readFileSync(f, 'utf8'))) found.push(`${f} ${v}`);
    expect(found).toEqual([]);
  });
});
