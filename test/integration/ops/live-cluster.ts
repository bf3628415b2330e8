// A small real cluster for the ops checks: the Discord stand-in in this process, real `leasehold
// gateway` and `leasehold http` processes against Redis and Postgres (own key prefix and schema),
// and a scraper that reads every pod's /metrics as Prometheus would (job and instance per pod).
// Used by live-metrics.test.ts and by scripts/render-dashboard.ts; imports nothing from vitest.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startSim, type Sim } from '../../../src/sim/index.js';
import { createClusterClient } from '../../../src/cluster/client.js';
import { deleteByPrefix } from '../../../src/cluster/leases.js';
import { ringParams } from '../../../src/cluster/ring.js';
import { computeStatus, snapshot, type ClusterStatus } from '../../../src/admin/operations.js';
import { createAssignmentStore } from '../../../src/store/index.js';
import { killGroup, startRole, type RoleProcess } from '../../helpers/processes.js';
import { parsePromText } from './prom-text.js';
import type { Target } from './promql-eval.js';

/** The job labels the dashboards select (the Prometheus configs in deploy/ and docs/deploy.md set them). */
export const JOBS = { gateway: 'leasehold-gateway', http: 'leasehold-http' } as const;
type Role = keyof typeof JOBS;

export interface LiveClusterOptions {
  readonly redisUrl: string;
  readonly databaseUrl: string;
  readonly guilds: number;
  readonly shards: number;
  readonly ttlMs: number;
  readonly seed?: number;
}

export interface LivePod {
  readonly name: string;
  readonly role: Role;
  readonly proc: RoleProcess;
  readonly url: string;
}

export interface LiveCluster {
  readonly sim: Sim;
  readonly pods: ReadonlyMap<string, LivePod>;
  start(role: Role, name: string): Promise<LivePod>;
  /** kill -9 of the pod and its Litestream children; it stays a scrape target that no longer answers. */
  kill(name: string): Promise<void>;
  /** One scrape of every pod, in start order. */
  scrape(): Promise<Target[]>;
  /** Leases per owner, read from Redis. */
  leaseCounts(): Promise<Map<string, number>>;
  /** What `leasehold admin status` reports (overrides = guilds not yet on their desired owner). */
  status(): Promise<ClusterStatus>;
  close(): Promise<void>;
}

const SCRAPE_TIMEOUT_MS = 2000;

export async function startLiveCluster(o: LiveClusterOptions): Promise<LiveCluster> {
  const id = randomBytes(4).toString('hex');
  const prefix = `ops${id}:`;
  const schema = `t_ops_${id}`;
  const dir = mkdtempSync(join(tmpdir(), 'lh-ops-'));
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: 3 });
  const cluster = createClusterClient(redis, prefix, o.ttlMs);
  const store = createAssignmentStore({ databaseUrl: o.databaseUrl, schema });
  const sim = await startSim({ guilds: o.guilds, shards: o.shards, seed: o.seed ?? 9, identifyWindowMs: 100, heartbeatIntervalMs: 5000 });
  const pods = new Map<string, LivePod>();
  const common = { REDIS_URL: o.redisUrl, DATABASE_URL: o.databaseUrl, DATABASE_SCHEMA: schema, KEY_PREFIX: prefix, INTERNAL_SECRET: 'ops-internal-secret', DISCORD_APPLICATION_ID: sim.applicationId, DISCORD_API_URL: sim.restUrl, LOG_LEVEL: 'info', RECONCILE_EVERY_MS: '1000' };
  const envOf = (role: Role, name: string): Record<string, string> =>
    role === 'gateway'
      ? { ...common, POD_ID: name, DISCORD_TOKEN: 'ops-token', DATA_DIR: join(dir, name), REPLICA_URL: pathToFileURL(join(dir, 'replicas')).href, LEASE_TTL_MS: String(o.ttlMs), IDENTIFY_WINDOW_MS: '100', DRAIN_TIMEOUT_MS: '20000' }
      : { ...common, POD_ID: name, DISCORD_PUBLIC_KEY: sim.publicKey, ADMIN_TOKEN: 'ops-admin-token' };

  const self: LiveCluster = {
    sim,
    pods,
    async start(role, name) {
      if (pods.has(name)) throw new Error(`pod ${name} was already started`);
      const proc = startRole(name, [role], envOf(role, name));
      const line = await proc.waitForLine('listening', (l) => l.msg === 'listening', 60_000);
      const pod = { name, role, proc, url: String(line['url']) };
      pods.set(name, pod);
      return pod;
    },
    async kill(name) {
      const pod = pods.get(name);
      if (!pod) throw new Error(`no pod ${name}`);
      killGroup(pod.proc, 'SIGKILL');
      await pod.proc.exited;
    },
    async scrape() {
      return Promise.all(
        [...pods.values()].map(async (p): Promise<Target> => {
          const own = { job: JOBS[p.role], instance: p.name };
          try {
            const res = await fetch(`${p.url}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
            if (!res.ok) return { ...own, up: false, samples: [] };
            return { ...own, up: true, samples: parsePromText(await res.text()).samples };
          } catch {
            return { ...own, up: false, samples: [] };
          }
        }),
      );
    },
    async leaseCounts() {
      const counts = new Map<string, number>();
      for (const l of (await cluster.leases.scanAll()).leases) counts.set(l.owner, (counts.get(l.owner) ?? 0) + 1);
      return counts;
    },
    async status() {
      return computeStatus(await snapshot({ cluster, store, ringParams: ringParams() }));
    },
    async close() {
      const procs = [...pods.values()].map((p) => p.proc);
      for (const p of procs) killGroup(p);
      await Promise.all(procs.map((p) => p.exited));
      await sim.close();
      await deleteByPrefix(redis, prefix);
      redis.disconnect();
      await store.close();
      const c = new pg.Client({ connectionString: o.databaseUrl });
      await c.connect();
      try {
        await c.query(`drop schema if exists "${schema}" cascade`);
      } finally {
        await c.end();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}
