// The chaos harness: one real cluster — the Discord stand-in, gateways and http pods as separate
// processes, a private redis-server (scenarios restart, flush and pause it), Postgres behind a
// fault proxy, a load balancer in front of the edges — under steady message and interaction load.
// A scenario breaks something; the harness puts the cluster back, waits for full ownership and
// judges the scenario's window of history with the product's checker (src/history).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startSim, type Sim, type TrafficHandle } from '../../src/sim/index.js';
import { createClusterClient } from '../../src/cluster/client.js';
import { ringParams } from '../../src/cluster/ring.js';
import { computeStatus, snapshot, unpin, uncordon, type AdminDeps } from '../../src/admin/operations.js';
import { createAssignmentStore, type AssignmentStore } from '../../src/store/index.js';
import { checkHistory, findApplicationLogs, readApplications, readLeaseLog, type HistoryReport } from '../../src/history/index.js';
import type { Application } from '../../src/gateway/history-log.js';
import { databaseUrl, testSchema, waitFor, type TestSchema } from '../helpers/services.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { killGroup, startRole, type RoleProcess } from '../helpers/processes.js';
import { startBalancer, type Balancer } from './balancer.js';

export interface ChaosConfig {
  readonly guilds: number;
  readonly gateways: number;
  readonly edges: number;
  readonly ttlMs: number;
  /** Messages a second from the stand-in. */
  readonly messageRate: number;
  /** Interactions a second through the balancer; every 50th mis-signed, as Discord probes. */
  readonly interactionRate: number;
  /** Guilds set up (through /setup) with a log channel and the alert keyword, so messages cause side effects. */
  readonly alertGuilds: number;
  /** Messages with the alert keyword a second, spread over those guilds. */
  readonly alertRate: number;
  /** How long Postgres stays cut off in its scenario. */
  readonly postgresOutageMs: number;
}

export const ALERT_KEYWORD = 'chaosalert';
const PREFIX = 'chaos:';
const INTERNAL_SECRET = 'chaos-internal-secret';
const ADMIN_TOKEN = 'chaos-admin-token';

export interface ScenarioRow {
  readonly scenario: string;
  readonly events: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly interactions: number;
  readonly failedInteractions: number;
  readonly otherViolations: number;
  /** From the fault to every guild leased by a running gateway that has it live. */
  readonly fullOwnershipMs: number;
}

export class ChaosCluster {
  readonly gateways = new Map<string, RoleProcess>();
  readonly edges = new Map<string, RoleProcess>();
  readonly redis: Redis;
  private readonly store: AssignmentStore;
  private traffic: TrafficHandle | undefined;
  private alertTimer: NodeJS.Timeout | undefined;
  private alertTargets: { guildId: string; channelId: string }[] = [];
  /** Per process: (guild → epochs it went live at), read from its log lines as they come. */
  private readonly liveIndex = new Map<RoleProcess, { cursor: number; live: Map<string, Set<number>> }>();
  private readonly exited = new Set<RoleProcess>();

  private constructor(
    readonly cfg: ChaosConfig,
    readonly dir: string,
    readonly sim: Sim,
    readonly privateRedis: PrivateRedis,
    readonly schema: TestSchema,
    readonly pgProxy: FaultProxy,
    readonly balancer: Balancer,
    readonly signingKey: string,
  ) {
    this.redis = new Redis(privateRedis.url, { maxRetriesPerRequest: null, commandTimeout: 30_000 });
    // Scenarios restart and pause this Redis: the harness's client reconnects; its errors are expected.
    this.redis.on('error', () => undefined);
    this.store = createAssignmentStore({ databaseUrl: schema.url, schema: schema.schema });
  }

