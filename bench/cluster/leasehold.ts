// leasehold under benchmark: real `leasehold gateway` processes and one `leasehold http` edge,
// against the shared Redis (own key prefix) and Postgres (own schema), Litestream file replicas.
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { createClusterClient, type ClusterClient } from '../../src/cluster/client.js';
import { deleteByPrefix } from '../../src/cluster/leases.js';
import { ringParams } from '../../src/cluster/ring.js';
import { computeStatus, pin, snapshot } from '../../src/admin/operations.js';
import { createAssignmentStore, type AssignmentStore } from '../../src/store/index.js';
import { abandonedFromLog } from '../../test/helpers/history.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { killGroup, RoleProcess } from '../../test/helpers/processes.js';
import { waitFor } from './wait.js';
import { lineTime, type BenchCluster } from './types.js';

export interface LeaseholdClusterOptions {
  readonly pods: number;
  readonly guilds: number;
  readonly shards: number;
  readonly ttlMs: number;
  readonly dir: string;
  readonly redisUrl: string;
  readonly databaseUrl: string;
  readonly prefix: string;
  readonly schema: string;
  readonly sim: { restUrl: string; applicationId: string; publicKey: string };
  readonly identifyWindowMs: number;
  readonly restartTimeoutMs: number;
  /** Extra gateway settings (bench --gateway-env), e.g. LITESTREAM_MONITOR_INTERVAL_MS. */
  readonly gatewayEnv?: Readonly<Record<string, string>>;
}

// The built CLI beside the built benchmark (test/helpers/cli.ts resolves it from the sources).
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

// LH_BENCH_CPU_PROF=DIR: every role writes V8 CPU profiles to DIR/<role>/ when it exits, one per
// thread (Node's default names carry pid and thread id; a fixed name would let the replica-read
// workers overwrite the main thread's profile).
const prof = process.env['LH_BENCH_CPU_PROF'];

