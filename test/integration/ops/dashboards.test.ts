// Grafana dashboards and Prometheus alert rules name only metrics that src/metrics.ts registers,
// read histograms correctly, and cover what an operator watches (issue 9, DESIGN §9).
import { beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../../src/metrics.js';
import { checkExpr, exportedMetrics, usesOf, type Exported } from './promql.js';
import { alertExprs, alertRules, dashboardExprs, dashboards, panelsOf } from './grafana.js';
import { asArr, asObj, isObj, parseYaml, readRepoFile } from './repo.js';

let exported: Exported;
beforeAll(async () => {
  exported = await exportedMetrics(registry);
});

describe('the expression checker', () => {
  it('rejects a metric the code does not export', () => {
    expect(checkExpr('sum(leasehold_guilds_stolen_total)', exported)).toEqual(['leasehold_guilds_stolen_total is not exported by src/metrics.ts']);
  });

  it('rejects a histogram read without _bucket, _sum or _count', () => {
    expect(checkExpr('avg(leasehold_restore_seconds)', exported)[0]).toMatch(/leasehold_restore_seconds is a histogram/);
  });

  it('rejects a label the metric does not have and a quantile without "le"', () => {
    expect(checkExpr('sum by (shard) (leasehold_guilds_owned)', exported)).toEqual(['label "shard" is not a label of leasehold_guilds_owned']);
    expect(checkExpr('histogram_quantile(0.9, sum by (script) (rate(leasehold_script_seconds_bucket[5m])))', exported)[0]).toMatch(/without "le"/);
  });

  it('rejects a misspelt function', () => {
    expect(checkExpr('histogram_quantil(0.9, sum by (le) (rate(leasehold_script_seconds_bucket[5m])))', exported)).toContain('histogram_quantil() is not a PromQL function');
  });

  it('accepts histogram series, target labels, Grafana variables and label matchers', () => {
    const expr = 'histogram_quantile(0.99, sum by (le, script) (rate(leasehold_script_seconds_bucket{job="leasehold-gateway", script!~"x.*"}[$__rate_interval]))) > 1e-3';
    expect(usesOf(expr).metrics).toEqual(['leasehold_script_seconds_bucket']);
    expect(checkExpr(expr, exported)).toEqual([]);
  });
});

describe('Grafana dashboards', () => {
  it('every PromQL expression names only exported metrics, labels and real functions', () => {
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(30);
    const problems = exprs.flatMap(({ where, expr }) => checkExpr(expr, exported).map((p) => `${where}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('cover guild distribution, leases, handoffs, failover, restores, replication, edge and Discord budgets', () => {
    const used = new Set(dashboardExprs().flatMap(({ expr }) => usesOf(expr).metrics));
    const required = [
      'leasehold_guilds_owned', 'leasehold_guilds_unowned', 'leasehold_ring_members',
      'leasehold_lease_claims_total', 'leasehold_lease_lost_total',
      'leasehold_handoffs_total', 'leasehold_handoff_pause_seconds_bucket', 'leasehold_failover_seconds_bucket',
      'leasehold_restore_seconds_bucket', 'leasehold_restore_failures_total', 'leasehold_replication_lag_seconds',
      'leasehold_forward_seconds_bucket', 'leasehold_interaction_deadline_misses_total', 'leasehold_interactions_total',
      'leasehold_identify_remaining', 'leasehold_script_seconds_bucket', 'leasehold_event_buffer_bytes',
    ];
    expect(required.filter((m) => !used.has(m))).toEqual([]);
  });

  it('have unique uids, unique panel ids, non-overlapping panels and use the datasource variable', () => {
    const uids = dashboards.map(({ json }) => json['uid']);
    expect(new Set(uids).size).toBe(dashboards.length);
    for (const { file, json } of dashboards) {
      const variables = asArr(asObj(json['templating'], 'templating')['list'], 'list').map((v) => asObj(v, 'v')['name']);
      expect(variables, file).toContain('datasource');
      const panels = panelsOf(json);
      const ids = panels.map((p) => p['id']);
      expect(new Set(ids).size, `${file}: duplicate panel ids`).toBe(ids.length);
      const boxes = panels.map((p) => ({ title: String(p['title']), ...(asObj(p['gridPos'], 'gridPos') as { x: number; y: number; w: number; h: number }) }));
      for (const b of boxes) expect(b.x + b.w, `${file} › ${b.title} is wider than the grid`).toBeLessThanOrEqual(24);
      const overlaps = boxes.flatMap((a, i) =>
        boxes.slice(i + 1).filter((b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h).map((b) => `${a.title} × ${b.title}`),
      );
      expect(overlaps, file).toEqual([]);
      for (const p of panels.filter((x) => x['type'] !== 'row')) {
        expect(p['datasource'], `${file} › ${String(p['title'])}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
      }
    }
  });
});

describe('Prometheus alert rules', () => {
  it('every expression names only exported metrics, labels and real functions', () => {
    const problems = alertExprs().flatMap(({ where, expr }) => checkExpr(expr, exported).map((p) => `${where}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('are well-formed: unique names, a severity, a summary, and durations Prometheus parses', () => {
    const names = alertRules.map((r) => r['alert']);
    expect(new Set(names).size).toBe(names.length);
    for (const r of alertRules) {
      const name = String(r['alert']);
      expect(name, 'alert name').toMatch(/^Leasehold[A-Z]\w+$/);
      expect(['critical', 'warning'], `${name} severity`).toContain(asObj(r['labels'], `${name} labels`)['severity']);
      expect(typeof asObj(r['annotations'], `${name} annotations`)['summary'], `${name} summary`).toBe('string');
      if (r['for'] !== undefined) expect(String(r['for']), `${name} for`).toMatch(/^\d+[smhd]$/);
      expect(Object.keys(r).filter((k) => !['alert', 'expr', 'for', 'labels', 'annotations', 'keep_firing_for'].includes(k)), name).toEqual([]);
    }
  });

  it('alert on unowned guilds after a minute, one pod above half the guilds, replication lag above 10 s and the identify budget', () => {
    const byMetric = (metric: string) => alertRules.filter((r) => usesOf(String(r['expr'])).metrics.includes(metric));
    const unowned = byMetric('leasehold_guilds_unowned');
    expect(unowned.map((r) => [String(r['expr']).trim(), r['for']])).toContainEqual(['max(leasehold_guilds_unowned) > 0', '1m']);
    expect(byMetric('leasehold_guilds_owned').some((r) => /\/\s*sum\(leasehold_guilds_owned[^)]*\)\s*>\s*0\.5/.test(String(r['expr'])))).toBe(true);
    expect(byMetric('leasehold_replication_lag_seconds').some((r) => /\)\s*>\s*10\s*$/.test(String(r['expr']).trim()))).toBe(true);
    expect(byMetric('leasehold_identify_remaining')).toHaveLength(1);
    expect(byMetric('leasehold_interaction_deadline_misses_total')).toHaveLength(1);
    expect(byMetric('leasehold_restore_failures_total')).toHaveLength(1);
  });
});

describe('Grafana and Prometheus provisioning for docker compose', () => {
  it('Prometheus loads the alert rules the compose file mounts and scrapes jobs the dashboards select', () => {
    const prom = asObj(parseYaml(readRepoFile('deploy/prometheus/prometheus.yml')), 'prometheus.yml');
    expect(prom['rule_files']).toEqual(['/etc/prometheus/alerts.yml']);
    const jobs = asArr(prom['scrape_configs'], 'scrape_configs').map((s) => asObj(s, 'scrape')['job_name']);
    const selected = new Set(
      [...dashboardExprs(), ...alertExprs()].flatMap(({ expr }) => [...expr.matchAll(/job="([^"]+)"/g)].map((m) => m[1])),
    );
    expect([...selected].sort()).toEqual(['leasehold-gateway', 'leasehold-http']);
    for (const job of selected) expect(jobs).toContain(job);
  });

  it('the dashboard provider reads the folder the compose file mounts the dashboards into', () => {
    const provider = asObj(asArr(asObj(parseYaml(readRepoFile('deploy/grafana/provisioning/dashboards/leasehold.yml')), 'p')['providers'], 'providers')[0], 'provider');
    const options = asObj(provider['options'], 'options');
    const compose = readRepoFile('docker-compose.yml');
    expect(compose).toContain(`./grafana/dashboards:${String(options['path'])}:ro`);
    const ds = asObj(asArr(asObj(parseYaml(readRepoFile('deploy/grafana/provisioning/datasources/prometheus.yml')), 'd')['datasources'], 'datasources')[0], 'datasource');
    expect(ds['type']).toBe('prometheus');
    expect(ds['isDefault']).toBe(true);
    expect(isObj(ds)).toBe(true);
  });
});
