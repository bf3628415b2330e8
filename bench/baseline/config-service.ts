// The baseline's config service, as the seeds design it (shared/seeds, implementation guide
// §1.1): Postgres tables `guild_assignments` and `pod_health`, pods register and heartbeat,
// gateways read every assignment and keep theirs, HTTP pods ask it for each request's owner,
// a guild is moved with POST /guild/:id/reassign (no handoff protocol), and a pod whose last
// heartbeat is older than `deadAfterMs` (2 minutes) is dead: its guilds go to the least loaded
// live pods ("Gateway pod failure: Config service reassigns guilds to healthy pods").
// Benchmark code, not product code: it exists to be measured against.
import type { IncomingMessage, ServerResponse } from 'node:http';
import pg from 'pg';
import type { Logger } from '../../src/log.js';
import { parseJson, readRawBody } from '../../src/runtime/raw-body.js';

export interface ConfigServiceOptions {
  readonly databaseUrl: string;
  readonly schema: string;
  /** A pod is dead this long after its last heartbeat (the seeds: 2 minutes). */
  readonly deadAfterMs: number;
  /** How often dead pods' guilds are reassigned (the seeds do not say; we check often). */
  readonly sweepEveryMs: number;
  readonly logger: Logger;
}

export interface ConfigService {
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  migrate(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

interface Row {
  [k: string]: unknown;
}

const SNOWFLAKE = /^\d{17,20}$/;
const POD = /^\d{1,9}$/;

export function createConfigService(o: ConfigServiceOptions): ConfigService {
  const pool = new pg.Pool({ connectionString: o.databaseUrl, max: 8, options: `-c search_path=${o.schema}` });
  const q = async (sql: string, params: unknown[] = []): Promise<Row[]> => (await pool.query(sql, params)).rows as Row[];
  const deadSecs = o.deadAfterMs / 1000;
  let timer: NodeJS.Timeout | undefined;

  // The seeds' SQL, with the 2-minute interval as a parameter.
  const updateGuildCounts = () => q('UPDATE pod_health ph SET guild_count = (SELECT COUNT(*) FROM guild_assignments ga WHERE ga.pod_id = ph.pod_id)');
  const leastLoadedPod = async (): Promise<Row> => {
    const rows = await q(
      `SELECT pod_id, pod_name, guild_count, capacity FROM pod_health
       WHERE status = 'active' AND last_heartbeat > NOW() - make_interval(secs => $1)
       ORDER BY (guild_count::float / capacity::float) ASC LIMIT 1`,
      [deadSecs],
    );
    if (rows.length === 0) throw new HttpError(503, 'No active pods available');
    return rows[0] as Row;
  };

  const routes: { method: string; re: RegExp; run: (m: RegExpExecArray, body: Row) => Promise<unknown> }[] = [
    {
      method: 'GET',
      re: /^\/guild\/([^/]+)\/assignment$/,
      run: async (m) => {
        const guildId = id(m[1], SNOWFLAKE, 'guild id');
        const rows = await q('SELECT ga.pod_id, ph.pod_name FROM guild_assignments ga JOIN pod_health ph ON ga.pod_id = ph.pod_id WHERE guild_id = $1', [guildId]);
        if (rows.length > 0) return rows[0];
        const pod = await leastLoadedPod();
        await q('INSERT INTO guild_assignments (guild_id, pod_id) VALUES ($1, $2) ON CONFLICT (guild_id) DO UPDATE SET pod_id = $2', [guildId, pod['pod_id']]);
        await updateGuildCounts();
        return { pod_id: pod['pod_id'], pod_name: pod['pod_name'] };
      },
    },
    { method: 'GET', re: /^\/guild-assignments$/, run: () => q('SELECT * FROM guild_assignments ORDER BY pod_id') },
    {
      method: 'POST',
      re: /^\/pod\/register$/,
      run: async (_m, b) => {
        const podId = id(String(b['pod_id'] ?? ''), POD, 'pod_id');
        if (typeof b['pod_name'] !== 'string' || b['pod_name'].length === 0 || b['pod_name'].length > 100) throw new HttpError(400, 'pod_name must be 1–100 characters');
        await q(
          `INSERT INTO pod_health (pod_id, pod_name, status, capacity, last_heartbeat) VALUES ($1, $2, 'active', $3, NOW())
           ON CONFLICT (pod_id) DO UPDATE SET pod_name = $2, status = 'active', capacity = $3, last_heartbeat = NOW()`,
          [podId, b['pod_name'], Number(b['capacity']) || 100],
        );
        return { success: true };
      },
    },
    {
      method: 'POST',
      re: /^\/pod\/([^/]+)\/heartbeat$/,
      run: async (m, b) => {
        await q(`UPDATE pod_health SET last_heartbeat = NOW(), guild_count = $2, status = 'active' WHERE pod_id = $1`, [id(m[1], POD, 'pod id'), Number(b['guild_count']) || 0]);
        return { success: true };
      },
    },
    { method: 'GET', re: /^\/pods\/health$/, run: () => q(`SELECT * FROM pod_health WHERE last_heartbeat > NOW() - make_interval(secs => $1) ORDER BY pod_id`, [deadSecs]) },
    {
      method: 'POST',
      re: /^\/guild\/([^/]+)\/reassign$/,
      run: async (m, b) => {
        await q('UPDATE guild_assignments SET pod_id = $2, assigned_at = NOW() WHERE guild_id = $1', [id(m[1], SNOWFLAKE, 'guild id'), id(String(b['target_pod_id'] ?? ''), POD, 'target_pod_id')]);
        await updateGuildCounts();
        return { success: true };
      },
    },
    { method: 'GET', re: /^\/health$/, run: async () => ({ status: 'ok' }) },
  ];

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const route = routes.find((r) => r.method === req.method && r.re.test(path));
      try {
        if (!route) throw new HttpError(404, `${req.method} ${path}`);
        const raw = await readRawBody(req);
        const body = raw.length > 0 ? parseJson(raw) : {};
        if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'the body must be a JSON object');
        send(res, 200, await route.run(route.re.exec(path) as RegExpExecArray, body as Row));
      } catch (err) {
        const status = err instanceof HttpError ? err.status : typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
        if (status >= 500) o.logger.error({ err }, 'config service request failed');
        send(res, status, { error: err instanceof Error ? err.message : String(err) });
      }
    })();
  };

  /** Dead pods' guilds to the least loaded live pods, one by one as getLeastLoadedPod would. */
  const sweep = async () => {
    const dead = await q(`SELECT pod_id FROM pod_health WHERE last_heartbeat <= NOW() - make_interval(secs => $1) AND status <> 'offline'`, [deadSecs]);
    if (dead.length === 0) return;
    const deadIds = dead.map((r) => Number(r['pod_id']));
    const live = await q(`SELECT pod_id, guild_count, capacity FROM pod_health WHERE status = 'active' AND last_heartbeat > NOW() - make_interval(secs => $1)`, [deadSecs]);
    const orphans = await q('SELECT guild_id FROM guild_assignments WHERE pod_id = ANY($1::int[])', [deadIds]);
    if (live.length > 0 && orphans.length > 0) {
      const load = live.map((r) => ({ pod: Number(r['pod_id']), count: Number(r['guild_count']), capacity: Number(r['capacity']) || 100 }));
      const byPod = new Map<number, string[]>();
      for (const r of orphans) {
        const target = load.reduce((a, b) => (b.count / b.capacity < a.count / a.capacity ? b : a));
        target.count++;
        byPod.set(target.pod, [...(byPod.get(target.pod) ?? []), String(r['guild_id'])]);
      }
      for (const [pod, guilds] of byPod) await q('UPDATE guild_assignments SET pod_id = $2, assigned_at = NOW() WHERE guild_id = ANY($1::varchar[])', [guilds, pod]);
      o.logger.info({ dead: deadIds, guilds: orphans.length }, 'reassigned the guilds of dead pods');
    }
    if (live.length > 0) await q(`UPDATE pod_health SET status = 'offline' WHERE pod_id = ANY($1::int[])`, [deadIds]);
    await updateGuildCounts();
  };

  return {
    handler,
    async migrate() {
      const c = await pool.connect();
      try {
        await c.query(`CREATE SCHEMA IF NOT EXISTS "${o.schema}"`);
        // The seeds' schema (implementation guide §1.1).
        await c.query(`
          CREATE TABLE IF NOT EXISTS guild_assignments (guild_id VARCHAR(20) PRIMARY KEY, pod_id INTEGER NOT NULL, assigned_at TIMESTAMP DEFAULT NOW(), last_seen TIMESTAMP DEFAULT NOW());
          CREATE TABLE IF NOT EXISTS pod_health (pod_id INTEGER PRIMARY KEY, pod_name VARCHAR(100), status VARCHAR(20), guild_count INTEGER DEFAULT 0, last_heartbeat TIMESTAMP DEFAULT NOW(), capacity INTEGER DEFAULT 100);
          CREATE INDEX IF NOT EXISTS idx_pod_id ON guild_assignments(pod_id);
          CREATE INDEX IF NOT EXISTS idx_pod_status ON pod_health(status);`);
      } finally {
        c.release();
      }
    },
    start() {
      timer = setInterval(() => void sweep().catch((err: unknown) => o.logger.warn({ err }, 'dead-pod sweep failed')), o.sweepEveryMs);
    },
    async stop() {
      if (timer) clearInterval(timer);
      await pool.end();
    },
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function id(v: string | undefined, re: RegExp, what: string): string {
  if (v === undefined || !re.test(v)) throw new HttpError(400, `bad ${what}: ${JSON.stringify(v)}`);
  return v;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) }).end(s);
}
