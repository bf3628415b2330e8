// Dashboards and alerts against what live pods really expose: a real stand-in, two real gateways
// and an http pod, each /metrics scraped as Prometheus would (job and instance per pod). Every
// metric a dashboard or alert names must be declared by the pods of the job it selects and, unless
// listed below with the event that creates it, carry samples there; and the guild-distribution
// row, evaluated over one scrape, must agree with the leases in Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, redisUrl, waitFor } from '../../helpers/services.js';
import { startLiveCluster, JOBS, type LiveCluster } from './live-cluster.js';
import { parsePromText, familyOf } from './prom-text.js';
import { evaluate, type Target } from './promql-eval.js';
import { usesOf } from './promql.js';
import { alertExprs, dashboardExprs } from './grafana.js';

const GUILDS = 30;

/**
 * Metrics whose samples exist only once something happens that this calm run does not cause
 * (prom-client prints a labelled counter or histogram only after its first labelled update).
 * Each is declared (`# TYPE`) by every pod; the test fails if one is named here but not used.
 */
const APPEAR_ON_EVENT: Readonly<Record<string, string>> = {
  leasehold_lease_lost_total: 'a lease lost (missed deadline, taken, fenced): none in a calm run',
  leasehold_litestream_restarts_total: 'a Litestream process restarted (crash, EMFILE): none in a calm run',
};

let c: LiveCluster;
let targets: Target[];
const declared = new Map<string, Set<string>>(); // job → families with a # TYPE line

beforeAll(async () => {
  c = await startLiveCluster({ redisUrl: redisUrl(), databaseUrl: databaseUrl(), guilds: GUILDS, shards: 1, ttlMs: 10_000 });
  await c.start('gateway', 'gw-1');
  await waitFor('gw-1 to own every guild', async () => (await c.leaseCounts()).get('gw-1') === GUILDS || undefined, 60_000, 200);
  // gw-2 joins a cluster that already owns everything: its share moves by planned handoff.
  const [, edge] = await Promise.all([c.start('gateway', 'gw-2'), c.start('http', 'http-1')]);
  await waitFor('both gateways on the ring and every guild on its desired gateway', async () => {
    const st = await c.status();
    return (st.ringMembers.length === 2 && st.guilds.owned === GUILDS && st.overrides.length === 0) || undefined;
  }, 90_000, 250);
  // Traffic and one interaction per guild, so dispatches, REST calls and forwarding happen.
  const traffic = c.sim.startTraffic({ ratePerSec: 30, durationMs: 2000 });
  const guilds = c.sim.state.snapshot().guilds.map((g) => g.id);
  await waitFor('the edge ready', async () => (await fetch(`${edge.url}/readyz`)).ok || undefined, 30_000, 200);
  // A few, one at a time: they are here to make the edge forward and count outcomes (whether each
  // met Discord's 3 s is the interaction tests' business, not something a loaded machine decides here).
  for (const guildId of guilds.slice(0, 5)) await c.sim.sendInteraction({ url: `${edge.url}/interactions`, guildId, kind: 'command', name: 'stats' });
  await traffic.done;
  targets = await c.scrape();
  for (const p of c.pods.values()) {
    const text = await (await fetch(`${p.url}/metrics`)).text();
    const set = declared.get(JOBS[p.role]) ?? new Set<string>();
    for (const f of parsePromText(text).types.keys()) set.add(f);
    declared.set(JOBS[p.role], set);
  }
}, 150_000);

afterAll(async () => {
  await c?.close();
});

/** Each metric a dashboard or alert names, with the jobs its expression selects. */
function namedMetrics(): { where: string; metric: string; jobs: string[] }[] {
  return [...dashboardExprs(), ...alertExprs()].flatMap(({ where, expr }) => {
    const job = /job="([^"]+)"/.exec(expr)?.[1];
    const jobs = job ? [job] : Object.values(JOBS);
    return usesOf(expr).metrics.filter((m) => m !== 'up').map((metric) => ({ where, metric, jobs }));
  });
}

describe('dashboards and alerts against live pods', () => {
  it('every pod answers a scrape under the job the dashboards select', () => {
    expect(targets.map((t) => [t.job, t.instance, t.up]).sort((a, b) => String(a[1]).localeCompare(String(b[1])))).toEqual([
      ['leasehold-gateway', 'gw-1', true],
      ['leasehold-gateway', 'gw-2', true],
      ['leasehold-http', 'http-1', true],
    ]);
  });

  it('every metric a dashboard or alert names is declared by the pods of the job it selects', () => {
    const missing = namedMetrics().flatMap(({ where, metric, jobs }) =>
      jobs.filter((job) => ![...(declared.get(job) ?? [])].some((f) => f === familyOf(metric, new Map([[f, '']])) || f === metric)).map((job) => `${where}: ${metric} not in /metrics of ${job}`),
    );
    expect(missing).toEqual([]);
  });

  it('every metric a dashboard or alert names has samples on a live pod of its job, except the ones only an event creates', () => {
    const withSamples = (metric: string, jobs: string[]) => targets.some((t) => jobs.includes(t.job) && t.samples.some((s) => s.name === metric));
    const named = namedMetrics();
    const absent = [...new Set(named.filter(({ metric, jobs }) => !withSamples(metric, jobs)).map(({ metric }) => metric.replace(/_(bucket|sum|count)$/, '')))].sort();
    expect(absent).toEqual(Object.keys(APPEAR_ON_EVENT).filter((m) => absent.includes(m)).sort());
    // The list above names only metrics the dashboards or alerts use, so it cannot go stale silently.
    const used = new Set(named.map(({ metric }) => metric.replace(/_(bucket|sum|count)$/, '')));
    expect(Object.keys(APPEAR_ON_EVENT).filter((m) => !used.has(m))).toEqual([]);
  });

  it('the guild-distribution row, evaluated over the scrape, matches the leases in Redis', async () => {
    const counts = await c.leaseCounts();
    const one = (expr: string) => evaluate(expr, targets).map((s) => s.value);
    const perPod = Object.fromEntries(evaluate('sum by (pod) (leasehold_guilds_owned{job="leasehold-gateway"})', targets).map((s) => [s.labels['pod'], s.value]));
    expect(perPod).toEqual(Object.fromEntries(counts));
    expect(one('sum(leasehold_guilds_owned{job="leasehold-gateway"})')).toEqual([GUILDS]);
    expect(one('sum(up{job="leasehold-gateway"})')).toEqual([2]);
    expect(one('max(leasehold_ring_members)')).toEqual([2]);
    expect(one('max(leasehold_guilds_unowned)')).toEqual([0]);
    expect(one('min(leasehold_redis_eviction_policy_ok)')).toEqual([1]);
    const share = one('max(leasehold_guilds_owned{job="leasehold-gateway"}) / sum(leasehold_guilds_owned{job="leasehold-gateway"})')[0];
    expect(share).toBe(Math.max(...counts.values()) / GUILDS);
  });
});
