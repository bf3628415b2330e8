// Checks a PromQL expression against the metrics a registry really exports: which metric names,
// functions and label names it uses, and whether histograms are read through _bucket/_sum/_count.
// A small lexer, not a full parser: enough for the expressions our dashboards and alerts hold.
import type { Registry } from 'prom-client';

export interface ExportedMetric {
  readonly type: string;
  readonly labels: readonly string[];
}
export type Exported = ReadonlyMap<string, ExportedMetric>;

/** Series Prometheus adds itself for every target. */
const SYNTHETIC: Exported = new Map([['up', { type: 'gauge', labels: [] }]]);
/** Labels Prometheus attaches to every scraped series. */
const TARGET_LABELS = ['job', 'instance'];

const FUNCTIONS = new Set([
  'abs', 'absent', 'absent_over_time', 'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min',
  'count_over_time', 'day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'delta', 'deriv', 'exp',
  'floor', 'histogram_quantile', 'holt_winters', 'hour', 'idelta', 'increase', 'irate', 'label_join',
  'label_replace', 'last_over_time', 'ln', 'log10', 'log2', 'max_over_time', 'min_over_time', 'minute', 'month',
  'predict_linear', 'present_over_time', 'quantile_over_time', 'rate', 'resets', 'round', 'scalar', 'sgn',
  'sort', 'sort_desc', 'sqrt', 'stddev_over_time', 'stdvar_over_time', 'sum_over_time', 'time', 'timestamp',
  'vector', 'year',
]);
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2']);
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

/** Every metric the registry exports, with its type and label names. */
export async function exportedMetrics(registry: Registry): Promise<Exported> {
  const out = new Map<string, ExportedMetric>();
  for (const m of await registry.getMetricsAsJSON()) {
    const single = registry.getSingleMetric(m.name) as unknown as { labelNames?: readonly string[] } | undefined;
    out.set(m.name, { type: String(m.type), labels: single?.labelNames ?? [] });
  }
  return out;
}

export interface ExprUse {
  readonly metrics: string[];
  readonly functions: string[];
  readonly labels: string[];
}

/** The metric names, function names and label names an expression uses. */
export function usesOf(expr: string): ExprUse {
  const labels: string[] = [];
  let s = expr
    // Grafana variables ($__rate_interval, ${datasource}, $pod) stand in for durations or label values.
    .replace(/\$\{?[A-Za-z_]\w*\}?/g, '5m')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  s = s.replace(/\{([^}]*)\}/g, (_m, body: string) => {
    for (const m of body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.push(m[1] as string);
    return ' ';
  });
  s = s.replace(/\[[^\]]*\]/g, ' ').replace(/\boffset\s+-?\w+/g, ' ').replace(/@\s*[\w.()]+/g, ' ');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_m, _kw: string, list: string) => {
    for (const l of list.split(',').map((x) => x.trim()).filter((x) => x.length > 0)) labels.push(l);
    return ' ';
  });
  const metrics: string[] = [];
  const functions: string[] = [];
  const token = /(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|0x[0-9a-fA-F]+)|([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g;
  for (const m of s.matchAll(token)) {
    const ident = m[2];
    if (ident === undefined) continue;
    if (m[3] !== undefined) functions.push(ident);
    else if (!KEYWORDS.has(ident.toLowerCase())) metrics.push(ident);
  }
  return { metrics, functions, labels };
}

/** Problems with one expression; empty when every name it uses is exported and used correctly. */
export function checkExpr(expr: string, exported: Exported): string[] {
  const problems: string[] = [];
  const use = usesOf(expr);
  const known = new Map([...SYNTHETIC, ...exported]);
  const allowedLabels = new Set([...TARGET_LABELS, '__name__']);
  if (use.metrics.length === 0) problems.push(`names no metric: ${expr}`);
  for (const name of use.metrics) {
    const direct = known.get(name);
    if (direct) {
      if (direct.type === 'histogram' || direct.type === 'summary')
        problems.push(`${name} is a ${direct.type}: read it as ${name}_bucket, ${name}_sum or ${name}_count`);
      direct.labels.forEach((l) => allowedLabels.add(l));
      continue;
    }
    const suffix = HISTOGRAM_SUFFIXES.find((x) => name.endsWith(x));
    const base = suffix ? known.get(name.slice(0, -suffix.length)) : undefined;
    if (suffix && base && (base.type === 'histogram' || (base.type === 'summary' && suffix !== '_bucket'))) {
      base.labels.forEach((l) => allowedLabels.add(l));
      if (suffix === '_bucket') allowedLabels.add('le');
      continue;
    }
    problems.push(`${name} is not exported by src/metrics.ts`);
  }
  for (const f of use.functions) {
    if (!FUNCTIONS.has(f) && !AGGREGATIONS.has(f)) problems.push(`${f}() is not a PromQL function`);
  }
  for (const l of use.labels) {
    if (!allowedLabels.has(l)) problems.push(`label "${l}" is not a label of ${use.metrics.join(', ')}`);
  }
  if (use.metrics.some((m) => m.endsWith('_bucket'))) {
    if (!use.functions.includes('histogram_quantile')) problems.push(`_bucket series outside histogram_quantile: ${expr}`);
    else if (!use.labels.includes('le')) problems.push(`histogram_quantile without "le" in its grouping: ${expr}`);
  }
  return problems;
}
