// What keeping ownership current costs the baseline: every gateway reads every assignment
// (GET /guild-assignments, the seeds' getAssignedGuilds) every 30 s. Measured against the real
// config service and Postgres with `guilds` rows: wall time of one read, median of `reads`.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { silentLogger } from '../../src/log.js';
import { serve } from '../../src/runtime/serve.js';
import { median } from '../table.js';
import { createConfigService } from './config-service.js';

export async function measureBaselinePoll(o: { databaseUrl: string; guilds: number; pods: number; reads: number }): Promise<{ medianMs: number; bytes: number }> {
  const schema = `bench_base_poll_${randomBytes(4).toString('hex')}`;
  const svc = createConfigService({ databaseUrl: o.databaseUrl, schema, deadAfterMs: 120_000, sweepEveryMs: 60_000, logger: silentLogger });
  await svc.migrate();
  const l = await serve(svc.handler, { host: '127.0.0.1', port: 0, advertiseAddr: undefined, logger: silentLogger });
  const admin = new pg.Client({ connectionString: o.databaseUrl });
  await admin.connect();
  try {
    const ids = Array.from({ length: o.guilds }, (_, i) => String(600000000000000000n + BigInt(i) * 4194304n));
    await admin.query(`INSERT INTO "${schema}".guild_assignments (guild_id, pod_id) SELECT g, (n - 1) % $2 FROM unnest($1::varchar[]) WITH ORDINALITY AS t(g, n)`, [ids, o.pods]);
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < o.reads + 2; i++) {
      const t0 = performance.now();
      const body = await (await fetch(`${l.url}/guild-assignments`)).text();
      if (i >= 2) times.push(performance.now() - t0); // the first two warm the caches
      bytes = body.length;
    }
    return { medianMs: median(times), bytes };
  } finally {
    await l.close();
    await svc.stop();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
}
