// The baseline's routing cost, measured like bench/edge.ts measures leasehold's edge: signed
// interactions open-loop at a fixed rate through the seeds' HTTP pod (config-service lookup →
// forward) to a fake gateway, against the same requests straight to that gateway, in
// alternating 2 s slices. Run once with no cache (the guide's code) and once with the 5-minute
// cache the seeds' failure scenarios describe. Processes: this one, the config service, the HTTP
// pod, the fake gateway.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { Pool } from 'undici';
import { RoleProcess, killGroup } from '../../test/helpers/processes.js';
import { openLoop, signedInteractions, type Run } from '../edge.js';
import { percentile, progress } from '../table.js';

export interface EdgeLatency {
  readonly rate: number;
  readonly sent: number;
  readonly errors: number;
  /** Requests a second the path actually carried (below `rate` when it cannot keep up). */
  readonly achievedRate?: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  /** The same percentiles of the direct path, subtracted. */
  readonly overheadP50: number;
  readonly overheadP95: number;
  readonly overheadP99: number;
}

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

function start(name: string, args: string[], env: Record<string, string>): RoleProcess {
  const proc = spawn(process.execPath, args, { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  return new RoleProcess(name, proc);
}
const urlOf = (p: RoleProcess) => String(p.lines.find((l) => l.msg === 'listening')?.['url']);

/** The fake gateway: answers every forwarded interaction at once. */
function runFakeGateway(): void {
  const reply = Buffer.from(JSON.stringify({ type: 4, data: { content: 'ok' } }));
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': reply.length }).end(reply));
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`));
}

export async function measureBaselineEdge(o: { databaseUrl: string; rate: number; seconds: number; warmupSeconds: number; cacheTtlMs: number; guilds: number }): Promise<EdgeLatency> {
  const schema = `bench_base_edge_${randomBytes(4).toString('hex')}`;
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ format: 'der', type: 'spki' });
  const procs: RoleProcess[] = [];
  const admin = new pg.Client({ connectionString: o.databaseUrl });
  await admin.connect();
  try {
    const owner = start('fake-gateway', [fileURLToPath(import.meta.url), '--child', 'owner'], {});
    procs.push(owner);
    await owner.waitForLine('listening', (l) => l.msg === 'listening');
    const config = start('baseline-config', [MAIN, 'config'], { DATABASE_URL: o.databaseUrl, DATABASE_SCHEMA: schema });
    procs.push(config);
    await config.waitForLine('listening', (l) => l.msg === 'listening');
    const ownerAddr = urlOf(owner).replace('http://', '');
    await admin.query(`INSERT INTO "${schema}".pod_health (pod_id, pod_name, status, capacity, last_heartbeat) VALUES (0, $1, 'active', 100, NOW())`, [ownerAddr]);
    const guilds = Array.from({ length: o.guilds }, (_, i) => String(500000000000000000n + BigInt(i) * 4194304n));
    await admin.query(`INSERT INTO "${schema}".guild_assignments (guild_id, pod_id) SELECT unnest($1::varchar[]), 0`, [guilds]);
    const http = start('baseline-http', [MAIN, 'http'], { CONFIG_SERVICE_URL: urlOf(config), DISCORD_PUBLIC_KEY: der.subarray(der.length - 32).toString('hex'), CACHE_TTL_MS: String(o.cacheTtlMs) });
    procs.push(http);
    await http.waitForLine('listening', (l) => l.msg === 'listening');

    const prepared = signedInteractions(privateKey, guilds, 4000);
    const toOwner = new Pool(urlOf(owner), { connections: 128, keepAliveTimeout: 60_000 });
    const toEdge = new Pool(urlOf(http), { connections: 128, keepAliveTimeout: 60_000 });
    const direct = (i: number) => {
      const p = prepared[i % prepared.length] as { body: Buffer };
      return { path: '/webhooks/discord', body: p.body, headers: { 'content-type': 'application/json' } };
    };
    const viaEdge = (i: number) => {
      const p = prepared[i % prepared.length] as { body: Buffer; headers: Record<string, string> };
      return { path: '/interactions', body: p.body, headers: p.headers };
    };
    progress(`  baseline edge (cache ${o.cacheTtlMs > 0 ? `${o.cacheTtlMs / 1000} s` : 'none'}): warming up at ${o.rate}/s`);
    await openLoop(toOwner, o.rate, o.warmupSeconds, direct);
    await openLoop(toEdge, o.rate, o.warmupSeconds, viaEdge);
    const d: Run[] = [];
    const e: Run[] = [];
    const slices = Math.max(1, Math.round(o.seconds / 2));
    for (let k = 0; k < slices; k++) {
      progress(`  baseline edge: slice ${k + 1}/${slices} at ${o.rate}/s (direct, then through the HTTP pod)`);
      d.push(await openLoop(toOwner, o.rate, o.seconds / slices, direct));
      e.push(await openLoop(toEdge, o.rate, o.seconds / slices, viaEdge));
    }
    await toOwner.close();
    await toEdge.close();
    const lat = (runs: Run[]) => runs.flatMap((r) => r.latenciesMs);
    const [dl, el] = [lat(d), lat(e)];
    const p = (xs: number[], q: number) => percentile(xs, q);
    return {
      rate: o.rate,
      sent: e.reduce((a, r) => a + r.sent, 0),
      errors: e.reduce((a, r) => a + r.errors, 0),
      achievedRate: e.reduce((a, r) => a + r.achievedRate * r.sent, 0) / Math.max(1, e.reduce((a, r) => a + r.sent, 0)),
      p50: p(el, 50),
      p95: p(el, 95),
      p99: p(el, 99),
      overheadP50: p(el, 50) - p(dl, 50),
      overheadP95: p(el, 95) - p(dl, 95),
      overheadP99: p(el, 99) - p(dl, 99),
    };
  } finally {
    for (const pr of procs) killGroup(pr, 'SIGTERM');
    await Promise.all(procs.map((pr) => pr.exited));
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv.includes('--child')) {
  runFakeGateway();
  process.on('SIGTERM', () => process.exit(0));
}

