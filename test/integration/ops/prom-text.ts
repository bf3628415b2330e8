// Parses the Prometheus text exposition format (what /metrics serves) into metric families and
// samples, so tests and the dashboard renderer read live pods the way Prometheus does.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  /** Every family a `# TYPE` line declares, with its type (counter, gauge, histogram, …). */
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const NAME = /^[A-Za-z_:][A-Za-z0-9_:]*/;
const LABEL = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,?)/;

export function parsePromText(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (m) types.set(m[1] as string, m[2] as string);
      return;
    }
    samples.push(parseSample(line, i + 1));
  });
  return { types, samples };
}

function parseSample(line: string, lineNo: number): Sample {
  const fail = (why: string): never => {
    throw new Error(`metrics line ${lineNo}: ${why}: ${line.slice(0, 200)}`);
  };
  const name = NAME.exec(line)?.[0] ?? fail('no metric name');
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    for (;;) {
      if (/^\s*\}/.test(rest)) {
        rest = rest.replace(/^\s*\}/, '');
        break;
      }
      const m = LABEL.exec(rest) ?? fail('bad label');
      labels[m[1] as string] = unescape(m[2] as string);
      rest = rest.slice(m[0].length);
      if (m[3] === '' && !/^\s*\}/.test(rest)) fail('labels not separated by commas');
    }
  }
  const [value, timestamp, extra] = rest.trim().split(/\s+/);
  if (value === undefined || value === '' || extra !== undefined || (timestamp !== undefined && !/^-?\d+$/.test(timestamp))) fail('expected a value and an optional timestamp');
  return { name, labels, value: parseValue(value as string, fail) };
}

function parseValue(v: string, fail: (why: string) => never): number {
  // Prometheus reads values with Go's ParseFloat: Inf and NaN in any case (prom-client writes "Nan").
  const lower = v.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  const n = Number(v);
  return Number.isNaN(n) ? fail(`bad value ${v}`) : n;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

/** The family a sample belongs to: histogram series carry _bucket/_sum/_count after the family name. */
export function familyOf(sampleName: string, types: ReadonlyMap<string, string>): string {
  if (types.has(sampleName)) return sampleName;
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
    if (sampleName.endsWith(suffix) && types.has(sampleName.slice(0, -suffix.length))) return sampleName.slice(0, -suffix.length);
  }
  return sampleName;
}
