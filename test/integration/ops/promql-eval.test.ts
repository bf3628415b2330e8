// The exposition parser and the small PromQL evaluator the dashboard renderer and the live-metrics
// test rely on: they read /metrics as Prometheus does and refuse what they cannot evaluate.
import { describe, expect, it } from 'vitest';
import { Registry, Gauge, Histogram } from 'prom-client';
import { familyOf, parsePromText } from './prom-text.js';
import { evaluate, UnsupportedPromQL, type Target } from './promql-eval.js';

describe('the exposition parser', () => {
  it('reads what prom-client serves: types, labels with escapes, histogram series, +Inf', async () => {
    const r = new Registry();
    new Gauge({ name: 'g_owned', help: 'h', labelNames: ['pod'], registers: [r] }).set({ pod: 'gw "1"\\x' }, 7);
    new Histogram({ name: 'h_seconds', help: 'h', buckets: [0.1], registers: [r] }).observe(0.05);
    const e = parsePromText(await r.metrics());
    expect(e.types.get('g_owned')).toBe('gauge');
    expect(e.types.get('h_seconds')).toBe('histogram');
    expect(e.samples).toContainEqual({ name: 'g_owned', labels: { pod: 'gw "1"\\x' }, value: 7 });
    expect(e.samples).toContainEqual({ name: 'h_seconds_bucket', labels: { le: '+Inf' }, value: 1 });
    expect(familyOf('h_seconds_bucket', e.types)).toBe('h_seconds');
  });

  it('refuses a malformed line, naming its number', () => {
    expect(() => parsePromText('# TYPE a gauge\na{b="c" 1\n')).toThrow(/metrics line 2/);
    expect(() => parsePromText('a one\n')).toThrow(/bad value one/);
    // prom-client writes NaN as "Nan" (a gauge with no data yet); Prometheus accepts any case.
    expect(Number.isNaN(parsePromText("a Nan\nb +Inf\n").samples[0]!.value)).toBe(true);
  });
});

const sample = (name: string, value: number, labels: Record<string, string> = {}) => ({ name, labels, value });
const targets: Target[] = [
  { job: 'leasehold-gateway', instance: 'gw-1', up: true, samples: [sample('leasehold_guilds_owned', 30, { pod: 'gw-1' }), sample('leasehold_guilds_unowned', 0)] },
  { job: 'leasehold-gateway', instance: 'gw-2', up: true, samples: [sample('leasehold_guilds_owned', 10, { pod: 'gw-2' }), sample('leasehold_guilds_unowned', 0)] },
  { job: 'leasehold-gateway', instance: 'gw-3', up: false, samples: [] },
  { job: 'leasehold-http', instance: 'http-1', up: true, samples: [sample('leasehold_guilds_owned', 30, { pod: 'gw-1' }), sample('leasehold_guilds_owned', 10, { pod: 'gw-2' }), sample('leasehold_guilds_unowned', 4)] },
];
const values = (expr: string) => evaluate(expr, targets).map((s) => [s.labels, s.value]);

describe('the PromQL evaluator', () => {
  it('aggregates by label over a selector with = matchers, as the dashboard row asks', () => {
    expect(values('sum by (pod) (leasehold_guilds_owned{job="leasehold-gateway"})')).toEqual([[{ pod: 'gw-1' }, 30], [{ pod: 'gw-2' }, 10]]);
    expect(values('sum(leasehold_guilds_owned{job="leasehold-gateway"})')).toEqual([[{}, 40]]);
    expect(values('max(leasehold_guilds_unowned)')).toEqual([[{}, 4]]);
    expect(values('min(leasehold_guilds_unowned)')).toEqual([[{}, 0]]);
  });

  it('divides vectors with equal label sets, and gives nothing for a selector nothing matches', () => {
    expect(values('max(leasehold_guilds_owned{job="leasehold-gateway"}) / sum(leasehold_guilds_owned{job="leasehold-gateway"})')).toEqual([[{}, 0.75]]);
    expect(values('sum(leasehold_guilds_owned{job="nobody"})')).toEqual([]);
  });

  it('reads up as 1 per answering target and 0 per silent one', () => {
    expect(values('sum(up{job="leasehold-gateway"})')).toEqual([[{}, 2]]);
    expect(evaluate('up{instance="gw-3"}', targets).map((s) => s.value)).toEqual([0]);
  });

  it('refuses every form it does not implement, saying which', () => {
    for (const [expr, why] of [
      ['rate(leasehold_lease_claims_total[5m])', /rate\(\) is not supported/],
      ['leasehold_guilds_owned{pod=~"gw.*"}', /only = is supported/],
      ['sum(leasehold_guilds_owned) by (pod)', /before the argument/],
      ['max(leasehold_guilds_unowned) > 0', /unexpected ">"/],
      ['avg(leasehold_guilds_owned)', /avg\(\) is not supported/],
    ] as const) {
      expect(() => evaluate(expr, targets), expr).toThrow(UnsupportedPromQL);
      expect(() => evaluate(expr, targets), expr).toThrow(why);
    }
  });
});
