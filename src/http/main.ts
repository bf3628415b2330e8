// `leasehold http`: the stateless edge. Reads its configuration, builds the edge, serves it,
// joins the cluster as an http member, and on SIGTERM stops taking requests, lets in-flight
// interactions answer (their first response is due within 3 s) and exits 0.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { envHelp, loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { systemClock } from '../clock.js';
import { packageRoot } from '../paths.js';
import { openClusterClient } from '../cluster/client.js';
import { checkEvictionPolicy, connectRedis } from '../cluster/redis.js';
import { DEFAULT_RING_VERSION, ringParams } from '../cluster/ring.js';
import { createAssignmentStore } from '../store/index.js';
import { serve } from '../runtime/serve.js';
import { onShutdown } from '../runtime/signals.js';
import { createEdge } from './edge.js';
import { joinAsEdge } from './membership.js';

/** Member key TTL of an http pod (it holds no leases; the gateways' default TTL). */
const MEMBER_TTL_MS = 10_000;
/** Longest an in-flight request may keep the process after SIGTERM (interactions need < 3 s). */
const SHUTDOWN_GRACE_MS = 4000;

export async function main(argv: string[]): Promise<void> {
  const program = new Command('leasehold http')
    .description('The stateless edge: Discord interactions webhook, web portal, JSON and admin API. Forwards guild work to the gateway that owns the guild.')
    .option('--port <port>', 'listen on this port (overrides PORT; 0 picks a free one)')
    .option('--host <host>', 'bind address (overrides HOST)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) })
    .addHelpText('after', `\nRoutes: POST /interactions · GET / · GET /guilds/:guildId · GET /api/cluster · GET /api/guilds/:guildId[/stats]\n        POST /api/admin/... (bearer ADMIN_TOKEN) · GET /metrics /healthz /readyz\n\nEnvironment:\n${envHelp('http')}`);
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
      return;
    }
    throw err;
  }
  const flags = program.opts<{ port?: string; host?: string }>();
  const env = { ...process.env, ...(flags.port !== undefined ? { PORT: flags.port } : {}), ...(flags.host !== undefined ? { HOST: flags.host } : {}) };
  const config = loadConfig('http', env);
  const logger = createLogger({ level: config.logLevel, role: 'http', pod: config.podId });
  const cluster = openClusterClient({ ...config, name: `leasehold-http-${config.podId}` });
  const streamRedis = connectRedis(config.redisUrl, { name: `leasehold-http-${config.podId}-events` });
  await checkEvictionPolicy(cluster.redis, logger, config.strictEvictionPolicy);
  const store = createAssignmentStore({ databaseUrl: config.databaseUrl, schema: config.databaseSchema, logger });
  // The edge routes without Postgres (it only shows data epochs from it): start anyway.
  await store.migrate().catch((err: unknown) => logger.warn({ err }, 'Postgres unavailable at start; data epochs show as unknown until it is back'));
  const params = ringParams(config.ringVnodes, DEFAULT_RING_VERSION);
  let stopping = false;
  let joined = false;
  const edge = createEdge({
    ...config,
    ringParams: params,
    cluster,
    streamRedis,
    store,
    clock: systemClock,
    logger,
    readyChecks: {
      shutdown: () => {
        if (stopping) throw new Error('shutting down');
      },
      // Ready once this pod is a member and its own view shows it (the portal and /api/cluster
      // then list it): not merely once the first view was read.
      membership: () => {
        if (!joined) throw new Error('not yet joined as an http member');
      },
    },
  });
  await edge.start();
  const listening = await serve(edge.app.callback(), { host: config.host, port: config.port, advertiseAddr: config.advertiseAddr, logger, fields: () => ({ pod: config.podId }) });
  const membership = await joinAsEdge({ cluster, podId: config.podId, addr: listening.advertiseAddr, version: packageVersion(), ringParams: params, ttlMs: MEMBER_TTL_MS, logger });
  await edge.routing.reconcile();
  joined = true;
  await store.upsertPod({ podId: config.podId, role: 'http', addr: listening.advertiseAddr, version: packageVersion() }).catch((err: unknown) => logger.warn({ err }, 'recording this pod in Postgres failed'));

  onShutdown(logger, async () => {
    stopping = true;
    await membership.stop();
    // Stop accepting; requests in flight (an interaction waits up to ~2.9 s) finish first.
    const closed = new Promise<void>((r) => listening.server.close(() => r()));
    await Promise.race([closed, new Promise((r) => setTimeout(r, SHUTDOWN_GRACE_MS))]);
    await listening.close();
    await edge.stop();
    await store.close();
    streamRedis.disconnect();
    await cluster.close();
  });
}

function packageVersion(): string {
  try {
    return String((JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version?: unknown }).version ?? '0.0.0');
  } catch {
    return '0.0.0';
  }
}
