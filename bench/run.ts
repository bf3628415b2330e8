// `npm run bench`: leasehold side by side with the seeds' design (bench/baseline/) on one
// machine, one workload: crash failover and lost events at 1,000 and 5,000 guilds per gateway,
// a planned move, a rolling restart, edge forwarding at 2,000 req/s, ring balance, renew cost
// and gateway footprint. Prints one table and writes it as JSON and Markdown.
//   node dist/bench/run.js [--quick] [--out DIR] [--only planned,failover,edge,ring,renew] [--merge FILE]
//   --only: run these parts (default all; `clusters` = planned + failover).
//   --merge: start from an earlier run's JSON and replace only the parts run now.
//   --sizes 1000,5000: guilds per gateway of the failover runs; --edge-seconds N.
//   --keep: keep each cluster's data dir with every pod's JSON log (<pod>.log) for a post-mortem.
//   --gateway-env K=V[,K=V]: extra settings for leasehold's gateways (named in the notes).
//   --designs leasehold|baseline: the cluster parts of one design only.
//   SIGINT/SIGTERM writes what was measured so far (the notes say where it stopped).
//   --quick: every part at a tiny size with the baseline's constants shortened (checks the
//            harness; its timings mean nothing).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { startSim } from '../src/sim/index.js';
import { baselineCluster, SEEDS_TIMING, type BaselineTiming } from './cluster/baseline.js';
import { leaseholdCluster } from './cluster/leasehold.js';
import type { BenchCluster, Design } from './cluster/types.js';
import { measureBaselineEdge, type EdgeLatency } from './baseline/edge.js';
import { seedsPlacement } from './baseline/placement.js';
import { measureBaselinePoll } from './baseline/upkeep.js';
import { DEFAULT_RING_VNODES } from '../src/cluster/ring.js';
import { ownRing, realisticGuildIds, ringScenario } from './ring.js';
import { failover, gatewayFootprint, plannedMove, rollingRestart, type FailoverResult, type MoveResult, type RollingResult } from './scenarios.js';
import type { Footprint } from './cluster/footprint.js';
import { machine, writeResults, type BenchReport, type DesignRun } from './report.js';
import { progress } from './table.js';

const execFileP = promisify(execFile);
/** Parts run as programs (bench/edge.ts, bench/leases.ts), in their own process groups. */
const parts = new Set<number>();
async function run(file: string, argv: string[], opts: { maxBuffer: number }): Promise<{ stdout: string }> {
  const p = execFileP(file, argv, { ...opts, detached: true } as Parameters<typeof execFileP>[2] & { detached: boolean });
  const pid = p.child.pid;
  if (pid) parts.add(pid);
  try {
    const r = await p;
    return { stdout: String(r.stdout) };
  } finally {
    if (pid) parts.delete(pid);
  }
}
const USAGE = `usage: node dist/bench/run.js [--quick] [--out DIR] [--only PARTS] [--merge FILE] [--sizes N,N]
       [--edge-seconds N] [--keep] [--gateway-env K=V,K=V] [--designs leasehold|baseline]
  --only        parts to run: planned, failover, edge, ring, renew (clusters = planned + failover; default all)
  --merge       start from an earlier run's JSON and replace only the parts run now
  --sizes       guilds per gateway of the failover runs (default 1000,5000)
  --keep        keep each cluster's data dir with every pod's JSON log
  --quick       every part at a tiny size (checks the harness; its timings mean nothing)
A full run uses the whole machine for tens of minutes; SIGINT writes what was measured so far.`;
let parsed: ReturnType<typeof parseOptions>;
function parseOptions() {
  return parseArgs({
    args: process.argv.slice(2),
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      designs: { type: 'string' },
      'gateway-env': { type: 'string' },
      only: { type: 'string' },
      merge: { type: 'string' },
      sizes: { type: 'string' },
      'edge-seconds': { type: 'string' },
      out: { type: 'string' },
    },
  });
}
try {
  parsed = parseOptions();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
  process.exit(2);
}
if (parsed.values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const arg = (name: string): string | undefined => parsed.values[name.replace(/^--/, '') as keyof typeof parsed.values] as string | undefined;
const quick = parsed.values.quick === true;
const keep = parsed.values.keep === true;
/** --designs leasehold: run the cluster parts of one design only (with --merge, the other keeps its rows). */
const designs = (arg('--designs') ?? 'leasehold,baseline').split(',');
/** --gateway-env K=V[,K=V]: settings for leasehold's gateways (they are recorded in the report's notes). */
const gatewayEnv: Record<string, string> = Object.fromEntries(
  (arg('--gateway-env') ?? '')
    .split(',')
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const only = new Set((arg('--only') ?? 'clusters,edge,ring,renew').split(',').flatMap((p) => (p === 'clusters' ? ['planned', 'failover'] : [p])));
const merge = arg('--merge');
const sizesArg = arg('--sizes');
const edgeSecondsArg = arg('--edge-seconds');
const outDir = arg('--out') ?? fileURLToPath(new URL('../../bench/results', import.meta.url));
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * The sizes and rates of a run; --quick shrinks everything. The planned move and the rolling
 * restart run on a smaller cluster (`plannedAt` guilds per gateway): a drain hands every guild
 * off one by one, and at 1,000 per gateway four drains and rebalances take most of an hour on
 * a shared 2-core machine. Failover runs at the issue's sizes.
 */
const PLAN = quick
  ? { plannedAt: 10, sizes: [10], pods: 2, ratePerSec: 40, moveGuilds: 3, interactionsPerSec: 4, ttlMs: 2000, edgeRate: 300, edgeSeconds: 2, baseline: { heartbeatEveryMs: 1000, pollEveryMs: 1000, deadAfterMs: 3000, sweepEveryMs: 250, cacheTtlMs: 300_000 } satisfies BaselineTiming }
  : { plannedAt: 200, sizes: [1000, 5000], pods: 2, ratePerSec: 100, moveGuilds: 100, interactionsPerSec: 10, ttlMs: 10_000, edgeRate: 2000, edgeSeconds: 10, baseline: SEEDS_TIMING };

/** The cluster running now: Ctrl-C (or a CI timeout's SIGTERM) must not leave its processes behind. */
let active: BenchCluster | undefined;
/** The report being filled, so an interrupted run still writes what it measured. */
let current: BenchReport | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    progress(`bench: ${sig}: stopping the cluster's processes`);
    for (const pid of parts) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    void (active?.close() ?? Promise.resolve())
      .then(() => {
        if (!current) return;
        current.notes.push(`Interrupted by ${sig} at ${new Date().toISOString()}: the parts after that were not measured.`);
        finish(current);
      })
      .finally(() => process.exit(130));
  });
}

