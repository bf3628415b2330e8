// The stand-in's options and their defaults in one place: realistic by default (Discord's
// numbers), every limit configurable so end-to-end tests can start quickly.
import { GatewayIntentBits } from 'discord-api-types/v10';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { RouteLimit, RouteName } from './rest/rate-limits.js';

export interface SimOptions {
  /** Guilds created at start (deterministic ids from `seed`). Default 10. */
  guilds?: number;
  /** Shard count the stand-in recommends in GET /gateway/bot and uses for `shard` in records. Default 1. */
  shards?: number;
  /** Seed of every generated id, name and traffic sequence. Default 1. */
  seed?: number;
  host?: string;
  /** 0 = a free port. */
  port?: number;
  /** host:port others use to reach the stand-in (default host:port as bound). */
  advertiseAddr?: string;
  /** One identify per bucket (`shard % maxConcurrency`) per window. Default 5000. */
  identifyWindowMs?: number;
  /** session_start_limit.max_concurrency. Default 1. */
  maxConcurrency?: number;
  /** session_start_limit.total (identifies a day). Default 1000. */
  dailyIdentifies?: number;
  /** HELLO's heartbeat_interval. Default 41250. */
  heartbeatIntervalMs?: number;
  /** REST requests per second per bot (Discord's global limit). Default 50. */
  globalRateLimit?: number;
  /** Tokens answered with close 4004 / REST 401. Default ['invalid']. */
  invalidTokens?: string[];
  /** The application (and bot user) snowflake. Default derived from the seed. */
  applicationId?: string;
  /**
   * Privileged intents the application may use (GuildMembers, GuildPresences, MessageContent);
   * an IDENTIFY asking for another is closed with 4014. Default: all three.
   */
  privilegedIntents?: number;
  /**
   * A session whose shard would hold more guilds than this is closed with 4011 (Discord
   * requires sharding at 2500 guilds a shard). Default 2500.
   */
  maxGuildsPerShard?: number;
  /** Gateway payloads a connection may send per 60 s before it is closed with 4008. Default 120. */
  commandsPerMinute?: number;
  /** Dispatches kept per session for RESUME; a session that falls further behind cannot resume. Default 10000. */
  replayBufferSize?: number;
  /** How long a disconnected session stays resumable. Default 120000. */
  resumeWindowMs?: number;
  /** Per-route bucket overrides (e.g. a higher create-message limit for a benchmark). */
  routeLimits?: Partial<Record<RouteName, RouteLimit>>;
  /** How long a create-message nonce with enforce_nonce is remembered. Default 5 minutes. */
  nonceWindowMs?: number;
  /** A JSON-lines file every dispatch, effect and interaction record is appended to. */
  logFile?: string;
  /** Dispatch records kept in memory (effects and interactions: a fifth of it); the file keeps all. Default 500,000. */
  logCapacity?: number;
  /** Messages remembered (for delete, message commands, nonce repeats); the oldest are forgotten first. Default 50000. */
  messageCapacity?: number;
  /**
   * Raw Ed25519 private seed (64 hex chars) the interactions are signed with; default a fresh key
   * pair per start. Fixing it keeps `publicKey` across restarts.
   */
  signingKey?: string;
  /** How long the sender waits for an interaction answer before giving up. Default 10000 (it counts as failed after 3000). */
  interactionTimeoutMs?: number;
  logger?: Logger;
  clock?: Clock;
}

/** Privileged intents, which an application must be granted. */
export const PRIVILEGED_INTENTS = GatewayIntentBits.GuildMembers | GatewayIntentBits.GuildPresences | GatewayIntentBits.MessageContent;

export const SIM_DEFAULTS = {
  guilds: 10,
  shards: 1,
  seed: 1,
  host: '127.0.0.1',
  port: 0,
  identifyWindowMs: 5000,
  maxConcurrency: 1,
  dailyIdentifies: 1000,
  heartbeatIntervalMs: 41_250,
  globalRateLimit: 50,
  invalidTokens: ['invalid'],
  privilegedIntents: PRIVILEGED_INTENTS,
  maxGuildsPerShard: 2500,
  commandsPerMinute: 120,
  replayBufferSize: 10_000,
  resumeWindowMs: 120_000,
  nonceWindowMs: 5 * 60_000,
  logCapacity: 500_000,
  messageCapacity: 50_000,
  interactionTimeoutMs: 10_000,
} as const;

