// Forwarding overhead of the http edge: Discord-signed interactions through the edge to a fake
// owner, against signed requests straight to that owner, both open-loop at a fixed rate on
// loopback. Latency counts from each request's scheduled send time (no coordinated omission).
// Three processes: this one (load generator), the edge, the fake owner.
//   node dist/bench/edge.js [--quick] [--rates 1000,2000] [--seconds 10]
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Pool } from 'undici';
import { createClusterClient } from '../src/cluster/client.js';
import { agreeRingParams, MemberClient } from '../src/cluster/members.js';
import { ringParams, ringParamsId } from '../src/cluster/ring.js';
import { createAssignmentStore } from '../src/store/index.js';
import { systemClock } from '../src/clock.js';
import { createLogger } from '../src/log.js';
import { signInternal, verifyInternal } from '../src/runtime/internal-auth.js';
import { createEdge } from '../src/http/edge.js';
import { percentile, printTable, progress } from './table.js';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const quick = args.includes('--quick');
const RATES = (arg('--rates') ?? arg('--rate') ?? '2000').split(',').map(Number).filter((r) => r > 0);
const SECONDS = Number(arg('--seconds') ?? (quick ? 3 : 10));
const WARMUP_SECONDS = quick ? 1 : 2;
const GUILDS = 200;
const SECRET = 'bench-internal-secret';
const APP_ID = '111111111111111111';
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PARAMS = ringParams(64);

// ---- child: the fake owner (a gateway's internal API, minus the bot) ----

async function runOwner(): Promise<void> {
  const reply = Buffer.from(JSON.stringify({ type: 4, data: { content: 'ok' } }));
  const server = createServer((req, res) => {
    if (req.url === '/cpu') {
      const u = process.cpuUsage();
      res.writeHead(200).end(String(u.user + u.system));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const v = verifyInternal([SECRET], { method: req.method ?? '', pathWithQuery: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) }, Date.now());
      if (!v.ok) {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': reply.length }).end(reply);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
}

// ---- child: the edge ----

async function runEdge(): Promise<void> {
  const env = process.env;
  const logger = createLogger({ level: 'warn', role: 'http', pod: 'bench-edge' });
  const cluster = createClusterClient(new Redis(REDIS_URL), env['BENCH_PREFIX'] as string, 1000);
  const store = createAssignmentStore({ databaseUrl: DATABASE_URL, schema: env['BENCH_SCHEMA'] as string, logger });
  await store.migrate();
  const edge = createEdge({
    podId: 'bench-edge',
    publicKey: env['BENCH_PUBLIC_KEY'] as string,
    applicationId: APP_ID,
    adminTokens: ['bench-admin-token'],
    internalSecrets: [SECRET],
    discordApiUrl: 'http://127.0.0.1:9/api',
    reconcileEveryMs: 60_000,
    ringParams: PARAMS,
    cluster,
    streamRedis: new Redis(REDIS_URL),
    store,
    clock: systemClock,
    logger,
  });
  await edge.start();
  const server = createServer(edge.app.callback());
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
}

// ---- the load generator ----

function startChild(role: 'owner' | 'edge', env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [...(process.env['BENCH_CHILD_NODE_ARGS'] ?? '').split(' ').filter(Boolean), fileURLToPath(import.meta.url), '--child', role], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{"port"'));
      if (line) resolve({ child, port: (JSON.parse(line) as { port: number }).port });
    });
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code} before listening`)));
  });
}

/** CPU microseconds a process has used so far: the owner's /cpu, the edge's /metrics, or ours. */
async function cpuUs(target: 'self' | { owner: number } | { edge: number }): Promise<number> {
  if (target === 'self') {
    const u = process.cpuUsage();
    return u.user + u.system;
  }
  if ('owner' in target) return Number(await (await fetch(`http://127.0.0.1:${target.owner}/cpu`)).text());
  const text = await (await fetch(`http://127.0.0.1:${target.edge}/metrics`)).text();
  return Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1] ?? 'NaN') * 1e6;
}

export interface Run {
  readonly latenciesMs: number[];
  readonly errors: number;
  readonly sent: number;
  readonly achievedRate: number;
  /** CPU µs per request of the generator, the edge and the owner during the run. */
  cpu?: { gen: number; edge: number; owner: number };
}

