// Evaluates the few PromQL forms the "Guild distribution" row uses over one scrape of every
// target, as Prometheus would at that instant: sum/max/min [by (labels)] over a selector with `=`
// matchers, `vector / vector` on equal label sets, and `up` (1 per answering target, 0 per silent
// one). Anything else is refused with an error naming it — this is not a PromQL engine.
import type { Sample } from './prom-text.js';

export interface Target {
  /** Labels Prometheus adds to every series of the target. */
  readonly job: string;
  readonly instance: string;
  /** False when the last scrape failed (a killed pod): `up` is 0 and it has no series. */
  readonly up: boolean;
  readonly samples: readonly Sample[];
}

export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

type Token = { kind: 'ident' | 'string' | 'punct'; text: string; at: number };

const AGGREGATIONS = ['sum', 'max', 'min'] as const;
type Aggregation = (typeof AGGREGATIONS)[number];

type Node =
  | { kind: 'selector'; name: string; matchers: [string, string][] }
  | { kind: 'agg'; op: Aggregation; by: string[]; arg: Node }
  | { kind: 'div'; left: Node; right: Node };

export class UnsupportedPromQL extends Error {
  constructor(expr: string, why: string) {
    super(`cannot evaluate "${expr}": ${why} (the renderer supports sum/max/min [by (…)] over a selector with = matchers, and vector / vector)`);
  }
}

function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  // Any other character is a token of its own, so the parser names the first thing it refuses.
  const re = /\s*(?:([A-Za-z_:][A-Za-z0-9_:]*)|"((?:[^"\\]|\\.)*)"|(=~|!=|!~|\S))/y;
  let i = 0;
  while (i < expr.length) {
    if (/^\s*$/.test(expr.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(expr);
    if (!m) throw new UnsupportedPromQL(expr, `unexpected "${expr.slice(i).trim().slice(0, 12)}"`);
    const at = i;
    i = re.lastIndex;
    if (m[1] !== undefined) out.push({ kind: 'ident', text: m[1], at });
    else if (m[2] !== undefined) out.push({ kind: 'string', text: m[2].replace(/\\(.)/g, '$1'), at });
    else out.push({ kind: 'punct', text: m[3] as string, at });
  }
  return out;
}

export function parseExpr(expr: string): Node {
  const tokens = tokenize(expr);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const fail = (why: string): never => {
    throw new UnsupportedPromQL(expr, why);
  };
  const expect = (text: string): void => {
    const t = tokens[pos++];
    if (t?.text !== text || t.kind === 'string') fail(`expected "${text}" but found ${t ? `"${t.text}"` : 'the end'}`);
  };
  const ident = (): string => {
    const t = tokens[pos++];
    return t?.kind === 'ident' ? t.text : fail(`expected a name but found ${t ? `"${t.text}"` : 'the end'}`);
  };
  const labelList = (): string[] => {
    expect('(');
    const out = [ident()];
    while (peek()?.text === ',') {
      pos++;
      out.push(ident());
    }
    expect(')');
    return out;
  };
  const selector = (name: string): Node => {
    const matchers: [string, string][] = [];
    if (peek()?.text === '{') {
      pos++;
      while (peek()?.text !== '}') {
        const label = ident();
        const op = tokens[pos++];
        if (op?.text !== '=') fail(`matcher ${label}${op?.text ?? ''}: only = is supported`);
        const v = tokens[pos++];
        if (v?.kind !== 'string') fail(`matcher ${label}= needs a quoted value`);
        matchers.push([label, (v as Token).text]);
        if (peek()?.text === ',') pos++;
        else if (peek()?.text !== '}') fail('expected , or } in a selector');
      }
      pos++;
    }
    return { kind: 'selector', name, matchers };
  };
  const term = (): Node => {
    const name = ident();
    if ((AGGREGATIONS as readonly string[]).includes(name)) {
      const by = peek()?.text === 'by' ? (pos++, labelList()) : [];
      expect('(');
      const arg = term();
      expect(')');
      if (peek()?.text === 'by' || peek()?.text === 'without') fail('put "by (…)" before the argument');
      return { kind: 'agg', op: name as Aggregation, by, arg };
    }
    if (peek()?.text === '(') fail(`function or aggregation ${name}() is not supported`);
    return selector(name);
  };
  let node = term();
  while (peek()?.text === '/') {
    pos++;
    node = { kind: 'div', left: node, right: term() };
  }
  if (pos < tokens.length) fail(`unexpected "${tokens[pos]!.text}"`);
  return node;
}

/** The instant vector `expr` has over one scrape of `targets`. */
export function evaluate(expr: string, targets: readonly Target[]): Series[] {
  return evalNode(parseExpr(expr), targets);
}

function evalNode(n: Node, targets: readonly Target[]): Series[] {
  switch (n.kind) {
    case 'selector':
      return select(n.name, n.matchers, targets);
    case 'agg':
      return aggregate(n.op, n.by, evalNode(n.arg, targets));
    case 'div': {
      const right = new Map(evalNode(n.right, targets).map((s) => [key(s.labels), s.value]));
      return evalNode(n.left, targets).flatMap((s) => {
        const d = right.get(key(s.labels));
        return d === undefined ? [] : [{ labels: s.labels, value: s.value / d }];
      });
    }
  }
}

function select(name: string, matchers: [string, string][], targets: readonly Target[]): Series[] {
  const out: Series[] = [];
  for (const t of targets) {
    const own = { job: t.job, instance: t.instance };
    const series: Series[] = name === 'up' ? [{ labels: { __name__: 'up', ...own }, value: t.up ? 1 : 0 }] : t.up ? t.samples.filter((s) => s.name === name).map((s) => ({ labels: { __name__: name, ...s.labels, ...own }, value: s.value })) : [];
    out.push(...series.filter((s) => matchers.every(([l, v]) => (s.labels[l] ?? '') === v)));
  }
  return out;
}

function aggregate(op: Aggregation, by: string[], input: Series[]): Series[] {
  const groups = new Map<string, { labels: Record<string, string>; values: number[] }>();
  for (const s of input) {
    const labels = Object.fromEntries(by.filter((l) => s.labels[l] !== undefined).map((l) => [l, s.labels[l] as string]));
    const k = key(labels);
    const g = groups.get(k) ?? { labels, values: [] };
    g.values.push(s.value);
    groups.set(k, g);
  }
  const reduce = { sum: (v: number[]) => v.reduce((a, b) => a + b, 0), max: (v: number[]) => Math.max(...v), min: (v: number[]) => Math.min(...v) }[op];
  return [...groups.values()].map((g) => ({ labels: g.labels, value: reduce(g.values) }));
}

function key(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).filter(([l]) => l !== '__name__').sort(([a], [b]) => (a < b ? -1 : 1)));
}
