// The baseline's gateway pod, as the seeds design it (implementation guide §2): one discord.js
// client with every shard, registered with the config service, heartbeating every 30 s and
// keeping the guilds assigned to it (re-read every 30 s); events of other guilds are ignored.
// Its data is one SQLite file for the pod (the seeds: /data/mod-bot.sqlite3). No epochs, no
// dedupe, no handoff: a guild moves when both pods' next polls see the new assignment.
// Every application is written to the same history log leasehold's gateways write, so the
// same checker counts lost and doubled events.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client, Events, GatewayIntentBits, Options } from 'discord.js';
import type { IIdentifyThrottler } from '@discordjs/ws';
import { GatewayOpcodes } from 'discord-api-types/v10';
import { HistoryLog } from '../../src/gateway/history-log.js';
import { dedupeKey } from '../../src/gateway/dedupe.js';
import type { Logger } from '../../src/log.js';
import { parseJson, readRawBody } from '../../src/runtime/raw-body.js';
import { serve, type Listening } from '../../src/runtime/serve.js';

export interface BaselineGatewayOptions {
  /** POD_ORDINAL: the StatefulSet ordinal the seeds key pods by. */
  readonly podOrdinal: number;
  readonly podName: string;
  readonly configServiceUrl: string;
  readonly discordToken: string;
  readonly discordApiUrl: string;
  readonly shardCount: number;
  readonly identifyWindowMs: number;
  readonly dataDir: string;
  readonly host: string;
  /** A fixed port stands in for the StatefulSet's stable DNS name (gateway-N.gateway-internal). */
  readonly port: number;
  /** The seeds: 30 s each. */
  readonly heartbeatEveryMs: number;
  readonly pollEveryMs: number;
  readonly logger: Logger;
}

/** Identifies spaced `windowMs` apart (the same window leasehold's gateways use in the benchmark). */
class WindowThrottler implements IIdentifyThrottler {
  private next = 0;
  constructor(private readonly windowMs: number) {}
  async waitForIdentify(_shardId: number, signal: AbortSignal): Promise<void> {
    const at = Math.max(Date.now(), this.next);
    this.next = at + this.windowMs;
    const wait = at - Date.now();
    if (wait > 0) await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, wait);
      signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
    });
  }
}

export async function runBaselineGateway(o: BaselineGatewayOptions): Promise<{ stop(): Promise<void> }> {
  const log = o.logger;
  mkdirSync(o.dataDir, { recursive: true });
  const db = new Database(join(o.dataDir, 'mod-bot.sqlite3'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS activity (guild_id TEXT NOT NULL, channel_id TEXT NOT NULL, user_id TEXT NOT NULL, message_id TEXT NOT NULL, at INTEGER NOT NULL)');
  db.exec('CREATE INDEX IF NOT EXISTS activity_guild ON activity(guild_id)');
  const insert = db.prepare('INSERT INTO activity (guild_id, channel_id, user_id, message_id, at) VALUES (?, ?, ?, ?, ?)');
  const countOf = db.prepare('SELECT COUNT(*) AS n FROM activity WHERE guild_id = ?');
  const history = new HistoryLog(join(o.dataDir, 'history', `baseline-${o.podOrdinal}.jsonl`));
  const podLabel = `baseline-${o.podOrdinal}`;

  let assigned = new Set<string>();
  const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${o.configServiceUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`config service ${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  /** The seeds' getAssignedGuilds: every assignment, filtered to this pod. */
  const poll = async () => {
    const rows = (await api('GET', '/guild-assignments')) as { guild_id: string; pod_id: number }[];
    const next = new Set(rows.filter((r) => r.pod_id === o.podOrdinal).map((r) => r.guild_id));
    for (const g of next) if (!assigned.has(g)) log.info({ guild: g }, 'guild live');
    for (const g of assigned) if (!next.has(g)) log.info({ guild: g }, 'guild dropped');
    assigned = next;
  };

  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent],
    shardCount: o.shardCount,
    shards: Array.from({ length: o.shardCount }, (_, i) => i),
    rest: { api: o.discordApiUrl },
    ws: { buildIdentifyThrottler: () => new WindowThrottler(o.identifyWindowMs) },
    makeCache: Options.cacheWithLimits({ ...Options.DefaultMakeCacheSettings, MessageManager: 0, GuildMemberManager: 0, UserManager: 0, PresenceManager: 0, ReactionManager: 0, GuildMessageManager: 0 }),
  });
  client.on(Events.Raw, (packet: { op: number; t?: string; d?: Record<string, unknown> }) => {
    if (packet.op !== GatewayOpcodes.Dispatch || packet.t !== 'MESSAGE_CREATE' || !packet.d) return;
    const d = packet.d;
    const guildId = typeof d['guild_id'] === 'string' ? d['guild_id'] : undefined;
    // The seeds' filter: `if (!isGuildAssigned(msg.guildId)) return;`
    if (!guildId || !assigned.has(guildId)) return;
    const author = (d['author'] ?? {}) as { id?: string };
    insert.run(guildId, String(d['channel_id']), String(author.id), String(d['id']), Date.now());
    history.write({ guild: guildId, key: dedupeKey({ t: packet.t, d }), pod: podLabel, epoch: 1, at: Date.now(), t: packet.t, outcome: 'applied' });
  });
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, fn: () => Promise<void>) => timers.push(setInterval(() => void fn().catch((err: unknown) => log.warn({ err }, 'config service call failed')), ms));

  // The internal API the seeds' HTTP service forwards to (POST /webhooks/discord).
  const server: Listening = await serve(
    (req, res) => {
      void (async () => {
        try {
          if (req.method === 'GET' && req.url === '/healthz') return void res.writeHead(200).end('ok');
          if (req.method !== 'POST' || req.url !== '/webhooks/discord') return void res.writeHead(404).end();
          const body = parseJson(await readRawBody(req)) as { type?: number; guild_id?: string };
          const answer = body.type === 1 ? { type: 1 } : { type: 4, data: { content: `**${(countOf.get(String(body.guild_id)) as { n: number }).n}** messages counted.` } };
          const s = JSON.stringify(answer);
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) }).end(s);
        } catch (err) {
          log.warn({ err }, 'webhook failed');
          res.writeHead(500).end();
        }
      })();
    },
    { host: o.host, port: o.port, advertiseAddr: undefined, logger: log },
  );

  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(o.discordToken);
  await ready;
  // The seeds: on ready, register, read the assignments, then heartbeat every 30 s.
  await api('POST', '/pod/register', { pod_id: o.podOrdinal, pod_name: o.podName });
  await poll();
  log.info({ guilds: assigned.size }, 'registered with the config service');
  every(o.heartbeatEveryMs, async () => void (await api('POST', `/pod/${o.podOrdinal}/heartbeat`, { guild_count: assigned.size })));
  every(o.pollEveryMs, poll);
  return {
    async stop() {
      for (const t of timers) clearInterval(t);
      await client.destroy();
      await server.close();
      history.close();
      db.close();
    },
  };
}