/** Open loop: request i is due at start + i/rate; its latency counts from then. */
export async function openLoop(pool: Pool, rate: number, seconds: number, request: (i: number) => { path: string; headers: Record<string, string>; body: Buffer }): Promise<Run> {
  const total = Math.floor(rate * seconds);
  const latenciesMs: number[] = [];
  let errors = 0;
  let sent = 0;
  const inflight = new Set<Promise<void>>();
  const start = performance.now();
  await new Promise<void>((done) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      for (; sent < due; sent++) {
        const i = sent;
        const scheduled = start + (i * 1000) / rate;
        const r = request(i);
        const p = pool
          .request({ path: r.path, method: 'POST', headers: r.headers, body: r.body })
          .then(async (res) => {
            const text = await res.body.text();
            if (res.statusCode !== 200 || !text.includes('"type":4')) errors++;
            else latenciesMs.push(performance.now() - scheduled);
          })
          .catch(() => {
            errors++;
          });
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
      if (sent < total) setTimeout(tick, 1);
      else done();
    };
    tick();
  });
  await Promise.all([...inflight]);
  const elapsed = (performance.now() - start) / 1000;
  return { latenciesMs, errors, sent, achievedRate: sent / elapsed };
}

function merge(runs: readonly Run[]): Run {
  const sent = runs.reduce((a, r) => a + r.sent, 0);
  const avg = (f: (r: Run) => number) => runs.reduce((a, r) => a + f(r) * r.sent, 0) / sent;
  return {
    latenciesMs: runs.flatMap((r) => r.latenciesMs),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    sent,
    achievedRate: avg((r) => r.achievedRate),
    cpu: { gen: avg((r) => r.cpu?.gen ?? 0), edge: avg((r) => r.cpu?.edge ?? 0), owner: avg((r) => r.cpu?.owner ?? 0) },
  };
}

export function signedInteractions(key: KeyObject, guilds: readonly string[], n: number): { body: Buffer; headers: Record<string, string> }[] {
  const ts = String(Math.floor(Date.now() / 1000));
  return Array.from({ length: n }, (_, i) => {
    const body = JSON.stringify({ id: String(900000000000000000n + BigInt(i)), application_id: APP_ID, type: 2, token: `tok-${i}`, version: 1, guild_id: guilds[i % guilds.length], data: { id: '1', name: 'stats', type: 1 } });
    return { body: Buffer.from(body), headers: { 'content-type': 'application/json', 'x-signature-timestamp': ts, 'x-signature-ed25519': sign(null, Buffer.from(ts + body), key).toString('hex') } };
  });
}