type Kind = 'planned' | 'failover' | 'both';

if (sizesArg) (PLAN as { sizes: number[] }).sizes = sizesArg.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
if (edgeSecondsArg) (PLAN as { edgeSeconds: number }).edgeSeconds = Number(edgeSecondsArg);

async function runDesign(design: Design, perPod: number, kind: Kind): Promise<DesignRun> {
  const guilds = perPod * PLAN.pods;
  const shards = Math.max(2, Math.ceil(guilds / 2000));
  const sim = await startSim({ guilds, shards, seed: 42, identifyWindowMs: 100, heartbeatIntervalMs: 5000 });
  const dir = mkdtempSync(join(tmpdir(), `lh-bench-${design}-`));
  const id = randomBytes(4).toString('hex');
  const cluster: BenchCluster =
    design === 'leasehold'
      ? leaseholdCluster({ pods: PLAN.pods, guilds, shards, ttlMs: PLAN.ttlMs, dir, redisUrl: REDIS_URL, databaseUrl: DATABASE_URL, prefix: `bench${id}:`, schema: `bench_lh_${id}`, sim, identifyWindowMs: 100, restartTimeoutMs: quick ? 60_000 : 900_000, gatewayEnv })
      : baselineCluster({ pods: PLAN.pods, guildIds: sim.state.snapshot().guilds.map((g) => g.id), shards, dir, databaseUrl: DATABASE_URL, schema: `bench_base_${id}`, sim, identifyWindowMs: 100, timing: PLAN.baseline });
  const failoverTimeoutMs = design === 'leasehold' ? PLAN.ttlMs + 1_500_000 : PLAN.baseline.deadAfterMs + 3 * PLAN.baseline.pollEveryMs + 600_000;
  const o = { sim, cluster, ratePerSec: PLAN.ratePerSec, failoverTimeoutMs };
  active = cluster;
  try {
    progress(`${design}: starting ${PLAN.pods} gateways over ${guilds} guilds (${shards} shards)`);
    const t0 = Date.now();
    await cluster.start();
    const startMs = Date.now() - t0;
    progress(`${design}: serving after ${(startMs / 1000).toFixed(1)} s`);
    await cluster.settled();
    const settledMs = Date.now() - t0;
    if (design === 'leasehold') progress(`${design}: every guild replicated after ${(settledMs / 1000).toFixed(1)} s`);
    const fp: Footprint = gatewayFootprint(cluster);
    let planned: { move: MoveResult; rolling: RollingResult } | undefined;
    if (kind !== 'failover') {
      const move = await plannedMove(o, PLAN.moveGuilds);
      progress(`${design}: move pauses measured (${move.pausesMs.length}), lost ${move.lost}`);
      const rolling = await rollingRestart(o, PLAN.interactionsPerSec);
      progress(`${design}: rolling restart lost ${rolling.lost} events, failed ${rolling.interactionsFailed}/${rolling.interactions} interactions`);
      planned = { move, rolling };
    }
    let fo: FailoverResult | undefined;
    if (kind !== 'planned') {
      fo = await failover(o);
      progress(`${design}: failover of ${fo.guilds} guilds in ${(fo.failoverMs / 1000).toFixed(1)} s, lost ${fo.lost}/${fo.messages}`);
    }
    return { design, perPod, guilds, shards, startMs, settledMs, footprint: fp, ...planned, ...(fo ? { failover: fo } : {}) };
  } finally {
    active = undefined;
    await cluster.close();
    await sim.close();
    if (keep) progress(`${design}: kept its data and logs (<pod>.log) in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** leasehold's edge numbers come from bench/edge.ts itself (run as a program, its table parsed). */
async function leaseholdEdge(): Promise<EdgeLatency> {
  const script = fileURLToPath(new URL('./edge.js', import.meta.url));
  const { stdout } = await run(process.execPath, [script, '--rates', String(PLAN.edgeRate), '--seconds', String(PLAN.edgeSeconds), ...(quick ? ['--quick'] : [])], { maxBuffer: 1 << 24 });
  const cells = (path: string) => {
    const line = stdout.split('\n').find((l) => l.startsWith(`| ${PLAN.edgeRate} `) && l.split('|')[2]?.trim() === path);
    if (!line) throw new Error(`bench/edge.ts printed no "${path}" row:\n${stdout}`);
    return line.split('|').slice(1, -1).map((c) => c.trim());
  };
  const e = cells('edge → owner');
  const ov = cells('overhead');
  return { rate: PLAN.edgeRate, sent: Number(e[2]), errors: Number(e[3]), achievedRate: Number(e[4]), p50: Number(e[5]), p95: Number(e[6]), p99: Number(e[7]), overheadP50: Number(ov[5]), overheadP95: Number(ov[6]), overheadP99: Number(ov[7]) };
}

/** bench/leases.ts run as a program: the Redis time of renewing 10k leases in chunks. */
async function renewCost(): Promise<{ redisMs: number; stallMs: string }> {
  const script = fileURLToPath(new URL('./leases.js', import.meta.url));
  const { stdout } = await run(process.execPath, [script, ...(quick ? ['--quick'] : [])], { maxBuffer: 1 << 24 });
  const row = (prefix: string) => stdout.split('\n').find((l) => l.startsWith(`| ${prefix}`))?.split('|').slice(1, -1).map((c) => c.trim());
  const renew = row('renew 10k');
  const stall = row('no other client');
  if (!renew) throw new Error(`bench/leases.ts printed no renew target row:\n${stdout}`);
  return { redisMs: Number.parseFloat(renew[1] ?? 'NaN'), stallMs: stall?.[1] ?? '' };
}

async function main(): Promise<void> {
  const started = Date.now();
  const report: BenchReport = { quick, startedAt: new Date(started).toISOString(), machine: machine(), plan: PLAN, designs: [], notes: [] };
  current = report;
  if (Object.keys(gatewayEnv).length > 0) report.notes.push(`leasehold's gateways in the parts run at ${report.startedAt} (${[...only].join(', ')}) ran with ${Object.entries(gatewayEnv).map(([k, v]) => `${k}=${v}`).join(', ')}.`);
  if (quick) report.notes.push(`--quick: a tiny size (${PLAN.sizes.join(', ')} guilds per gateway standing in for 1,000 and 5,000, all scenarios on one cluster) and the baseline's constants shortened to heartbeat ${PLAN.baseline.heartbeatEveryMs} ms, poll ${PLAN.baseline.pollEveryMs} ms, dead after ${PLAN.baseline.deadAfterMs} ms: this checks the harness, its numbers mean nothing.`);
  progress(`bench: ${quick ? 'quick' : 'full'} run; parts ${[...only].join(', ')}; results to ${outDir}`);

  if (only.has('ring')) {
    progress('ring: balance and movement over 100k guild ids at 3/10/32 pods');
    const ids = realisticGuildIds(100_000);
    report.ring = [3, 10, 32].map((pods) => {
      const s = ringScenario(ownRing(DEFAULT_RING_VNODES), ids, pods);
      const b = seedsPlacement(ids, pods);
      return { pods, leasehold: { maxOverMean: s.maxOverMean, joinMoved: s.join.moved, leaveMoved: s.leave.moved }, baseline: { maxOverMean: b.maxOverMean, joinMoved: b.joinMoved, leaveMoved: b.leaveMoved } };
    });
  }
  if (only.has('planned') || only.has('failover')) {
    // One cluster per size; where the planned scenarios share a size with a failover (--quick),
    // they run first on the same cluster.
    const all: [number, Kind][] = PLAN.sizes.includes(PLAN.plannedAt) ? PLAN.sizes.map((n) => [n, n === PLAN.plannedAt ? 'both' : 'failover']) : [[PLAN.plannedAt, 'planned'], ...PLAN.sizes.map((n): [number, Kind] => [n, 'failover'])];
    const runs = all
      .map(([n, k]): [number, Kind] => [n, k === 'both' ? (only.has('planned') && only.has('failover') ? 'both' : only.has('planned') ? 'planned' : 'failover') : k])
      .filter(([, k]) => k === 'both' || only.has(k));
    for (const [perPod, kind] of runs) {
      for (const design of (['leasehold', 'baseline'] as const).filter((d) => designs.includes(d))) {
        progress(`cluster: ${design} at ${perPod} guilds per gateway (${kind === 'failover' ? 'crash failover' : kind === 'planned' ? 'planned move, rolling restart' : 'planned move, rolling restart, crash failover'})`);
        try {
          report.designs.push(await runDesign(design, perPod, kind));
        } catch (err) {
          // One part failing must not lose the others: the table says what is missing and why.
          const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
          progress(`cluster: ${design} at ${perPod} failed: ${why}`);
          report.notes.push(`${design} at ${perPod} guilds per gateway (${kind}) did not complete: ${why}`);
        }
      }
    }
  }
  if (only.has('edge')) {
    progress(`edge: forwarding at ${PLAN.edgeRate} req/s (bench/edge.ts, then the seeds' HTTP pod)`);
    const common = { databaseUrl: DATABASE_URL, rate: PLAN.edgeRate, seconds: PLAN.edgeSeconds, warmupSeconds: quick ? 1 : 2, guilds: 200 };
    report.edge = { leasehold: await leaseholdEdge(), baseline: await measureBaselineEdge({ ...common, cacheTtlMs: 0 }), baselineCached: await measureBaselineEdge({ ...common, cacheTtlMs: 300_000 }) };
  }
  if (only.has('renew')) {
    progress('renew: 10k leases (bench/leases.ts) and the baseline poll of 10k assignments');
    report.renew = { ...(await renewCost()), baselinePoll: await measureBaselinePoll({ databaseUrl: DATABASE_URL, guilds: 10_000, pods: 2, reads: quick ? 3 : 15 }) };
  }
  current = undefined;
  finish(report);
  progress(`bench: done in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
}

function finish(report: BenchReport): void {
  report.finishedAt = new Date().toISOString();
  report.machine = { ...report.machine, loadAtEnd: machine().loadAtStart };
  if (merge) mergeInto(report, JSON.parse(readFileSync(merge, 'utf8')) as BenchReport);
  const { md } = writeResults(report, outDir);
  process.stdout.write(`${md}\n`);
}

/**
 * Parts not run now come from the earlier run; a design run at the same size takes the earlier
 * one's measurements for the scenarios not run now. The notes say what was merged.
 */
function mergeInto(now: BenchReport, before: BenchReport): void {
  now.ring ??= before.ring;
  now.renew ??= before.renew;
  now.edge ??= before.edge;
  const merged = before.designs.map((b) => {
    const n = now.designs.find((d) => d.design === b.design && d.perPod === b.perPod);
    return n ? { ...b, ...n, footprint: n.footprint } : b;
  });
  for (const n of now.designs) if (!merged.some((m) => m.design === n.design && m.perPod === n.perPod)) merged.push(n);
  now.designs.splice(0, now.designs.length, ...merged);
  const redone = (note: string) => now.designs.some((d) => note.startsWith(`${d.design} at ${d.perPod} guilds per gateway`) && (note.includes('(planned') ? d.move !== undefined : d.failover !== undefined));
  now.notes.unshift(...before.notes.filter((x) => !redone(x)));
  now.notes.push(`Merged: ${[...only].join(', ')} re-run ${now.startedAt} → ${now.finishedAt ?? '?'} (load average ${now.machine.loadAtStart} at its start) into the run of ${before.startedAt}.`);
  now.machine = before.machine;
  (now as { startedAt: string }).startedAt = before.startedAt;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
