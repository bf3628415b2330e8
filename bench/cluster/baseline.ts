// The seeds' design under benchmark: its config service, gateways and HTTP pod as processes
// (bench/baseline/main.ts) on the same stand-in, with a private Postgres schema. Guilds start
// assigned as the config service's least-loaded rule leaves them (round robin over equal pods).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import pg from 'pg';
import { killGroup, RoleProcess } from '../../test/helpers/processes.js';
import { freePort } from '../../test/helpers/redis-server.js';
import { waitFor } from './wait.js';
import { lineTime, type BenchCluster } from './types.js';

export interface BaselineTiming {
  readonly heartbeatEveryMs: number;
  readonly pollEveryMs: number;
  readonly deadAfterMs: number;
  readonly sweepEveryMs: number;
  /** The HTTP pod's assignment cache (0 = ask on every request). */
  readonly cacheTtlMs: number;
}

/** The seeds' numbers: heartbeat and poll every 30 s, dead after 2 minutes, 5-minute route cache. */
export const SEEDS_TIMING: BaselineTiming = { heartbeatEveryMs: 30_000, pollEveryMs: 30_000, deadAfterMs: 120_000, sweepEveryMs: 5_000, cacheTtlMs: 300_000 };

export interface BaselineClusterOptions {
  readonly pods: number;
  readonly guildIds: readonly string[];
  readonly shards: number;
  readonly dir: string;
  readonly databaseUrl: string;
  readonly schema: string;
  readonly sim: { restUrl: string; publicKey: string };
  readonly identifyWindowMs: number;
  readonly timing: BaselineTiming;
}

const MAIN = fileURLToPath(new URL('../baseline/main.js', import.meta.url));

function startBaseline(name: string, role: 'config' | 'gateway' | 'http', env: Record<string, string>): RoleProcess {
  const proc = spawn(process.execPath, [MAIN, role], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  return new RoleProcess(name, proc);
}

export function baselineCluster(o: BaselineClusterOptions): BenchCluster {
  const pods = Array.from({ length: o.pods }, (_, i) => `baseline-${i}`);
  const ports = new Map<string, number>();
  const live = new Map<string, RoleProcess>();
  const all: RoleProcess[] = [];
  let config: RoleProcess | undefined;
  let http: RoleProcess | undefined;
  const pool = new pg.Pool({ connectionString: o.databaseUrl, max: 2, options: `-c search_path=${o.schema}` });
  const urlOf = (p: RoleProcess | undefined) => String(p?.lines.find((l) => l.msg === 'listening')?.['url']);

  const startGateway = async (pod: string): Promise<RoleProcess> => {
    const ordinal = pods.indexOf(pod);
    const port = ports.get(pod) ?? (await freePort());
    ports.set(pod, port);
    const p = startBaseline(pod, 'gateway', {
      CONFIG_SERVICE_URL: urlOf(config),
      POD_ORDINAL: String(ordinal),
      DISCORD_TOKEN: 'bench-token',
      DISCORD_API_URL: o.sim.restUrl,
      SHARD_COUNT: String(o.shards),
      IDENTIFY_WINDOW_MS: String(o.identifyWindowMs),
      DATA_DIR: join(o.dir, pod),
      PORT: String(port),
      HEARTBEAT_EVERY_MS: String(o.timing.heartbeatEveryMs),
      POLL_EVERY_MS: String(o.timing.pollEveryMs),
    });
    live.set(pod, p);
    all.push(p);
    await p.waitForLine('registered', (l) => l.msg === 'registered with the config service', 120_000);
    return p;
  };

  return {
    design: 'baseline',
    pods,
    // Nothing runs in the background after the start (no replication): settled once serving.
    settled: () => Promise.resolve(),
    async start() {
      config = startBaseline('baseline-config', 'config', { DATABASE_URL: o.databaseUrl, DATABASE_SCHEMA: o.schema, DEAD_AFTER_MS: String(o.timing.deadAfterMs), SWEEP_EVERY_MS: String(o.timing.sweepEveryMs) });
      await config.waitForLine('listening', (l) => l.msg === 'listening', 60_000);
      // What the least-loaded rule produces for guilds joining one by one over equal pods.
      const ids = [...o.guildIds];
      for (let i = 0; i < ids.length; i += 5000) {
        const chunk = ids.slice(i, i + 5000);
        await pool.query('INSERT INTO guild_assignments (guild_id, pod_id) SELECT g, (n - 1 + $2) % $3 FROM unnest($1::varchar[]) WITH ORDINALITY AS t(g, n)', [chunk, i, o.pods]);
      }
      for (const p of pods) await startGateway(p);
      http = startBaseline('baseline-http', 'http', { CONFIG_SERVICE_URL: urlOf(config), DISCORD_PUBLIC_KEY: o.sim.publicKey, CACHE_TTL_MS: String(o.timing.cacheTtlMs) });
      await http.waitForLine('listening', (l) => l.msg === 'listening', 60_000);
    },
    interactionsUrl: () => `${urlOf(http)}/interactions`,
    async owners() {
      const rows = (await pool.query('SELECT guild_id, pod_id FROM guild_assignments')).rows as { guild_id: string; pod_id: number }[];
      return new Map(rows.map((r) => [r.guild_id, `baseline-${r.pod_id}`]));
    },
    process: (pod) => live.get(pod) as RoleProcess,
    allProcesses: () => all,
    kill(pod) {
      killGroup(live.get(pod) as RoleProcess, 'SIGKILL');
    },
    async restart(pod) {
      const old = live.get(pod) as RoleProcess;
      old.signal('SIGTERM');
      const exitCode = await old.exited;
      await startGateway(pod);
      return { exitCode };
    },
    async move(guilds, to) {
      const target = pods.indexOf(to);
      for (const g of guilds) {
        const res = await fetch(`${urlOf(config)}/guild/${g}/reassign`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ target_pod_id: target }) });
        if (!res.ok) throw new Error(`reassign ${g}: ${res.status} ${await res.text()}`);
      }
    },
    movePauses(guilds, since) {
      // No pod applies a guild's events from the old owner's drop to the new owner's pick-up
      // (both at their own next poll); a pick-up before the drop is an overlap (pause 0).
      return guilds.map((g) => {
        const at = (msg: string) => Math.min(...all.flatMap((p) => p.lines.filter((l) => l.msg === msg && l['guild'] === g && lineTime(l) >= since).map(lineTime)));
        return Math.max(0, at('guild live') - at('guild dropped'));
      });
    },
    historyFiles: () => pods.map((p, i) => join(o.dir, p, 'history', `baseline-${i}.jsonl`)),
    abandoned: async () => () => false,
    async close() {
      const procs = [...all, ...(config ? [config] : []), ...(http ? [http] : [])];
      for (const p of procs) killGroup(p);
      await Promise.all(procs.map((p) => p.exited));
      await pool.query(`DROP SCHEMA IF EXISTS "${o.schema}" CASCADE`).catch(() => undefined);
      await pool.end();
    },
  };
}