async function main(): Promise<void> {
  const prefix = `bench-edge-${randomBytes(4).toString('hex')}:`;
  const schema = `bench_edge_${randomBytes(4).toString('hex')}`;
  const redis = new Redis(REDIS_URL);
  const cluster = createClusterClient(redis, prefix, 1000);
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ format: 'der', type: 'spki' });
  const children: ChildProcess[] = [];
  try {
    progress(`starting the fake owner and the edge (rates ${RATES.join(', ')}/s, ${SECONDS} s per run, ${GUILDS} guilds)`);
    const owner = await startChild('owner', {});
    children.push(owner.child);
    await agreeRingParams(cluster.scripts, cluster.keys, PARAMS, 1000);
    await new MemberClient(redis, cluster.scripts, cluster.keys, 'bench-owner', 600_000, 1000).heartbeat({ addr: `127.0.0.1:${owner.port}`, role: 'gateway', version: 'bench', ring: ringParamsId(PARAMS), ready: true, draining: false });
    const guilds = Array.from({ length: GUILDS }, (_, i) => String(500000000000000000n + BigInt(i) * 4194304n));
    for (const g of guilds) await cluster.leases.claim(g, 'bench-owner', { floor: 0, ttlMs: 600_000, waitedFullTtl: true });
    const edge = await startChild('edge', { BENCH_PREFIX: prefix, BENCH_SCHEMA: schema, BENCH_PUBLIC_KEY: der.subarray(der.length - 32).toString('hex') });
    children.push(edge.child);

    const toOwner = new Pool(`http://127.0.0.1:${owner.port}`, { connections: 128, keepAliveTimeout: 60_000 });
    const toEdge = new Pool(`http://127.0.0.1:${edge.port}`, { connections: 128, keepAliveTimeout: 60_000 });
    const prepared = signedInteractions(privateKey, guilds, 4000);
    const direct = (i: number) => {
      const p = prepared[i % prepared.length] as { body: Buffer };
      const g = guilds[i % guilds.length] as string;
      const path = `/internal/guilds/${g}/interactions`;
      // What the edge adds on its way: the internal signature naming owner and epoch.
      return { path, body: p.body, headers: { 'content-type': 'application/json', ...signInternal(SECRET, { method: 'POST', pathWithQuery: path, owner: 'bench-owner', epoch: 1, body: p.body }, Date.now(), Date.now() + 2900) } };
    };
    const viaEdge = (i: number) => {
      const p = prepared[i % prepared.length] as { body: Buffer; headers: Record<string, string> };
      return { path: '/interactions', body: p.body, headers: p.headers };
    };

    const measured = async (rate: number, pool: Pool, req: (i: number) => { path: string; headers: Record<string, string>; body: Buffer }, seconds: number): Promise<Run> => {
      const targets = ['self', { edge: edge.port }, { owner: owner.port }] as const;
      const before = await Promise.all(targets.map(cpuUs));
      const run = await openLoop(pool, rate, seconds, req);
      const after = await Promise.all(targets.map(cpuUs));
      const per = (i: number) => ((after[i] as number) - (before[i] as number)) / run.sent;
      run.cpu = { gen: per(0), edge: per(1), owner: per(2) };
      return run;
    };
    /**
     * The two paths take turns in short slices, so background load on a shared machine falls on
     * both alike and the difference stays the edge's own.
     */
    const alternating = async (rate: number): Promise<{ d: Run; e: Run }> => {
      const slices = Math.max(1, Math.round(SECONDS / 2));
      const d: Run[] = [];
      const e: Run[] = [];
      for (let k = 0; k < slices; k++) {
        progress(`measuring at ${rate}/s: slice ${k + 1}/${slices} (direct, then through the edge)`);
        d.push(await measured(rate, toOwner, direct, SECONDS / slices));
        e.push(await measured(rate, toEdge, viaEdge, SECONDS / slices));
      }
      return { d: merge(d), e: merge(e) };
    };
    const pct = (r: Run, p: number) => percentile(r.latenciesMs, p);
    const cpu = (r: Run) => (r.cpu ? `${r.cpu.gen.toFixed(0)} · ${r.cpu.edge.toFixed(0)} · ${r.cpu.owner.toFixed(0)}` : '');
    const f = (ms: number) => ms.toFixed(2);
    const rows: string[][] = [];
    const verdicts: string[] = [];
    const load = (await import('node:os')).loadavg()[0] ?? 0;
    for (const rate of RATES) {
      progress(`warming up both paths at ${rate}/s`);
      await openLoop(toOwner, rate, WARMUP_SECONDS, direct);
      await openLoop(toEdge, rate, WARMUP_SECONDS, viaEdge);
      const { d, e } = await alternating(rate);
      rows.push(
        [String(rate), 'direct to owner', String(d.sent), String(d.errors), d.achievedRate.toFixed(0), f(pct(d, 50)), f(pct(d, 95)), f(pct(d, 99)), f(Math.max(...d.latenciesMs)), cpu(d)],
        [String(rate), 'edge → owner', String(e.sent), String(e.errors), e.achievedRate.toFixed(0), f(pct(e, 50)), f(pct(e, 95)), f(pct(e, 99)), f(Math.max(...e.latenciesMs)), cpu(e)],
        [String(rate), 'overhead', '', '', '', f(pct(e, 50) - pct(d, 50)), f(pct(e, 95) - pct(d, 95)), f(pct(e, 99) - pct(d, 99)), '', ''],
      );
      const overhead99 = pct(e, 99) - pct(d, 99);
      const p95 = pct(e, 95);
      verdicts.push(`at ${rate}/s: p99 overhead ≤ 5 ms ${overhead99 <= 5 ? 'met' : 'MISSED'} (${f(overhead99)} ms); P95 end-to-end < 100 ms ${p95 < 100 ? 'met' : 'MISSED'} (${f(p95)} ms); errors ${d.errors + e.errors}`);
    }
    await toOwner.close();
    await toEdge.close();
    printTable(
      `Edge forwarding, open loop, ${SECONDS} s per path in alternating 2 s slices, loopback (${process.platform}, ${(await import('node:os')).cpus().length} cores, load average ${load.toFixed(1)} at start; generator, edge and owner are separate processes on the same cores)`,
      ['req/s', 'path', 'requests', 'errors', 'achieved', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'CPU µs/req gen · edge · owner'],
      rows,
    );
    process.stdout.write(`targets: ${verdicts.join('\n         ')}\n`);
  } finally {
    // SIGTERM lets a child exit normally (so --cpu-prof can write its profile).
    await Promise.all(children.map((c) => new Promise<void>((r) => {
      if (c.exitCode !== null) return r();
      c.once('exit', () => r());
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 3000).unref();
    })));
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    const c = new pg.Client({ connectionString: DATABASE_URL });
    await c.connect();
    await c.query(`drop schema if exists "${schema}" cascade`);
    await c.end();
  }
}

// Run only as a program: bench/baseline/edge.ts imports the open loop from here.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const child = arg('--child');
  if (child) process.on('SIGTERM', () => process.exit(0));
  (child === 'owner' ? runOwner() : child === 'edge' ? runEdge() : main()).catch((err: unknown) => {
    process.stderr.write(`bench/edge: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