export type ResolvedSimOptions = Required<Omit<SimOptions, 'advertiseAddr' | 'applicationId' | 'logFile' | 'routeLimits' | 'invalidTokens' | 'signingKey'>> & {
  readonly signingKey: string | undefined;
  readonly advertiseAddr: string | undefined;
  readonly applicationId: string | undefined;
  readonly logFile: string | undefined;
  readonly routeLimits: Partial<Record<RouteName, RouteLimit>>;
  readonly invalidTokens: readonly string[];
};

export function resolveOptions(o: SimOptions = {}): ResolvedSimOptions {
  const positive = (name: string, v: number, min = 1) => {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`sim option ${name} must be a whole number ≥ ${min}, got ${v}`);
    return v;
  };
  const r: ResolvedSimOptions = {
    guilds: positive('guilds', o.guilds ?? SIM_DEFAULTS.guilds, 0),
    shards: positive('shards', o.shards ?? SIM_DEFAULTS.shards),
    seed: o.seed ?? SIM_DEFAULTS.seed,
    host: o.host ?? SIM_DEFAULTS.host,
    port: positive('port', o.port ?? SIM_DEFAULTS.port, 0),
    advertiseAddr: o.advertiseAddr,
    identifyWindowMs: positive('identifyWindowMs', o.identifyWindowMs ?? SIM_DEFAULTS.identifyWindowMs, 0),
    maxConcurrency: positive('maxConcurrency', o.maxConcurrency ?? SIM_DEFAULTS.maxConcurrency),
    dailyIdentifies: positive('dailyIdentifies', o.dailyIdentifies ?? SIM_DEFAULTS.dailyIdentifies, 0),
    heartbeatIntervalMs: positive('heartbeatIntervalMs', o.heartbeatIntervalMs ?? SIM_DEFAULTS.heartbeatIntervalMs, 50),
    globalRateLimit: positive('globalRateLimit', o.globalRateLimit ?? SIM_DEFAULTS.globalRateLimit),
    invalidTokens: o.invalidTokens ?? SIM_DEFAULTS.invalidTokens,
    applicationId: o.applicationId,
    privilegedIntents: o.privilegedIntents ?? SIM_DEFAULTS.privilegedIntents,
    maxGuildsPerShard: positive('maxGuildsPerShard', o.maxGuildsPerShard ?? SIM_DEFAULTS.maxGuildsPerShard),
    commandsPerMinute: positive('commandsPerMinute', o.commandsPerMinute ?? SIM_DEFAULTS.commandsPerMinute),
    replayBufferSize: positive('replayBufferSize', o.replayBufferSize ?? SIM_DEFAULTS.replayBufferSize),
    resumeWindowMs: positive('resumeWindowMs', o.resumeWindowMs ?? SIM_DEFAULTS.resumeWindowMs),
    routeLimits: o.routeLimits ?? {},
    nonceWindowMs: positive('nonceWindowMs', o.nonceWindowMs ?? SIM_DEFAULTS.nonceWindowMs),
    logFile: o.logFile,
    signingKey: o.signingKey,
    logCapacity: positive('logCapacity', o.logCapacity ?? SIM_DEFAULTS.logCapacity),
    messageCapacity: positive('messageCapacity', o.messageCapacity ?? SIM_DEFAULTS.messageCapacity),
    interactionTimeoutMs: positive('interactionTimeoutMs', o.interactionTimeoutMs ?? SIM_DEFAULTS.interactionTimeoutMs),
    logger: o.logger ?? silentLogger,
    clock: o.clock ?? systemClock,
  };
  if (r.applicationId !== undefined && !/^\d{17,20}$/.test(r.applicationId)) throw new RangeError(`sim option applicationId must be a snowflake, got ${r.applicationId}`);
  return r;
}
