// `npm run docs:dashboard`: runs a real small cluster (the stand-in, an http pod, 3 gateways; a
// 4th joins, then one is killed with kill -9), scrapes every pod's /metrics once a second as
// Prometheus would, evaluates the "Guild distribution" row of grafana/dashboards/leasehold-cluster.json
// over those scrapes, renders the row and screenshots it with Chromium into
// docs/dashboard-guild-distribution.png. Needs Redis and Postgres (REDIS_URL, DATABASE_URL or the
// local default ports), a build (`npm run build`) and Debian's chromium (or CHROMIUM_PATH).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { startLiveCluster, type LiveCluster } from '../test/integration/ops/live-cluster.js';
import { evaluate, type Target } from '../test/integration/ops/promql-eval.js';
import { PALETTE, renderRowHtml, type PanelInput, type RenderedSeries } from './dashboard-html.js';

// From dist/scripts/ or scripts/: the repository root is where package.json is.
const here = dirname(fileURLToPath(import.meta.url));
const ROOT = [resolve(here, '..'), resolve(here, '../..')].find((d) => existsSync(join(d, 'package.json')) && existsSync(join(d, 'grafana'))) as string;
const DASHBOARD = join(ROOT, 'grafana/dashboards/leasehold-cluster.json');
const ROW = 'Guild distribution';
const OUT = join(ROOT, 'docs/dashboard-guild-distribution.png');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

const GUILDS = 120;
// The default lease TTL: on a shared, loaded machine a shorter one churns leases the way it would in production under a stalled event loop.
const TTL_MS = 10_000;
const HOLD_MS = 12_000;
const SCRAPE_EVERY_MS = 1000;

