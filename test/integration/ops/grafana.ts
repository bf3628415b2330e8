// The repository's Grafana dashboards and Prometheus alert rules, read once: their panels and
// every PromQL expression they hold, each with where it comes from (for failure messages).
import { readdirSync } from 'node:fs';
import { asArr, asObj, parseYaml, readRepoFile, repoPath, type Obj } from './repo.js';

export interface Expr {
  readonly where: string;
  readonly expr: string;
}

const dashboardFiles = readdirSync(repoPath('grafana/dashboards')).filter((f) => f.endsWith('.json'));
export const dashboards = dashboardFiles.map((f) => ({ file: f, json: asObj(JSON.parse(readRepoFile('grafana/dashboards', f)), f) }));

export function panelsOf(d: Obj): Obj[] {
  const out: Obj[] = [];
  for (const p of asArr(d['panels'], 'panels')) {
    const panel = asObj(p, 'panel');
    out.push(panel);
    if (Array.isArray(panel['panels'])) out.push(...panel['panels'].map((x) => asObj(x, 'row panel')));
  }
  return out;
}

export function dashboardExprs(): Expr[] {
  const out: Expr[] = [];
  for (const { file, json } of dashboards) {
    for (const p of panelsOf(json)) {
      for (const t of Array.isArray(p['targets']) ? p['targets'] : []) {
        const target = asObj(t, 'target');
        if (typeof target['expr'] === 'string') out.push({ where: `${file} › ${String(p['title'])} › ${String(target['refId'])}`, expr: target['expr'] });
      }
    }
    for (const v of asArr(asObj(json['templating'], 'templating')['list'], 'templating.list')) {
      const variable = asObj(v, 'variable');
      if (variable['type'] !== 'query') continue;
      const q = typeof variable['query'] === 'string' ? variable['query'] : String(asObj(variable['query'], 'query')['query']);
      const inner = /^label_values\((.*),\s*\w+\)$/.exec(q.trim())?.[1] ?? q;
      out.push({ where: `${file} › variable ${String(variable['name'])}`, expr: inner });
    }
  }
  return out;
}

const alertsDoc = asObj(parseYaml(readRepoFile('grafana/alerts.yml')), 'alerts.yml');
export const alertRules = asArr(alertsDoc['groups'], 'groups').flatMap((g) => asArr(asObj(g, 'group')['rules'], 'rules').map((r) => asObj(r, 'rule')));
export const alertExprs = (): Expr[] => alertRules.map((r) => ({ where: `alerts.yml › ${String(r['alert'])}`, expr: String(r['expr']) }));
