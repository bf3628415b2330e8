// The cluster scenarios of the side-by-side benchmark, run the same way on either design
// (bench/cluster/types.ts): a crash failover, a planned move and a rolling restart, each under
// the stand-in's seeded message traffic, each judged by the same history checker (events the
// stand-in dispatched that no owner applied, or that two owners applied).
import { statSync } from 'node:fs';
import type { Sim } from '../src/sim/index.js';
import { checkHistory, readApplications } from '../test/helpers/history.js';
import { footprint, type Footprint } from './cluster/footprint.js';
import { lineTime, type BenchCluster } from './cluster/types.js';
import { waitFor } from './cluster/wait.js';
import { progress } from './table.js';

export interface Losses {
  /** Messages dispatched while the scenario ran. */
  readonly messages: number;
  readonly lost: number;
  /** Applied by two owners (not across a restore, where a replay is the design). */
  readonly appliedTwice: number;
}

export interface FailoverResult extends Losses {
  readonly guilds: number;
  /** Kill → the last of the victim's guilds live on a survivor. */
  readonly failoverMs: number;
  readonly firstLiveMs: number;
}

export interface MoveResult extends Losses {
  readonly guilds: number;
  readonly pausesMs: number[];
  readonly tookMs: number;
}

export interface RollingResult extends Losses {
  readonly restarts: number;
  readonly interactions: number;
  readonly interactionsFailed: number;
  readonly exitCodes: (number | null)[];
  readonly tookMs: number;
}

export interface ScenarioOptions {
  readonly sim: Sim;
  readonly cluster: BenchCluster;
  /** Messages a second while a scenario runs. */
  readonly ratePerSec: number;
  /** How long to wait for a failover before giving up. */
  readonly failoverTimeoutMs: number;
}

/** Sizes of the history files: they stop growing once every owner has applied what it will. */
function historySize(files: readonly string[]): number {
  return files.reduce((n, f) => {
    try {
      return n + statSync(f).size;
    } catch {
      return n;
    }
  }, 0);
}

/**
 * Runs `during` under traffic, then stops the traffic and waits until every message is applied
 * or nothing more is being applied (a lost event stays lost), and checks the window's history.
 */
async function underTraffic<T>(o: ScenarioOptions, during: () => Promise<T>, interactions?: { url: string; ratePerSec: number }): Promise<{ value: T; losses: Losses; interactionsFrom: number }> {
  const fromSeq = o.sim.log.nextDispatchSeq;
  const interactionsFrom = o.sim.log.nextInteractionN;
  const traffic = o.sim.startTraffic({ ratePerSec: o.ratePerSec, ...(interactions ? { interactions } : {}) });
  await waitFor('some traffic', () => traffic.sent() >= o.ratePerSec || undefined, 30_000, 50);
  const value = await during();
  // A little more traffic after the change, so what follows it is measured too.
  const after = traffic.sent() + o.ratePerSec;
  await waitFor('traffic after the change', () => traffic.sent() >= after || undefined, 30_000, 50);
  traffic.stop();
  await traffic.done;
  const files = o.cluster.historyFiles();
  const window = () => o.sim.log.dispatches(fromSeq);
  let last = -1;
  let stableSince = Date.now();
  await waitFor(
    'every message applied, or the histories quiet for 3 s',
    () => {
      const size = historySize(files);
      if (size !== last) {
        last = size;
        stableSince = Date.now();
      }
      if (Date.now() - stableSince >= 3000) return true;
      return checkHistory(window(), readApplications(files)).lost.length === 0 || undefined;
    },
    120_000,
    250,
  );
  const h = checkHistory(window(), readApplications(files), await o.cluster.abandoned());
  // Name the first losses, so a post-mortem (bench --keep) knows where to look.
  for (const l of h.lost.slice(0, 20)) progress(`    lost: ${l} (guild:dedupe key)`);
  if (h.lost.length > 20) progress(`    lost: … and ${h.lost.length - 20} more`);
  return { value, losses: { messages: h.messages, lost: h.lost.length, appliedTwice: h.appliedTwice.length }, interactionsFrom };
}