type Obj = Record<string, unknown>;
const say = (msg: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

/** The panels of one row of a dashboard whose rows are expanded (panels follow their row). */
function rowPanels(dashboard: Obj, title: string): Obj[] {
  const panels = dashboard['panels'] as Obj[];
  const start = panels.findIndex((p) => p['type'] === 'row' && p['title'] === title);
  if (start < 0) throw new Error(`${DASHBOARD} has no row "${title}"`);
  const end = panels.findIndex((p, i) => i > start && p['type'] === 'row');
  return panels.slice(start + 1, end < 0 ? undefined : end);
}

/** Polls `fn` until it holds; says where things stand every 10 s and in the timeout error. */
async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs: number, progress: () => Promise<string>): Promise<void> {
  const start = Date.now();
  let told = start;
  while (!(await fn())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (leases: ${await progress()})`);
    if (Date.now() - told > 10_000) {
      told = Date.now();
      say(`waiting for ${what}: leases ${await progress()}`);
    }
    await pause(250);
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Frame {
  readonly at: number;
  readonly targets: Target[];
}

async function runScenario(c: LiveCluster, frames: Frame[], notes: { at: number; text: string }[]): Promise<void> {
  const total = async () => [...(await c.leaseCounts()).values()].reduce((a, b) => a + b, 0);
  const counts = async () => JSON.stringify(Object.fromEntries([...(await c.leaseCounts())].sort()));
  /** Every guild owned and on its desired owner (no handoff pending): the ring has converged. */
  const converged = async () => {
    const st = await c.status();
    return st.guilds.owned === GUILDS && st.overrides.length === 0;
  };
  await c.start('http', 'http-1');
  for (const g of ['gw-1', 'gw-2', 'gw-3']) {
    await c.start('gateway', g);
    say(`started ${g}`);
  }
  let scraping = true;
  const scraper = (async () => {
    while (scraping) {
      const at = Date.now();
      frames.push({ at, targets: await c.scrape() });
      await pause(Math.max(0, SCRAPE_EVERY_MS - (Date.now() - at)));
    }
  })();
  const traffic = c.sim.startTraffic({ ratePerSec: 20 });
  await waitUntil(`all ${GUILDS} guilds owned, each on its desired gateway`, converged, 120_000, counts);
  say(`all ${GUILDS} guilds owned: ${await counts()}`);
  await pause(HOLD_MS);

  await c.start('gateway', 'gw-4');
  notes.push({ at: Date.now(), text: 'gw-4 joins' });
  say('started gw-4');
  await waitUntil('gw-4 to take its share by handoff', async () => (await c.leaseCounts()).has('gw-4') && (await converged()), 120_000, counts);
  say(`gw-4 took its share: ${await counts()}`);
  await pause(HOLD_MS);

  notes.push({ at: Date.now(), text: 'kill -9 gw-2' });
  await c.kill('gw-2');
  say('killed gw-2 (kill -9)');
  await waitUntil("gw-2's guilds owned by the survivors", async () => !(await c.leaseCounts()).has('gw-2') && (await total()) === GUILDS, 120_000, counts);
  say(`failover done: ${await counts()}`);
  await pause(HOLD_MS);
  traffic.stop();
  scraping = false;
  await scraper;
  for (const p of c.pods.values()) {
    const lost = p.proc.lines.filter((l) => /lost|expired/i.test(String(l.msg))).length;
    if (lost > 0) say(`${p.name}: ${lost} log lines about lost leases (first: ${JSON.stringify(p.proc.lines.find((l) => /lost|expired/i.test(String(l.msg))))?.slice(0, 300)})`);
  }
}

function legendOf(format: unknown, labels: Readonly<Record<string, string>>, fallback: string): string {
  if (typeof format !== 'string' || format === '' || format === '__auto') return fallback;
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, l: string) => labels[l] ?? '');
}

/** Every target of a panel evaluated over every frame: one series per legend. */
function panelSeries(panel: Obj, frames: readonly Frame[]): RenderedSeries[] {
  const out = new Map<string, (number | null)[]>();
  for (const t of panel['targets'] as Obj[]) {
    const expr = String(t['expr']);
    frames.forEach((f, i) => {
      for (const s of evaluate(expr, f.targets)) {
        const legend = legendOf(t['legendFormat'], s.labels, String(panel['title']));
        const values = out.get(legend) ?? Array.from({ length: frames.length }, () => null);
        values[i] = s.value;
        out.set(legend, values);
      }
    });
  }
  return [...out].map(([legend, values]) => ({ legend, values })).sort((a, b) => a.legend.localeCompare(b.legend));
}

function panelInput(panel: Obj, frames: readonly Frame[]): PanelInput {
  const type = String(panel['type']);
  if (type !== 'bargauge' && type !== 'stat' && type !== 'timeseries') throw new Error(`panel "${String(panel['title'])}" is a ${type}; the renderer draws bargauge, stat and timeseries`);
  const defaults = ((panel['fieldConfig'] as Obj | undefined)?.['defaults'] ?? {}) as Obj;
  const steps = (((defaults['thresholds'] as Obj | undefined)?.['steps'] ?? []) as { color: string; value: number | null }[]);
  return { type, title: String(panel['title']), gridPos: panel['gridPos'] as PanelInput['gridPos'], unit: String(defaults['unit'] ?? 'short'), thresholds: steps, series: panelSeries(panel, frames) };
}

async function main(): Promise<void> {
  if (!CHROMIUM) throw new Error('No Chromium found: apt-get install -y chromium (or set CHROMIUM_PATH)');
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Obj;
  const panels = rowPanels(dashboard, ROW);
  // Refuse an expression the evaluator cannot read before spending a minute on the run.
  for (const p of panels) for (const t of p['targets'] as Obj[]) evaluate(String(t['expr']), []);

  const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const databaseUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  say(`starting the stand-in (${GUILDS} guilds), http-1 and 3 gateways against ${redisUrl} and ${databaseUrl.replace(/:[^:@/]*@/, ':***@')}`);
  const cluster = await startLiveCluster({ redisUrl, databaseUrl, guilds: GUILDS, shards: 2, ttlMs: TTL_MS });
  const frames: Frame[] = [];
  const notes: { at: number; text: string }[] = [];
  try {
    await runScenario(cluster, frames, notes);
  } finally {
    await cluster.close();
  }
  say(`${frames.length} scrapes; rendering`);

  const pods = [...new Set(frames.flatMap((f) => f.targets.filter((t) => t.job === 'leasehold-gateway').map((t) => t.instance)))].sort();
  const first = frames[0]?.at ?? Date.now();
  const last = frames.at(-1)?.at ?? Date.now();
  const html = renderRowHtml({
    dashboardTitle: String(dashboard['title']),
    rowTitle: ROW,
    caption: `Rendered from a real run: ${GUILDS} guilds on the Discord stand-in, real gateway and http processes, /metrics of every pod scraped every ${SCRAPE_EVERY_MS / 1000} s from ${new Date(first).toISOString().slice(11, 19)} to ${new Date(last).toISOString().slice(11, 19)} UTC (lease TTL ${TTL_MS / 1000} s). Panels and queries from grafana/dashboards/leasehold-cluster.json.`,
    times: frames.map((f) => f.at),
    panels: panels.map((p) => panelInput(p, frames)),
    annotations: notes,
    colorOf: (legend, i) => PALETTE[pods.includes(legend) ? pods.indexOf(legend) : i % PALETTE.length] as string,
  });
  const htmlPath = join(ROOT, 'test-output/dashboard-guild-distribution.html');
  mkdirSync(dirname(htmlPath), { recursive: true });
  writeFileSync(htmlPath, html);
  // The raw scrapes the page was drawn from (only the series the row reads), for checking it.
  const row = new Set(['leasehold_guilds_owned', 'leasehold_guilds_unowned', 'leasehold_ring_members', 'leasehold_pins_ignored', 'leasehold_store_queue_depth', 'leasehold_redis_eviction_policy_ok']);
  writeFileSync(join(ROOT, 'test-output/dashboard-guild-distribution.frames.json'), JSON.stringify(frames.map((f) => ({ at: new Date(f.at).toISOString(), targets: f.targets.map((t) => ({ ...t, samples: t.samples.filter((x) => row.has(x.name)) })) }))));

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 800 }, deviceScaleFactor: 1 });
    await page.goto(pathToFileURL(htmlPath).href);
    await page.screenshot({ path: OUT, fullPage: true });
  } finally {
    await browser.close();
  }
  say(`wrote ${OUT} (page source: ${htmlPath})`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`render-dashboard failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
