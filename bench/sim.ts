// How many dispatches a second the Discord stand-in sustains to 3 gateway sessions holding the same
// shard (target ≥ 20,000/s on a 2-core machine, so it never is a cluster benchmark's bottleneck).
// The stand-in runs on the main thread; three raw `ws` sessions run in a worker thread and count
// the MESSAGE_CREATE frames they receive. Two runs: a fixed rate (the seeded traffic generator at
// the target) and saturation (post as fast as the sessions keep up, at most 20,000 in flight).
//   node dist/bench/sim.js [--quick]
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { startSim } from '../src/sim/index.js';
import { createRandom, ZipfSampler } from '../src/sim/random.js';
import { median, percentile, printTable, progress } from './table.js';

const SESSIONS = 3;
const TARGET = 20_000;
const MAX_IN_FLIGHT = 20_000;

interface ClientData {
  readonly gatewayUrl: string;
}
/** Worker → main: frames received so far per session, and per wall-clock second (absolute second number). */
type Report = { kind: 'ready' } | { kind: 'counts'; counts: number[]; perSecond: Record<number, number[]> };

/** Wall-clock ms comparable across threads. */
const wallMs = (): number => performance.timeOrigin + performance.now();

// ---- worker: three raw sessions -----------------------------------------------------------

function runClients(d: ClientData): void {
  const counts = new Array<number>(SESSIONS).fill(0);
  // Seconds are counted here, on the idle thread, so a busy stand-in cannot skew the boundaries.
  const perSecond: Record<number, number[]> = {};
  let ready = 0;
  for (let i = 0; i < SESSIONS; i++) {
    const ws = new WebSocket(`${d.gatewayUrl}?v=10&encoding=json`, { perMessageDeflate: false });
    ws.on('message', (data: Buffer) => {
      // Counting without parsing: every dispatch frame starts with {"t":"<TYPE>".
      if (data.length > 22 && data.toString('latin1', 6, 20) === 'MESSAGE_CREATE') {
        counts[i] = (counts[i] ?? 0) + 1;
        const sec = Math.floor(wallMs() / 1000);
        const row = (perSecond[sec] ??= new Array<number>(SESSIONS).fill(0));
        row[i] = (row[i] ?? 0) + 1;
        return;
      }
      const p = JSON.parse(data.toString('utf8')) as { op: number; t?: string; d?: { heartbeat_interval?: number } };
      if (p.op === 10) {
        ws.send(JSON.stringify({ op: 2, d: { token: 'bench', intents: 513 | (1 << 15), shard: [0, 1], properties: { os: 'linux', browser: 'bench', device: 'bench' } } }));
        setInterval(() => ws.send('{"op":1,"d":null}'), p.d?.heartbeat_interval ?? 41_250).unref();
      } else if (p.t === 'READY' && ++ready === SESSIONS) {
        parentPort?.postMessage({ kind: 'ready' } satisfies Report);
      }
    });
  }
  setInterval(() => parentPort?.postMessage({ kind: 'counts', counts: [...counts], perSecond } satisfies Report), 50);
}

// ---- main: the stand-in and the drivers -----------------------------------------------------