/** A role process whose JSON log also goes to `logFile` (read it while a run is slow). */
function startRole(name: string, args: string[], env: Record<string, string>, logFile: string): RoleProcess {
  const node = prof ? ['--cpu-prof', `--cpu-prof-dir=${join(prof, name)}`] : [];
  const child = spawn(process.execPath, [...node, CLI, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const out = createWriteStream(logFile, { flags: 'a' });
  child.stdout.on('data', (chunk: Buffer) => out.write(chunk));
  child.once('exit', () => out.end());
  return new RoleProcess(name, child);
}

export function leaseholdCluster(o: LeaseholdClusterOptions): BenchCluster {
  const pods = Array.from({ length: o.pods }, (_, i) => `gw-${i}`);
  const live = new Map<string, RoleProcess>();
  const all: RoleProcess[] = [];
  let edge: RoleProcess | undefined;
  const redis = new Redis(o.redisUrl);
  const cluster: ClusterClient = createClusterClient(redis, o.prefix, 10_000);
  const store: AssignmentStore = createAssignmentStore({ databaseUrl: o.databaseUrl, schema: o.schema });
  const common = () => ({ REDIS_URL: o.redisUrl, DATABASE_URL: o.databaseUrl, DATABASE_SCHEMA: o.schema, KEY_PREFIX: o.prefix, INTERNAL_SECRET: 'bench-internal-secret', DISCORD_APPLICATION_ID: o.sim.applicationId, DISCORD_API_URL: o.sim.restUrl, LOG_LEVEL: 'info' });

  const startGateway = async (pod: string): Promise<RoleProcess> => {
    const p = startRole(pod, ['gateway'], {
      ...common(),
      POD_ID: pod,
      DISCORD_TOKEN: 'bench-token',
      SHARD_COUNT: String(o.shards),
      DATA_DIR: join(o.dir, pod),
      REPLICA_URL: pathToFileURL(join(o.dir, 'replicas')).href,
      LEASE_TTL_MS: String(o.ttlMs),
      IDENTIFY_WINDOW_MS: String(o.identifyWindowMs),
      DRAIN_TIMEOUT_MS: '120000',
      ...o.gatewayEnv,
    }, join(o.dir, `${pod}.log`));
    live.set(pod, p);
    all.push(p);
    await p.waitForLine('listening', (l) => l.msg === 'listening', 60_000);
    return p;
  };
  const ownedBy = async () => {
    const m = new Map<string, string>();
    for (const l of (await cluster.leases.scanAll()).leases) m.set(l.guildId, l.owner);
    return m;
  };

  return {
    design: 'leasehold',
    pods,
    async start() {
      await store.migrate();
      for (const p of pods) await startGateway(p);
      edge = startRole('http-0', ['http'], { ...common(), POD_ID: 'http-0', DISCORD_PUBLIC_KEY: o.sim.publicKey, ADMIN_TOKEN: 'bench-admin-token' }, join(o.dir, 'http-0.log'));
      await edge.waitForLine('listening', (l) => l.msg === 'listening', 60_000);
      await waitFor('every guild owned by a leasehold gateway', async () => (await ownedBy()).size === o.guilds || undefined, 600_000, 500);
      // And settled on the ring: a scenario that picks "gw-0's guilds" while the join's handoffs
      // are still moving some would pick guilds already on their way (a move of those never happens).
      await waitFor('every guild on its ring owner', async () => {
        const st = computeStatus(await snapshot({ cluster, store, ringParams: ringParams() }));
        return (st.guilds.owned === o.guilds && st.overrides.length === 0) || undefined;
      }, 600_000, 500);
      await waitFor('the edge ready', async () => (await fetch(this.interactionsUrl().replace('/interactions', '/readyz'))).ok || undefined, 60_000, 200);
    },
    async settled() {
      await waitFor('every guild replicated at its epoch', async () => {
        const owned = (await store.listAssignments()).filter((a) => a.state === 'active' && a.owner !== null);
        return (owned.length === o.guilds && owned.every((a) => a.dataEpoch === a.epoch)) || undefined;
      }, 600_000, 500);
    },
    interactionsUrl: () => `${String(edge?.lines.find((l) => l.msg === 'listening')?.['url'])}/interactions`,
    owners: ownedBy,
    process: (pod) => live.get(pod) as RoleProcess,
    allProcesses: () => all,
    kill(pod) {
      killGroup(live.get(pod) as RoleProcess, 'SIGKILL');
    },
    async restart(pod) {
      const old = live.get(pod) as RoleProcess;
      old.signal('SIGTERM');
      const exitCode = await old.exited;
      const since = Date.now();
      const p = await startGateway(pod);
      await p.waitForLine('sessions ready', (l) => l.msg === 'all Discord sessions ready', 120_000);
      let counts = '';
      // Back in the ring: every lease on its desired owner again (no override left).
      await waitFor(`${pod} serving its share again`, async () => {
        const st = computeStatus(await snapshot({ cluster, store, ringParams: ringParams() }));
        const mine = [...(await ownedBy()).values()].filter((x) => x === pod).length;
        counts = `${st.guilds.owned} owned, ${mine} by ${pod}, ${st.overrides.length} overrides`;
        return (st.guilds.owned === o.guilds && st.overrides.length === 0 && p.lines.some((l) => l.msg === 'guild live' && lineTime(l) >= since)) || undefined;
      }, o.restartTimeoutMs, 500).catch((err: unknown) => {
        throw new Error(`${String(err)}; ${counts}; ${pod}'s last lines:\n${p.lines.slice(-12).map((l) => JSON.stringify(l).slice(0, 300)).join('\n')}`);
      });
      return { exitCode };
    },
    async move(guilds, to) {
      for (const g of guilds) await pin({ cluster, store, ringParams: ringParams() }, g, to);
    },
    movePauses(guilds, since) {
      // The source's measured pause for a handoff; a guild that reached the target by a claim
      // instead (the handoff failed and the lease expired) paused from the request until it was
      // live again. Infinity while neither has happened.
      const lines = all.flatMap((p) => p.lines.filter((l) => (l.msg === 'guild handed off' || l.msg === 'guild live') && lineTime(l) >= since));
      return guilds.map((g) => {
        const handed = lines.find((l) => l.msg === 'guild handed off' && l['guild'] === g);
        if (handed) return Number(handed['pauseMs']);
        const claimed = lines.find((l) => l.msg === 'guild live' && l['guild'] === g && l['how'] === 'claim');
        return claimed ? lineTime(claimed) - since : Number.POSITIVE_INFINITY;
      });
    },
    historyFiles: () => pods.map((p) => join(o.dir, p, 'history', `${p}.jsonl`)),
    async abandoned() {
      return abandonedFromLog(await store.readLog({ limit: 10_000_000 }));
    },
    async close() {
      const procs = [...all, ...(edge ? [edge] : [])];
      if (prof) {
        // A profile is written at exit, not at SIGKILL: the second SIGTERM exits at once (no drain).
        for (const p of procs) for (let i = 0; i < 2; i++) p.signal('SIGTERM');
        await Promise.race([Promise.all(procs.map((p) => p.exited)), new Promise((r) => setTimeout(r, 15_000))]);
      }
      for (const p of procs) killGroup(p);
      await Promise.all(procs.map((p) => p.exited));
      await deleteByPrefix(redis, o.prefix);
      await store.db.schema.dropSchema(o.schema).ifExists().cascade().execute().catch(() => undefined);
      await store.close();
      redis.disconnect();
    },
  };
}
