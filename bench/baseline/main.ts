// The baseline's processes, one per role like leasehold's CLI:
//   node dist/bench/baseline/main.js config|gateway|http
// configured by environment variables (listed by --help); logs are JSON lines with the same
// `"msg":"listening"` line leasehold's roles print, so the benchmark drives both alike.
import { z } from 'zod';
import { createLogger } from '../../src/log.js';
import { serve } from '../../src/runtime/serve.js';
import { createConfigService } from './config-service.js';
import { runBaselineGateway } from './gateway.js';
import { createBaselineHttp } from './http-pod.js';

const int = (min: number) => z.coerce.number().int().min(min);
const ENV = {
  config: z.object({ DATABASE_URL: z.string().min(1), DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/), DEAD_AFTER_MS: int(1).default(120_000), SWEEP_EVERY_MS: int(100).default(5_000), PORT: int(0).default(0) }),
  gateway: z.object({
    CONFIG_SERVICE_URL: z.url(),
    POD_ORDINAL: int(0),
    DISCORD_TOKEN: z.string().min(1),
    DISCORD_API_URL: z.url(),
    SHARD_COUNT: int(1),
    IDENTIFY_WINDOW_MS: int(0).default(5000),
    DATA_DIR: z.string().min(1),
    PORT: int(1),
    HEARTBEAT_EVERY_MS: int(100).default(30_000),
    POLL_EVERY_MS: int(100).default(30_000),
  }),
  http: z.object({ CONFIG_SERVICE_URL: z.url(), DISCORD_PUBLIC_KEY: z.string().regex(/^[0-9a-fA-F]{64}$/), CACHE_TTL_MS: int(0).default(0), PORT: int(0).default(0) }),
};
type Role = keyof typeof ENV;

function env<R extends Role>(role: R): z.output<(typeof ENV)[R]> {
  const r = ENV[role].safeParse(process.env);
  if (!r.success) {
    process.stderr.write(`baseline ${role}: bad environment\n${z.prettifyError(r.error)}\n`);
    process.exit(2);
  }
  return r.data as z.output<(typeof ENV)[R]>;
}

async function main(): Promise<void> {
  const role = process.argv[2];
  if (role === undefined || role === '--help' || !(role in ENV)) {
    process.stdout.write(`usage: node dist/bench/baseline/main.js <${Object.keys(ENV).join('|')}>\n${Object.entries(ENV).map(([r, s]) => `  ${r}: ${Object.keys(s.shape).join(', ')}`).join('\n')}\n`);
    process.exit(role === '--help' ? 0 : 2);
  }
  const host = '127.0.0.1';
  if (role === 'config') {
    const e = env('config');
    const logger = createLogger({ role: 'baseline-config' });
    const svc = createConfigService({ databaseUrl: e.DATABASE_URL, schema: e.DATABASE_SCHEMA, deadAfterMs: e.DEAD_AFTER_MS, sweepEveryMs: e.SWEEP_EVERY_MS, logger });
    await svc.migrate();
    svc.start();
    const l = await serve(svc.handler, { host, port: e.PORT, advertiseAddr: undefined, logger });
    onTerm(async () => (await l.close(), await svc.stop()));
  } else if (role === 'gateway') {
    const e = env('gateway');
    const logger = createLogger({ role: 'baseline-gateway', pod: `baseline-${e.POD_ORDINAL}` });
    const gw = await runBaselineGateway({
      podOrdinal: e.POD_ORDINAL,
      podName: `${host}:${e.PORT}`,
      configServiceUrl: e.CONFIG_SERVICE_URL,
      discordToken: e.DISCORD_TOKEN,
      discordApiUrl: e.DISCORD_API_URL,
      shardCount: e.SHARD_COUNT,
      identifyWindowMs: e.IDENTIFY_WINDOW_MS,
      dataDir: e.DATA_DIR,
      host,
      port: e.PORT,
      heartbeatEveryMs: e.HEARTBEAT_EVERY_MS,
      pollEveryMs: e.POLL_EVERY_MS,
      logger,
    });
    // The seeds have no drain: SIGTERM ends the pod.
    onTerm(() => gw.stop());
  } else {
    const e = env('http');
    const logger = createLogger({ role: 'baseline-http' });
    const edge = createBaselineHttp({ configServiceUrl: e.CONFIG_SERVICE_URL, publicKey: e.DISCORD_PUBLIC_KEY, cacheTtlMs: e.CACHE_TTL_MS, logger });
    const l = await serve(edge.handler, { host, port: e.PORT, advertiseAddr: undefined, logger });
    onTerm(async () => (await l.close(), await edge.close()));
  }
}

function onTerm(stop: () => Promise<unknown>): void {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void stop().finally(() => process.exit(0)));
}

main().catch((err: unknown) => {
  process.stderr.write(`baseline: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