interface RunResult {
  readonly name: string;
  readonly perSecond: number[];
  readonly delivered: number;
  readonly posted: number;
  readonly seconds: number;
  readonly elu: number;
  /** Heap in use after the run (the run log, stored messages and replay rings are all in memory). */
  readonly heapMb: number;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const seconds = quick ? 3 : 10;
  const sim = await startSim({ guilds: 1000, shards: 1, seed: 1, identifyWindowMs: 0 });
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { gatewayUrl: sim.gatewayUrl } satisfies ClientData });
  let counts = new Array<number>(SESSIONS).fill(0);
  let perSecondSeen: Record<number, number[]> = {};
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  worker.on('message', (m: Report) => {
    if (m.kind === 'ready') readyResolve();
    else {
      counts = m.counts;
      perSecondSeen = m.perSecond;
    }
  });
  worker.on('error', (err) => {
    process.stderr.write(`worker failed: ${String(err)}\n`);
    process.exit(1);
  });
  await ready;
  progress(`${SESSIONS} sessions ready on shard 0 of ${sim.state.guilds().length} guilds`);
  // The slowest session decides what was "delivered to all three".
  const deliveredToAll = () => Math.min(...counts);

  const measure = async (name: string, drive: (stopAt: number) => Promise<number>): Promise<RunResult> => {
    progress(`${name}: ${seconds} s`);
    const base = deliveredToAll();
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    const startSecond = Math.ceil(wallMs() / 1000);
    const posted = await drive(t0 + seconds * 1000);
    const endSecond = Math.floor(wallMs() / 1000);
    const elu = performance.eventLoopUtilization(elu0).utilization;
    // Let the sessions drain what was posted before counting the total.
    const drainBy = performance.now() + 30_000;
    while (deliveredToAll() - base < posted && performance.now() < drainBy) await new Promise((r) => setTimeout(r, 20));
    const seconds_ = (performance.now() - t0) / 1000;
    // Whole seconds inside the run only; per second, the slowest session's count.
    const perSecond: number[] = [];
    for (let sec = startSecond; sec < endSecond; sec++) perSecond.push(Math.min(...(perSecondSeen[sec] ?? [0])));
    return { name, perSecond, delivered: deliveredToAll() - base, posted, seconds: seconds_, elu, heapMb: process.memoryUsage().heapUsed / 1_048_576 };
  };

  const fixed = await measure(`fixed rate ${TARGET}/s (seeded traffic generator)`, async (stopAt) => {
    const handle = sim.startTraffic({ ratePerSec: TARGET, durationMs: stopAt - performance.now() });
    const summary = await handle.done;
    return summary.messages;
  });

  const guilds = sim.state.guilds();
  const zipf = new ZipfSampler(guilds.length);
  const rnd = createRandom(2);
  const saturated = await measure(`saturation (≤ ${MAX_IN_FLIGHT} in flight)`, async (stopAt) => {
    let posted = 0;
    const base = deliveredToAll();
    while (performance.now() < stopAt) {
      // Post in batches while the slowest session is fewer than MAX_IN_FLIGHT behind; yield
      // between batches so the sockets can write.
      const room = MAX_IN_FLIGHT - (posted - (deliveredToAll() - base));
      for (let i = 0; i < Math.min(room, 500); i++) {
        const g = guilds[zipf.sample(rnd)];
        if (!g) continue;
        sim.postMessage({ guildId: g.id, content: `saturation message ${posted}` });
        posted += 1;
      }
      await new Promise((r) => setImmediate(r));
    }
    return posted;
  });

  const worst = (xs: number[]) => (xs.length === 0 ? Number.NaN : Math.min(...xs));
  const rows = [fixed, saturated].map((r) => [
    r.name,
    String(r.perSecond.length),
    median(r.perSecond).toFixed(0),
    percentile(r.perSecond, 99).toFixed(0),
    worst(r.perSecond).toFixed(0),
    `${r.delivered}/${r.posted}`,
    `${(r.elu * 100).toFixed(0)} %`,
    r.heapMb.toFixed(0),
  ]);
  printTable(`Dispatches per second delivered to each of ${SESSIONS} sessions on one shard (slowest session, whole seconds)`, ['run', 'seconds', 'median/s', 'p99/s', 'worst second/s', 'delivered to all 3 / posted', 'stand-in event loop busy', 'heap MB after'], rows);
  const sustained = median(saturated.perSecond);
  const keptUp = fixed.delivered === fixed.posted && median(fixed.perSecond) >= TARGET * 0.97;
  printTable('Target (issue 5)', ['target', 'measured', 'result'], [
    [`≥ ${TARGET} dispatches/s sustained to ${SESSIONS} sessions`, `${sustained.toFixed(0)}/s saturated (median); the ${TARGET}/s run ${keptUp ? 'kept up' : 'fell behind'} with the event loop ${(fixed.elu * 100).toFixed(0)} % busy`, sustained >= TARGET && keptUp ? 'PASS' : 'MISS'],
  ]);
  await worker.terminate();
  await sim.close();
}

if (isMainThread) {
  main().catch((err: unknown) => {
    process.stderr.write(`${String(err instanceof Error ? err.stack : err)}\n`);
    process.exit(1);
  });
} else {
  runClients(workerData as ClientData);
}