export async function failover(o: ScenarioOptions): Promise<FailoverResult> {
  const { cluster } = o;
  // The gateway holding the most guilds (earlier scenarios may have shifted some).
  const owners = [...(await cluster.owners()).values()];
  const victim = cluster.pods.reduce((a, b) => (owners.filter((x) => x === b).length > owners.filter((x) => x === a).length ? b : a));
  const survivors = cluster.pods.filter((p) => p !== victim);
  let guilds = 0;
  const r = await underTraffic(o, async () => {
    const victimGuilds = [...(await cluster.owners())].filter(([, p]) => p === victim).map(([g]) => g);
    guilds = victimGuilds.length;
    const killedAt = Date.now();
    progress(`  ${cluster.design}: kill -9 ${victim} (${guilds} guilds) under ${o.ratePerSec} msg/s`);
    cluster.kill(victim);
    // Each survivor's new log lines are read once (a scan of every line per guild per poll took
    // a third of the machine at 5,000 guilds, slowing the cluster it measured).
    const firstLive = new Map<string, number>();
    const readUpTo = new Map<string, number>(survivors.map((s) => [s, 0]));
    const scan = () => {
      for (const s of survivors) {
        const lines = cluster.process(s).lines;
        for (let i = readUpTo.get(s) as number; i < lines.length; i++) {
          const x = lines[i] as (typeof lines)[number];
          if (x.msg !== 'guild live' || lineTime(x) < killedAt) continue;
          const g = String(x['guild']);
          if (!firstLive.has(g)) firstLive.set(g, lineTime(x));
        }
        readUpTo.set(s, lines.length);
      }
    };
    const times = await waitFor(`${victim}'s ${guilds} guilds live on the survivors`, () => {
      scan();
      const t = victimGuilds.map((g) => firstLive.get(g));
      return t.every((x) => x !== undefined) ? (t as number[]) : undefined;
    }, o.failoverTimeoutMs, 200);
    return { failoverMs: Math.max(...times) - killedAt, firstLiveMs: Math.min(...times) - killedAt };
  });
  return { guilds, ...r.value, ...r.losses };
}

export async function plannedMove(o: ScenarioOptions, count: number): Promise<MoveResult> {
  const { cluster } = o;
  const [from, to] = cluster.pods as [string, string];
  const owners = await cluster.owners();
  const guilds = [...owners].filter(([, p]) => p === from).map(([g]) => g).sort().slice(0, count);
  let tookMs = 0;
  const r = await underTraffic(o, async () => {
    const since = Date.now();
    progress(`  ${cluster.design}: moving ${guilds.length} guilds ${from} → ${to}`);
    await cluster.move(guilds, to);
    await waitFor(`${guilds.length} guilds moved and serving on ${to}`, async () => {
      const now = await cluster.owners();
      return (guilds.every((g) => now.get(g) === to) && cluster.movePauses(guilds, since).filter(Number.isFinite).length === guilds.length) || undefined;
    }, 600_000, 200);
    tookMs = Date.now() - since;
    return cluster.movePauses(guilds, since);
  });
  return { guilds: guilds.length, pausesMs: r.value, tookMs, ...r.losses };
}

export async function rollingRestart(o: ScenarioOptions, interactionsPerSec: number): Promise<RollingResult> {
  const { cluster, sim } = o;
  const exitCodes: (number | null)[] = [];
  const t0 = Date.now();
  const r = await underTraffic(
    o,
    async () => {
      for (const pod of cluster.pods) {
        progress(`  ${cluster.design}: rolling restart of ${pod}`);
        exitCodes.push((await cluster.restart(pod)).exitCode);
      }
    },
    { url: cluster.interactionsUrl(), ratePerSec: interactionsPerSec },
  );
  // Every interaction has its verdict within Discord's 3 s (plus the sender's own timeout).
  await waitFor('every interaction answered or failed', () => sim.log.interactions(r.interactionsFrom).every((i) => !i.pending) || undefined, 30_000, 200);
  const sent = sim.log.interactions(r.interactionsFrom);
  return { restarts: cluster.pods.length, interactions: sent.length, interactionsFailed: sent.filter((i) => i.failed).length, exitCodes, tookMs: Date.now() - t0, ...r.losses };
}

/** The largest gateway footprint in the cluster now (RSS and fds, Litestream children included). */
export function gatewayFootprint(cluster: BenchCluster): Footprint {
  return cluster.pods.map((p) => footprint(cluster.process(p).pid)).reduce((a, b) => (b.rssBytes > a.rssBytes ? b : a));
}
