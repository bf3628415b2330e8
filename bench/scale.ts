// `npm run bench:scale`: DESIGN §12 simulated — 32 pods' ownership loops (the real
// OwnershipLoop, lease-only handoffs, no Discord and no guild data) in one process over 100k
// guilds against one real Redis (a private redis-server, so its CPU is ours alone) and the real
// Postgres assignment store. Measures Redis CPU (INFO), renew latency, convergence after a
// pod dies and after a pod joins, and lh:events entries a second; samples a timeline every
// second and renders it as docs/bench-scale.png.
//   node dist/bench/scale.js [--quick] [--pods N] [--guilds N] [--log] [--out DIR] [--png FILE]
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createClusterClient, type ClusterClient } from '../src/cluster/client.js';
import { MemberClient } from '../src/cluster/members.js';
import { OwnershipLoop } from '../src/cluster/ownership-loop.js';
import { Ring, ringParams } from '../src/cluster/ring.js';
import { systemClock } from '../src/clock.js';
import { createLogger, silentLogger } from '../src/log.js';
import { metrics } from '../src/metrics.js';
import { ENV } from '../src/config.js';
import { createAssignmentStore, type AssignmentStore } from '../src/store/index.js';
import { startPrivateRedis } from '../test/helpers/redis-server.js';
import { realisticGuildIds } from './ring.js';
import { waitFor } from './cluster/wait.js';
import { renderScaleChart } from './chart.js';
import { machine } from './report.js';
import { writeScaleResults, type ScaleReport, type ScaleSample } from './scale-report.js';
import { progress } from './table.js';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const quick = args.includes('--quick');
/** `--log`: the loops' warnings as JSON lines on stderr (slow heartbeats, stream gaps, failed commits). */
const loopLogger = args.includes('--log') ? createLogger({ level: 'warn', role: 'bench-scale' }) : silentLogger;
const outDir = arg('--out') ?? fileURLToPath(new URL('../../bench/results', import.meta.url));
const png = arg('--png') ?? (quick ? undefined : fileURLToPath(new URL('../../docs/bench-scale.png', import.meta.url)));
const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const BASE_PLAN = quick ? { pods: 4, guilds: 2000, ttlMs: 2000, steadySeconds: 4 } : { pods: 32, guilds: 100_000, ttlMs: 10_000, steadySeconds: 30 };
/** `--pods N` / `--guilds N` scale the run down (or up) for a look at one size; the table says so. */
const countArg = (name: string): number | undefined => {
  const v = arg(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench:scale: ${name} takes a positive integer, not "${v}"\n`);
    process.exit(2);
  }
  return n;
};
const PLAN = { ...BASE_PLAN, pods: countArg('--pods') ?? BASE_PLAN.pods, guilds: countArg('--guilds') ?? BASE_PLAN.guilds };
const PARAMS = ringParams();

interface Pod {
  readonly id: string;
  readonly loop: OwnershipLoop;
  readonly redis: Redis;
  readonly stream: Redis;
}

async function main(): Promise<void> {
  const started = Date.now();
  progress(`scale: ${PLAN.pods} ownership loops over ${PLAN.guilds} guilds, TTL ${PLAN.ttlMs} ms, against a private redis-server`);
  const redisServer = await startPrivateRedis();
  // Ctrl-C or a timeout's SIGTERM must not leave the private redis-server behind.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void redisServer.stop().finally(() => process.exit(130)));
  const admin = new Redis(redisServer.url);
  const schema = `bench_scale_${randomBytes(4).toString('hex')}`;
  const store: AssignmentStore = createAssignmentStore({ databaseUrl: DATABASE_URL, schema, maxConnections: 16 });
  await store.migrate();
  const prefix = 'lh:';
  const guilds = realisticGuildIds(PLAN.guilds);
  const pods = new Map<string, Pod>();

  const startPod = async (id: string): Promise<Pod> => {
    const redis = new Redis(redisServer.url);
    const stream = new Redis(redisServer.url);
    const cluster: ClusterClient = createClusterClient(redis, prefix, 10_000);
    const members = new MemberClient(redis, cluster.scripts, cluster.keys, id, PLAN.ttlMs, 10_000);
    const loop = new OwnershipLoop(
      {
        podId: id,
        ttlMs: PLAN.ttlMs,
        renewEveryMs: Math.floor(PLAN.ttlMs / 3),
        marginMs: Math.max(100, Math.floor(PLAN.ttlMs / 10)),
        reconcileEveryMs: Number(ENV.RECONCILE_EVERY_MS.def), // the product's default
        ringParams: PARAMS,
        guilds: () => guilds,
        memberFields: () => ({ addr: `10.0.0.1:${id}`, role: 'gateway', version: 'bench', ready: true, draining: false }),
      },
      { cluster, streamRedis: stream, store, members, clock: systemClock, logger: loopLogger.child({ pod: id }), hooks: { acquired: async () => undefined, lost: () => undefined } },
    );
    await loop.start();
    const pod = { id, loop, redis, stream };
    pods.set(id, pod);
    return pod;
  };
  const stopPod = async (id: string, crash: boolean) => {
    const p = pods.get(id) as Pod;
    await p.loop.stop({ release: !crash });
    p.redis.disconnect();
    p.stream.disconnect();
    pods.delete(id);
  };
  const held = () => [...pods.values()].reduce((n, p) => n + p.loop.heldLeases().size, 0);
  /** Every guild held by exactly its ring owner over the pods running now. */
  const converged = () => {
    if (held() !== guilds.length) return false;
    const ring = new Ring(pods.keys(), PARAMS);
    for (const p of pods.values()) for (const g of p.loop.heldLeases().keys()) if (ring.lookup(g) !== p.id) return false;
    return true;
  };

  // Redis-side counters, sampled each second for the timeline.
  const info = async () => {
    const cpu = await admin.info('cpu');
    const num = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(cpu)?.[1] ?? 0);
    const xinfo = (await admin.call('XINFO', 'STREAM', `${prefix}events`).catch(() => [])) as unknown[];
    const added = xinfo.indexOf('entries-added');
    return { cpuSec: num('used_cpu_sys') + num('used_cpu_user'), eventsAdded: added >= 0 ? Number(xinfo[added + 1]) : 0, at: performance.now() };
  };
  const samples: ScaleSample[] = [];
  // All 32 loops share this process's one event loop: its delay says when the run measures the
  // process rather than the design (heartbeats late by a TTL make members expire).
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  let phase = 'start';
  let prev = await info();
  const t0 = performance.now();
  const sampler = setInterval(() => {
    void info().then((now) => {
      const dt = (now.at - prev.at) / 1000;
      const sample = { t: (now.at - t0) / 1000, phase, pods: pods.size, held: held(), redisCpuPct: ((now.cpuSec - prev.cpuSec) / dt) * 100, eventsPerSec: (now.eventsAdded - prev.eventsAdded) / dt };
      samples.push(sample);
      prev = now;
      if (samples.length % 10 === 0)
        void Promise.all([metrics.leaseClaims.get(), metrics.reconciles.get()]).then(([c, r]) => {
          const counts = (m: { values: { labels: Record<string, string | number | undefined>; value: number }[] }, label: string) => m.values.map((v) => `${String(v.labels[label])} ${v.value}`).join(', ') || 'none';
          progress(`scale: ${sample.t.toFixed(0)} s, ${phase}: ${sample.held} of ${PLAN.guilds} held, Redis ${sample.redisCpuPct.toFixed(1)} % of a core, ${sample.eventsPerSec.toFixed(0)} lh:events/s, event loop delay max ${(loopDelay.max / 1e6).toFixed(0)} ms; claims so far: ${counts(c, 'result')}; reconciles: ${counts(r, 'reason')}`);
          loopDelay.reset();
        });
    });
  }, 1000);

  const report: ScaleReport = { quick, startedAt: new Date(started).toISOString(), machine: machine(), plan: PLAN, phases: {}, notes: [] };
  try {
    // 1. Start: every pod joins; guilds are claimed by their ring owners.
    const ids = Array.from({ length: PLAN.pods }, (_, i) => `pod-${String(i).padStart(2, '0')}`);
    let tStart = performance.now();
    for (const id of ids) await startPod(id);
    await waitFor(`${PLAN.guilds} guilds claimed and converged`, converged, 30 * 60_000, 500);
    report.phases['start'] = { seconds: (performance.now() - tStart) / 1000 };
    progress(`scale: converged after start in ${report.phases['start'].seconds.toFixed(1)} s`);

    // 2. Steady state: Redis CPU, renew latency, events.
    phase = 'steady';
    const renewBefore = await metrics.leaseRenewSeconds.get();
    const a = await info();
    const stats0 = await admin.info('commandstats');
    await new Promise((r) => setTimeout(r, PLAN.steadySeconds * 1000));
    const b = await info();
    const stats1 = await admin.info('commandstats');
    const renewAfter = await metrics.leaseRenewSeconds.get();
    const secs = (b.at - a.at) / 1000;
    const evalUsec = (s: string) => [...s.matchAll(/cmdstat_(evalsha|eval):calls=(\d+),usec=(\d+)/g)].reduce((n, m) => ({ calls: n.calls + Number(m[2]), usec: n.usec + Number(m[3]) }), { calls: 0, usec: 0 });
    const e0 = evalUsec(stats0);
    const e1 = evalUsec(stats1);
    report.phases['steady'] = {
      seconds: secs,
      redisCpuPct: ((b.cpuSec - a.cpuSec) / secs) * 100,
      scriptMsPerSec: (e1.usec - e0.usec) / 1000 / secs,
      scriptCallsPerSec: (e1.calls - e0.calls) / secs,
      eventsPerSec: (b.eventsAdded - a.eventsAdded) / secs,
      renewMs: histogramQuantiles(renewBefore.values, renewAfter.values),
    };
    progress(`scale: steady state: Redis ${report.phases['steady'].redisCpuPct?.toFixed(1)} % of a core`);

    // 3. A pod dies (no release: its leases expire); its guilds go to their new ring owners.
    phase = 'pod dies';
    const victim = ids[Math.floor(PLAN.pods / 2)] as string;
    const victimGuilds = (pods.get(victim) as Pod).loop.heldLeases().size;
    tStart = performance.now();
    await stopPod(victim, true);
    await waitFor('the dead pod\'s guilds claimed by survivors', converged, 10 * 60_000, 100);
    report.phases['podDies'] = { seconds: (performance.now() - tStart) / 1000, guilds: victimGuilds };
    progress(`scale: a pod died (${victimGuilds} guilds): converged in ${report.phases['podDies'].seconds.toFixed(1)} s`);

    // 4. A pod joins: its share moves to it by lease-only handoff.
    phase = 'pod joins';
    tStart = performance.now();
    await startPod(victim);
    await waitFor('the joiner holding its share', converged, 10 * 60_000, 100);
    report.phases['podJoins'] = { seconds: (performance.now() - tStart) / 1000, guilds: (pods.get(victim) as Pod).loop.heldLeases().size };
    progress(`scale: a pod joined: converged in ${report.phases['podJoins'].seconds.toFixed(1)} s`);
    phase = 'end';
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    clearInterval(sampler);
    for (const id of [...pods.keys()]) await stopPod(id, true).catch(() => undefined);
    admin.disconnect();
    await redisServer.stop();
    await store.db.schema.dropSchema(schema).ifExists().cascade().execute().catch(() => undefined);
    await store.close();
  }
  report.samples = samples;
  report.finishedAt = new Date().toISOString();
  report.machine = { ...report.machine, loadAtEnd: machine().loadAtStart };
  if (PLAN.pods !== BASE_PLAN.pods || PLAN.guilds !== BASE_PLAN.guilds) report.notes.push(`Sized by hand: ${PLAN.pods} pods over ${PLAN.guilds} guilds (the design's run is ${BASE_PLAN.pods} over ${BASE_PLAN.guilds}).`);
  if (quick) report.notes.push(`--quick: ${PLAN.pods} pods over ${PLAN.guilds} guilds, TTL ${PLAN.ttlMs} ms: this checks the harness, its numbers mean nothing.`);
  const { md } = writeScaleResults(report, outDir);
  process.stdout.write(`${md}\n`);
  if (png) {
    progress(`scale: rendering ${png}`);
    await renderScaleChart(report, png);
  }
  progress(`scale: done in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
}

/** p50 / p99 / max of a histogram's observations between two readings (bucket upper bounds, ms). */
function histogramQuantiles(before: { labels: Record<string, unknown>; value: number; metricName?: string }[], after: typeof before): { p50: number; p99: number; count: number } {
  const buckets = (vals: typeof before) => new Map(vals.filter((v) => v.metricName?.endsWith('_bucket')).map((v) => [Number(v.labels['le'] === '+Inf' ? Infinity : v.labels['le']), v.value]));
  const b0 = buckets(before);
  const b1 = buckets(after);
  const les = [...b1.keys()].sort((x, y) => x - y);
  const cum = les.map((le) => (b1.get(le) ?? 0) - (b0.get(le) ?? 0));
  const count = cum[cum.length - 1] ?? 0;
  const q = (p: number) => (les[cum.findIndex((c) => c >= p * count)] ?? Infinity) * 1000;
  return { p50: q(0.5), p99: q(0.99), count };
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:scale: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
