// The chaos suite: every scenario of issue 8 against one real cluster under steady load, each
// judged by the history checker over its own window — 0 lost, 0 applied twice or by two pods at
// once, 0 stale writes, 0 epoch regressions, 0 side effects missing or doubled, 0 failed or
// forged interactions. `npm test` runs each scenario once with a small load and a 5 s Postgres
// outage; `npm run test:chaos` (CHAOS_REPEAT=20) repeats each 20× with a 30 s outage and writes
// the table to test-output/chaos.md.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { printTable, percentile } from '../../bench/table.js';
import { formatReport } from '../../src/history/index.js';
import { ChaosCluster, rowOf, type ChaosConfig, type ScenarioRow } from './harness.js';
import { SCENARIOS } from './scenarios.js';

const REPEAT = Math.max(1, Number(process.env['CHAOS_REPEAT'] ?? '1'));
const LONG = REPEAT > 1 || process.env['CHAOS_LONG'] === '1';
const ONLY = process.env['CHAOS_ONLY'];

const CONFIG: ChaosConfig = {
  guilds: 60,
  gateways: 3,
  edges: 2,
  ttlMs: 2000,
  messageRate: LONG ? 40 : 20,
  interactionRate: LONG ? 4 : 2,
  alertGuilds: 8,
  alertRate: 1,
  postgresOutageMs: LONG ? 30_000 : 5_000,
};

let c: ChaosCluster;
let broken: string | undefined;
const rows: (ScenarioRow & { extra: number })[] = [];

let starting: Promise<ChaosCluster> | undefined;

beforeAll(async () => {
  starting = ChaosCluster.start(CONFIG);
  c = await starting;
  c.startLoad();
}, 300_000);

afterAll(async () => {
  // A start that outlived the hook's deadline still owns processes: wait for it, then stop them.
  const cluster = c ?? (await starting?.catch(() => undefined));
  await cluster?.close();
  if (rows.length === 0) return;
  const byScenario = new Map<string, typeof rows>();
  for (const r of rows) byScenario.set(r.scenario, [...(byScenario.get(r.scenario) ?? []), r]);
  const sum = (list: typeof rows, f: (r: (typeof rows)[number]) => number) => list.reduce((n, r) => n + f(r), 0);
  const table = printTable(
    `Chaos suite: ${CONFIG.guilds} guilds, ${CONFIG.gateways} gateways, ${CONFIG.edges} http pods, TTL ${CONFIG.ttlMs} ms, ${CONFIG.messageRate} messages/s + ${CONFIG.interactionRate} interactions/s; ${REPEAT} run(s) per scenario`,
    ['scenario', 'runs', 'events sent', 'lost', 'duplicated', 'interactions', 'failed interactions', 'other violations', 'time to full ownership p50 / max (s)'],
    [...byScenario].map(([name, list]) => {
      const t = list.map((r) => r.fullOwnershipMs / 1000);
      return [name, String(list.length), String(sum(list, (r) => r.events)), String(sum(list, (r) => r.lost)), String(sum(list, (r) => r.duplicated)), String(sum(list, (r) => r.interactions)), String(sum(list, (r) => r.failedInteractions)), String(sum(list, (r) => r.otherViolations + r.extra)), `${percentile(t, 50).toFixed(1)} / ${Math.max(...t).toFixed(1)}`];
    }),
  );
  mkdirSync('test-output', { recursive: true });
  writeFileSync(`test-output/chaos${LONG ? '' : '-short'}.md`, `${table}\nwritten ${new Date().toISOString()}\n`);
}, 120_000);

// Open bugs, not tolerated results: a scenario that still loses events is listed here with why
// (and in README "Chaos suite"); it runs in `npm run test:chaos` and with CHAOS_ONLY / CHAOS_LONG,
// where it fails, and the short run inside `npm test` leaves it out, saying so, until it is fixed.
// Empty since the fence fix and the converged-ring wait (three scenarios were here).
const OPEN_BUGS = new Map<string, string>([]);
const SHORT = REPEAT === 1 && !LONG && ONLY === undefined;
if (SHORT) for (const [name, why] of OPEN_BUGS) console.warn(`chaos: "${name}" is NOT run inside npm test — open bug: ${why}. Run it with CHAOS_ONLY or npm run test:chaos.`);

describe('chaos: every promise kept while things break', () => {
  for (const s of SCENARIOS.filter((x) => (ONLY === undefined || x.name.includes(ONLY)) && !(SHORT && OPEN_BUGS.has(x.name)))) {
    for (let rep = 1; rep <= REPEAT; rep++) {
      it(`${s.name}${REPEAT > 1 ? ` (#${rep})` : ''}: nothing lost, doubled or failed`, async () => {
        // Start from the full shape whatever the scenario before left behind (a failed one skips its own restore).
        // A cluster that cannot be put back makes every later scenario meaningless: they fail at once, saying why.
        if (broken !== undefined) throw new Error(`not run: ${broken}`);
        await c.restore().catch((err: unknown) => {
          broken = `the cluster could not be restored before "${s.name}": ${(err as Error).message}`;
          throw err;
        });
        const from = Date.now();
        const o = await s.run(c);
        await c.restore();
        const to = Date.now();
        const r = await c.settle({ from, to });
        const row = { ...rowOf(s.name, r, o.servedAt - o.faultAt), extra: o.extraViolations ?? 0 };
        rows.push(row);
        console.info(`${s.name}: ${o.note ?? ''} — events ${row.events}, side effects ${r.effects.expected} (${r.effects.resentDeduplicated} resends absorbed), interactions ${row.interactions}, full ownership after ${row.fullOwnershipMs} ms, violations ${r.violations + row.extra}`);
        if (r.violations > 0) {
          const g = r.lost[0]?.guild ?? r.appliedTwice[0]?.guild ?? r.staleWrites[0]?.guild ?? r.overlapping[0]?.guild ?? r.effects.missing[0]?.guild;
          console.info(`${formatReport(r)}${r.lost.length > 0 ? `\n--- ${c.explainLost(r)}` : g ? `\n--- guild ${g}:\n${c.guildStory(g)}` : ''}`);
        }
        expect(r.violations, formatReport(r)).toBe(0);
        expect(row.extra).toBe(0);
        expect(r.events).toBeGreaterThan(0);
      }, 300_000 + CONFIG.postgresOutageMs);
    }
  }
});
