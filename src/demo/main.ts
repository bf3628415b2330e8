// `leasehold demo` (npm start): the whole cluster on one machine — the Discord stand-in, 3
// gateways and 2 http pods as separate processes — with steady traffic, the portal URL and a
// live one-screen summary. Type `kill gw-2`, `add` or `drain gw-1` to watch a failover or a
// handoff happen; Ctrl-C drains and stops everything, leaving no process behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import pg from 'pg';
import { envHelp, loadConfig } from '../config.js';
import { createClusterClient } from '../cluster/client.js';
import { readMembers } from '../cluster/members.js';
import { deleteByPrefix } from '../cluster/leases.js';

const cli = fileURLToPath(new URL('../cli.js', import.meta.url));

interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  url?: string;
  line?: Record<string, unknown>;
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createConnection({ host, port });
    const done = (ok: boolean) => (s.destroy(), res(ok));
    s.setTimeout(800, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

const say = (s: string) => process.stdout.write(`${s}\n`);

export async function main(argv: string[]): Promise<void> {
  const opts = new Command('leasehold demo')
    .description('Run the whole cluster locally: stand-in, 3 gateways, 2 http pods, traffic, live summary.')
    .option('--guilds <n>', 'guilds in the stand-in', '60')
    .option('--rate <r>', 'messages per second', '20')
    .option('--dir <path>', 'data directory', '.leasehold')
    .addHelpText('after', `\nEnvironment:\n${envHelp('demo')}\n\nRedis and Postgres: REDIS_URL / DATABASE_URL, else the local default ports; a redis-server on PATH is started when no Redis answers.`)
    .parse(argv, { from: 'user' })
    .opts<{ guilds: string; rate: string; dir: string }>();
  const config = loadConfig('demo');
  const dir = resolve(opts.dir, `run-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const children: Child[] = [];
  let embeddedRedis: ChildProcess | undefined;

  // Redis: env, else 6379, else a redis-server we start; Postgres: env, else 5432.
  let redisUrl = process.env['REDIS_URL'];
  if (!redisUrl) {
    if (await portOpen('127.0.0.1', 6379)) redisUrl = 'redis://127.0.0.1:6379';
    else {
      const port = await freePort();
      embeddedRedis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
      const failed = await new Promise<boolean>((r) => {
        embeddedRedis?.once('error', () => r(true));
        setTimeout(() => r(false), 500);
      });
      if (failed) {
        say('No Redis answers on 127.0.0.1:6379 and there is no redis-server on PATH.\nInstall one:  sudo apt-get install redis-server   (or: docker compose up -d redis)\nor set REDIS_URL.');
        process.exit(2);
      }
      redisUrl = `redis://127.0.0.1:${port}`;
      say(`started redis-server on port ${port}`);
    }
  }
  let databaseUrl = process.env['DATABASE_URL'];
  if (!databaseUrl) {
    if (await portOpen('127.0.0.1', 5432)) databaseUrl = config.databaseUrl;
    else {
      say('No Postgres answers on 127.0.0.1:5432.\nInstall one:  sudo apt-get install postgresql   (or: docker compose up -d postgres)\nor set DATABASE_URL.');
      embeddedRedis?.kill();
      process.exit(2);
    }
  }

  // One fixed prefix and schema, reset at every start: a demo must not litter the user's servers.
  const keyPrefix = 'lhdemo:';
  const schema = 'leasehold_demo';
  {
    const r = new Redis(redisUrl);
    await deleteByPrefix(r, keyPrefix);
    r.disconnect();
    const pgc = new pg.Client({ connectionString: databaseUrl });
    await pgc.connect();
    await pgc.query(`drop schema if exists ${schema} cascade`);
    await pgc.end();
  }
  const secret = randomBytes(16).toString('hex');
  const adminToken = randomBytes(12).toString('hex');
  const signingKey = randomBytes(32).toString('hex');
  const base = { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'info', REDIS_URL: redisUrl, DATABASE_URL: databaseUrl, DATABASE_SCHEMA: schema, KEY_PREFIX: keyPrefix, HOST: '127.0.0.1', PORT: '0' };

  const start = (name: string, args: string[], env: Record<string, string>): Promise<Child> =>
    new Promise((resolveChild, reject) => {
      const proc = spawn(process.execPath, [cli, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const child: Child = { name, proc };
      children.push(child);
      createInterface({ input: proc.stdout! }).on('line', (l) => {
        try {
          const j = JSON.parse(l) as Record<string, unknown>;
          if (j['msg'] === 'listening' && !child.url) {
            child.url = String(j['url']);
            child.line = j;
            resolveChild(child);
          }
          if (j['level'] === 'error' || j['level'] === 'fatal') say(`  [${name}] ${String(j['msg'])}`);
        } catch {
          /* not JSON */
        }
      });
      proc.on('exit', (code) => {
        if (!child.url) reject(new Error(`${name} exited with ${code} before listening`));
      });
    });

  say(`leasehold demo — data in ${dir}`);
  say(`Redis ${redisUrl} (keys ${keyPrefix}*), Postgres schema ${schema} — both reset at start`);
  const sim = await start('sim', ['sim', '--guilds', opts.guilds, '--shards', '2', '--identify-window-ms', '500', '--signing-key', signingKey, '--log-file', join(dir, 'sim.jsonl')], {});
  const simLine = sim.line as { restUrl: string; controlUrl: string; publicKey: string; applicationId: string };
  const gatewayEnv = (pod: string) => ({
    POD_ID: pod,
    DISCORD_API_URL: simLine.restUrl,
    DISCORD_TOKEN: 'demo',
    DISCORD_APPLICATION_ID: simLine.applicationId,
    INTERNAL_SECRET: secret,
    DATA_DIR: join(dir, pod),
    REPLICA_URL: pathToFileURL(join(dir, 'replicas')).href,
    LEASE_TTL_MS: '5000',
    IDENTIFY_WINDOW_MS: '500',
    DRAIN_TIMEOUT_MS: '30000',
  });
  let next = 1;
  const addGateway = () => start(`gw-${next}`, ['gateway'], gatewayEnv(`gw-${next++}`));
  for (let i = 0; i < 3; i++) await addGateway();
  const httpEnv = (pod: string) => ({ POD_ID: pod, DISCORD_APPLICATION_ID: simLine.applicationId, DISCORD_PUBLIC_KEY: simLine.publicKey, DISCORD_API_URL: simLine.restUrl, INTERNAL_SECRET: secret, ADMIN_TOKEN: adminToken });
  const http1 = await start('http-1', ['http'], httpEnv('http-1'));
  await start('http-2', ['http'], httpEnv('http-2'));
  await fetch(`${simLine.controlUrl}/traffic`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ratePerSec: Number(opts.rate), interactions: { url: `${http1.url}/interactions`, ratePerSec: 1 } }),
  });

  say(`\nportal:      ${http1.url}/`);
  say(`admin token: ${adminToken}   (e.g. curl -XPOST -H "Authorization: Bearer ${adminToken}" ${http1.url}/api/admin/rebalance?dryRun=1)`);
  say('commands:    kill <pod> (kill -9) · drain <pod> (SIGTERM) · add (another gateway) · quit\n');

  const redis = new Redis(redisUrl);
  const cluster = createClusterClient(redis, keyPrefix, 100_000);
  let lastApplied = 0;
  const summary = setInterval(() => {
    void (async () => {
      const [{ members }, { leases }, counters] = await Promise.all([
        readMembers(redis, cluster.keys),
        cluster.leases.scanAll(),
        fetch(`${simLine.controlUrl}/state`).then((r) => r.json() as Promise<{ counters?: Record<string, number> }>).catch((): { counters?: Record<string, number> } => ({})),
      ]);
      const per = new Map<string, number>();
      for (const l of leases) per.set(l.owner, (per.get(l.owner) ?? 0) + 1);
      const dispatched = Number(counters.counters?.['dispatches'] ?? 0);
      const rate = Math.max(0, dispatched - lastApplied) / 3;
      lastApplied = dispatched;
      const pods = [...members.values()].filter((m) => m.role === 'gateway').sort((a, b) => a.podId.localeCompare(b.podId));
      const bars = pods.map((m) => `${m.podId} ${'█'.repeat(Math.round((20 * (per.get(m.podId) ?? 0)) / Math.max(1, leases.length)))} ${per.get(m.podId) ?? 0}${m.draining ? ' (draining)' : ''}`).join('   ');
      say(`[${new Date().toISOString().slice(11, 19)}] guilds owned ${leases.length}/${opts.guilds}  ${bars}  dispatches/s ${rate.toFixed(0)}`);
    })().catch(() => undefined);
  }, 3000);

  const podByName = (n: string) => children.find((c) => c.name === n && c.proc.exitCode === null);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (l) => {
    const [cmd, arg] = l.trim().split(/\s+/);
    if (cmd === 'kill' && arg) {
      const c = podByName(arg);
      if (!c) return say(`no running ${arg}`);
      process.kill(-(c.proc.pid ?? 0), 'SIGKILL');
      say(`killed ${arg} (kill -9): its guilds fail over within about one lease TTL`);
    } else if (cmd === 'drain' && arg) {
      const c = podByName(arg);
      if (!c) return say(`no running ${arg}`);
      c.proc.kill('SIGTERM');
      say(`draining ${arg}: it hands its guilds off, then exits`);
    } else if (cmd === 'add') {
      void addGateway().then((c) => say(`started ${c.name}: it takes its share by handoff once its sessions are ready`));
    } else if (cmd === 'quit') process.kill(process.pid, 'SIGINT');
    else if (cmd) say('commands: kill <pod> · drain <pod> · add · quit');
  });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(summary);
    rl.close();
    say('\nstopping: draining gateways, then everything else …');
    const alive = children.filter((c) => c.proc.exitCode === null && c.proc.signalCode === null);
    for (const c of alive) c.proc.kill('SIGTERM');
    await Promise.race([Promise.all(alive.map((c) => new Promise((r) => c.proc.once('exit', r)))), new Promise((r) => setTimeout(r, 40_000))]);
    for (const c of children) {
      try {
        process.kill(-(c.proc.pid ?? 0), 'SIGKILL'); // litestream children too
      } catch {
        /* gone */
      }
    }
    embeddedRedis?.kill();
    redis.disconnect();
    say('stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}