  static async start(cfg: ChaosConfig): Promise<ChaosCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'lh-chaos-'));
    const privateRedis = await startPrivateRedis();
    const schema = await testSchema();
    const pg = new URL(databaseUrl());
    const pgProxy = await startFaultProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
    const signingKey = randomBytes(32).toString('hex');
    const sim = await startSim({ guilds: cfg.guilds, shards: 2, seed: 21, identifyWindowMs: 100, heartbeatIntervalMs: 5000, signingKey, logFile: join(dir, 'sim.jsonl') });
    let c: ChaosCluster | undefined;
    const balancer = await startBalancer(() => (c ? [...c.edges.values()].filter((p) => !c!.exited.has(p)).map((p) => c!.baseUrl(p)) : []));
    c = new ChaosCluster(cfg, dir, sim, privateRedis, schema, pgProxy, balancer, signingKey);
    try {
      for (let i = 1; i <= cfg.gateways; i++) await c.startGateway(`gw-${i}`);
      for (let i = 1; i <= cfg.edges; i++) await c.startEdge(`http-${i}`);
      await c.waitServing(90_000);
      await c.waitConverged(90_000);
      await c.setUpAlerts();
      return c;
    } catch (err) {
      // Leave no process behind when the cluster never came up.
      await c.close().catch(() => undefined);
      throw err;
    }
  }

  /** Postgres as the pods see it: through the fault proxy. */
  private pgUrlForPods(): string {
    const u = new URL(databaseUrl());
    u.hostname = '127.0.0.1';
    u.port = String(this.pgProxy.port);
    return u.toString();
  }

  private common(name: string): Record<string, string> {
    return {
      REDIS_URL: this.privateRedis.url,
      DATABASE_URL: this.pgUrlForPods(),
      DATABASE_SCHEMA: this.schema.schema,
      KEY_PREFIX: PREFIX,
      POD_ID: name,
      INTERNAL_SECRET,
      DISCORD_APPLICATION_ID: this.sim.applicationId,
      DISCORD_API_URL: this.sim.restUrl,
      RECONCILE_EVERY_MS: '1000',
      LOG_LEVEL: 'info',
    };
  }

  async startGateway(name: string): Promise<RoleProcess> {
    const p = startRole(name, ['gateway'], {
      ...this.common(name),
      DISCORD_TOKEN: 'chaos-token',
      DATA_DIR: join(this.dir, name),
      REPLICA_URL: pathToFileURL(join(this.dir, 'replicas')).href,
      LEASE_TTL_MS: String(this.cfg.ttlMs),
      IDENTIFY_WINDOW_MS: '100',
      DRAIN_TIMEOUT_MS: '30000',
    });
    return this.track(this.gateways, name, p);
  }

  async startEdge(name: string): Promise<RoleProcess> {
    const p = startRole(name, ['http'], { ...this.common(name), DISCORD_PUBLIC_KEY: this.sim.publicKey, ADMIN_TOKEN });
    return this.track(this.edges, name, p);
  }

  private async track(map: Map<string, RoleProcess>, name: string, p: RoleProcess): Promise<RoleProcess> {
    map.set(name, p);
    void p.exited.then(() => this.exited.add(p));
    await p.waitForLine('listening', (l) => l.msg === 'listening', 60_000);
    return p;
  }

  running(p: RoleProcess | undefined): p is RoleProcess {
    return p !== undefined && !this.exited.has(p);
  }

  baseUrl(p: RoleProcess): string {
    return String(p.lines.find((l) => l.msg === 'listening')?.['url']);
  }

  get interactionsUrl(): string {
    return `${this.balancer.url}/interactions`;
  }

  cluster() {
    return createClusterClient(this.redis, PREFIX, this.cfg.ttlMs);
  }

  admin(): AdminDeps {
    return { cluster: this.cluster(), store: this.store, ringParams: ringParams() };
  }

  /** Guilds each gateway holds a lease on now. */
  async leasesByOwner(): Promise<Map<string, string[]>> {
    const { leases } = await this.cluster().leases.scanAll();
    const m = new Map<string, string[]>();
    for (const l of leases) m.set(l.owner, [...(m.get(l.owner) ?? []), l.guildId]);
    return m;
  }

  private liveAt(p: RoleProcess): Map<string, Set<number>> {
    let idx = this.liveIndex.get(p);
    if (!idx) this.liveIndex.set(p, (idx = { cursor: 0, live: new Map() }));
    for (; idx.cursor < p.lines.length; idx.cursor++) {
      const l = p.lines[idx.cursor]!;
      if (l.msg !== 'guild live') continue;
      const g = String(l['guild']);
      idx.live.set(g, (idx.live.get(g) ?? new Set()).add(Number(l['epoch'])));
    }
    return idx.live;
  }

  /** Every guild leased by a running gateway that went live at exactly that lease's epoch. */
  async serving(): Promise<boolean> {
    const { leases } = await this.cluster().leases.scanAll();
    if (leases.length !== this.cfg.guilds) return false;
    return leases.every((l) => {
      const p = this.gateways.get(l.owner);
      return this.running(p) && (this.liveAt(p).get(l.guildId)?.has(l.epoch) ?? false);
    });
  }

  /** Why full ownership does not hold: guilds without a lease, on a dead owner, or not live at the lease's epoch. */
  async unserved(): Promise<string[]> {
    const { leases } = await this.cluster().leases.scanAll();
    const out = leases
      .filter((l) => {
        const p = this.gateways.get(l.owner);
        return !this.running(p) || !(this.liveAt(p).get(l.guildId)?.has(l.epoch) ?? false);
      })
      .map((l) => `${l.guildId}@${l.epoch} on ${l.owner}${this.running(this.gateways.get(l.owner)) ? ' (not live at that epoch)' : ' (not running)'}`);
    const leased = new Set(leases.map((l) => l.guildId));
    for (const g of this.sim.state.snapshot().guilds) if (!leased.has(g.id)) out.push(`${g.id}: no lease`);
    return out;
  }

  /** Waits for full ownership; returns when it held (ms since the epoch). */
  async waitServing(timeoutMs: number): Promise<number> {
    try {
      await waitFor('every guild owned and served by a running gateway', async () => (await this.serving()) || undefined, timeoutMs, 100);
    } catch (err) {
      const left = await this.unserved();
      const g = left[0]?.slice(0, 18);
      throw new Error(`${(err as Error).message}; ${left.length} guild(s) not served, e.g. ${left.slice(0, 5).join('; ')}${g ? `\n--- guild ${g}:\n${this.guildStory(g, 40)}` : ''}`);
    }
    return Date.now();
  }

  /**
   * Every running gateway on the ring, every lease on its desired owner (no override left), and
   * served. Without the first, a gateway restarted by the previous scenario whose Discord sessions
   * were not READY yet left a ring of the others "converged"; a scenario that then killed those
   * left it alone, missing every dispatch from before its sessions came up.
   */
  async waitConverged(timeoutMs: number): Promise<void> {
    await this.waitConvergedOnce(timeoutMs).catch(async (err: unknown) => {
      const st = computeStatus(await snapshot(this.admin()));
      const left = await this.unserved();
      throw new Error(`${(err as Error).message}: ring ${st.ringMembers.join(', ')}, ${st.overrides.length} override(s) (e.g. ${st.overrides.slice(0, 3).map((o) => `${o.guildId} on ${o.owner}, wants ${o.desired ?? '-'}`).join('; ')}), ${left.length} not served (e.g. ${left.slice(0, 3).join('; ')})`);
    });
  }

  private async waitConvergedOnce(timeoutMs: number): Promise<void> {
    await waitFor(
      'the ring to converge',
      async () => {
        const st = computeStatus(await snapshot(this.admin()));
        const running = [...this.gateways.values()].filter((p) => this.running(p)).length;
        return (st.ringMembers.length === running && st.overrides.length === 0 && st.guilds.owned === this.cfg.guilds && (await this.serving())) || undefined;
      },
      timeoutMs,
      250,
    );
  }

  /** /setup through the edge on a few guilds: a log channel and the alert keyword. */
  private async setUpAlerts(): Promise<void> {
    const guilds = this.sim.state.snapshot().guilds.slice(0, this.cfg.alertGuilds);
    for (const g of guilds) {
      const channelId = this.sim.createChannel(g.id, 'mod-log').id;
      const r = await this.sim.sendInteraction({
        url: this.interactionsUrl,
        guildId: g.id,
        kind: 'command',
        name: 'setup',
        options: [
          { name: 'log_channel', type: 7, value: channelId },
          { name: 'alert_keywords', type: 3, value: ALERT_KEYWORD },
        ],
      });
      if (r.failed) throw new Error(`/setup in ${g.id} failed: status ${r.status} ${r.error ?? ''}`);
      this.alertTargets.push({ guildId: g.id, channelId });
    }
  }

  startLoad(): void {
    this.traffic = this.sim.startTraffic({ ratePerSec: this.cfg.messageRate, interactions: { url: this.interactionsUrl, ratePerSec: this.cfg.interactionRate, badSignatureEvery: 50 } });
    let n = 0;
    if (this.alertTargets.length > 0 && this.cfg.alertRate > 0) {
      this.alertTimer = setInterval(() => {
        const t = this.alertTargets[n++ % this.alertTargets.length]!;
        this.sim.postMessage({ guildId: t.guildId, content: `${ALERT_KEYWORD} number ${n}` });
      }, 1000 / this.cfg.alertRate);
    }
  }

  async stopLoad(): Promise<void> {
    if (this.alertTimer) clearInterval(this.alertTimer);
    this.alertTimer = undefined;
    this.traffic?.stop();
    await this.traffic?.done;
    this.traffic = undefined;
  }

  /** Back to the starting shape: every pod running, no pins or cordons left, the ring converged. */
  async restore(): Promise<void> {
    for (const [name, p] of [...this.gateways]) if (!this.running(p)) await this.startGateway(name);
    for (const [name, p] of [...this.edges]) if (!this.running(p)) await this.startEdge(name);
    const d = this.admin();
    // Both copies: a pin set with redis-cli alone is copied to Postgres by the reconcile.
    const pins = new Set([...(await d.cluster.controls.readPins()).pins.keys(), ...(await this.store.listPins()).keys()]);
    for (const guild of pins) await unpin(d, guild);
    for (const pod of new Set([...(await d.cluster.controls.readCordons()).keys(), ...(await this.store.listCordons()).keys()])) await uncordon(d, pod);
    await this.waitConverged(90_000);
  }

  applications(): Promise<Application[]> {
    return readApplications(findApplicationLogs([this.dir]));
  }

  async report(window?: { from: number; to: number }): Promise<HistoryReport> {
    const applications = await this.applications();
    const leaseLog = await readLeaseLog(this.store);
    return checkHistory({ dispatches: this.sim.log.dispatches(), effects: this.sim.log.effects(), interactions: this.sim.log.interactions(), applications, leaseLog }, window ? { window } : {});
  }

  /**
   * The window's history once in-flight work has landed: events dispatched just before the end
   * are applied, answers and deferred edits arrive. Waits (with a deadline) only for those; the
   * caller asserts on what it returns.
   */
  async settle(window: { from: number; to: number }, timeoutMs = 30_000): Promise<HistoryReport> {
    let last: HistoryReport | undefined;
    await waitFor(
      'the window to settle',
      async () => {
        last = await this.report(window);
        return (last.lost.length === 0 && last.interactions.pending === 0 && last.interactions.notCompleted.length === 0 && last.effects.missing.length === 0) || undefined;
      },
      timeoutMs,
      500,
    ).catch(() => undefined); // the caller's expect names what is still wrong
    return last ?? this.report(window);
  }

  /** Every log line about one guild from every process, in time order (to explain a failure). */
  guildStory(guildId: string, limit = 60): string {
    const all = [...this.gateways.values(), ...this.edges.values()];
    return all
      .flatMap((p) => p.lines.filter((l) => l['guild'] === guildId).map((l) => ({ t: String(l['time']), s: `${p.name} ${String(l['time']).slice(11)} ${String(l.msg)} epoch=${String(l['epoch'] ?? '')}` })))
      .sort((a, b) => a.t.localeCompare(b.t))
      .slice(-limit)
      .map((x) => x.s)
      .join('\n');
  }

  /** The first lost event: where the stand-in sent it, and what every pod logged about its guild around then. */
  explainLost(r: HistoryReport): string {
    const lost = r.lost[0];
    if (!lost) return '';
    const d = this.sim.log.dispatches().find((x) => x.key === lost.key);
    if (!d) return `${lost.key}: no dispatch record`;
    const sessions = new Map(this.sim.state.sessions().map((x) => [x.id, `${x.id}(${x.properties['device'] ?? x.properties['os'] ?? '?'} shard ${x.shard[0]} ${x.status})`]));
    const all = [...this.gateways.values(), ...this.edges.values()];
    const near = all
      .flatMap((p) => p.lines.filter((l) => l['guild'] === lost.guild && Math.abs(Date.parse(String(l['time'])) - d.at) < 15_000).map((l) => ({ t: String(l['time']), s: `${p.name} pid ${p.pid} ${String(l['time']).slice(11)} ${JSON.stringify({ ...l, time: undefined, pid: undefined, role: undefined, guild: undefined, level: undefined }).slice(0, 300)}` })))
      .sort((a, b) => a.t.localeCompare(b.t))
      .map((x) => x.s);
    // Discord sessions going down or coming back near then: a pod that missed the dispatch cannot replay it.
    const sessionLines = [...this.gateways.values()].flatMap((p) =>
      p.lines.filter((l) => /session|resum|identif|handoff|handed/i.test(String(l.msg)) && Math.abs(Date.parse(String(l['time'])) - d.at) < 10_000).map((l) => `${p.name} pid ${p.pid} ${String(l['time']).slice(11)} ${String(l.msg)} ${JSON.stringify({ ...l, time: undefined, msg: undefined, pid: undefined, role: undefined, level: undefined, pod: undefined }).slice(0, 200)}`),
    );
    const apps = r.lost.slice(0, 6).map((l) => l.key);
    return [`${lost.key} in ${lost.guild}: dispatch seq ${d.seq} at ${new Date(d.at).toISOString()} to ${d.sessions.map((id) => sessions.get(id) ?? id).join(', ')}`, `lost keys: ${apps.join(' ')}`, ...near, '--- sessions and handoffs near then:', ...sessionLines.sort().slice(0, 40)].join('\n');
  }

  async close(): Promise<void> {
    await this.stopLoad().catch(() => undefined);
    const all = [...this.gateways.values(), ...this.edges.values()];
    for (const p of all) killGroup(p, 'SIGKILL');
    await Promise.all(all.map((p) => p.exited));
    await this.balancer.close();
    await this.sim.close();
    this.redis.disconnect();
    await this.store.close();
    await this.pgProxy.close();
    await this.privateRedis.stop();
    await this.schema.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function rowOf(scenario: string, r: HistoryReport, fullOwnershipMs: number): ScenarioRow {
  return {
    scenario,
    events: r.events,
    lost: r.lost.length,
    duplicated: r.appliedTwice.length + r.effects.sentTwice.length,
    interactions: r.interactions.sent,
    failedInteractions: r.interactions.failed.length + r.interactions.forgedAccepted.length + r.interactions.notCompleted.length,
    otherViolations: r.overlapping.length + r.staleWrites.length + r.epochRegressions.length + r.effects.missing.length + r.effects.unexpected.length,
    fullOwnershipMs,
  };
}
