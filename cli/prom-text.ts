// A parser for the Prometheus text exposition format (version 0.0.4): what
// `fsadmin report` reads from a master, and what tests scrape from /metrics.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromText {
  samples: PromSample[];
  types: Map<string, string>;
  help: Map<string, string>;
}

function parseValue(v: string, line: number): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  if (v === 'NaN') return NaN;
  const n = Number(v);
  if (v === '' || Number.isNaN(n)) throw new Error(`line ${line}: bad sample value ${JSON.stringify(v)}`);
  return n;
}

function parseLabels(s: string, line: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = 1; // after '{'
  for (;;) {
    while (s[i] === ' ' || s[i] === ',') i++;
    if (s[i] === '}') return [labels, i + 1];
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(s.slice(i));
    if (!m) throw new Error(`line ${line}: bad label name at ${JSON.stringify(s.slice(i))}`);
    i += m[0].length;
    if (s[i] !== '=' || s[i + 1] !== '"') throw new Error(`line ${line}: expected ="…" after label ${m[0]}`);
    i += 2;
    let v = '';
    for (; i < s.length && s[i] !== '"'; i++) {
      if (s[i] === '\\') {
        const e = s[++i];
        v += e === 'n' ? '\n' : e;
      } else v += s[i];
    }
    if (i >= s.length) throw new Error(`line ${line}: unterminated label value`);
    labels[m[0]] = v;
    i++;
  }
}

export function parsePrometheus(text: string): PromText {
  const out: PromText = { samples: [], types: new Map(), help: new Map() };
  text.split('\n').forEach((raw, idx) => {
    const line = raw.trim();
    const n = idx + 1;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
      if (m) (m[1] === 'HELP' ? out.help : out.types).set(m[2]!, m[3]!);
      return;
    }
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!name) throw new Error(`line ${n}: bad metric name in ${JSON.stringify(line)}`);
    let rest = line.slice(name[0].length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      const [l, end] = parseLabels(rest, n);
      labels = l;
      rest = rest.slice(end);
    }
    const [value] = rest.trim().split(/\s+/);
    out.samples.push({ name: name[0], labels, value: parseValue(value ?? '', n) });
  });
  return out;
}

/** The value of one sample (labels must match exactly), or undefined. */
export function sampleValue(p: PromText, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return p.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}
