// Environment → one typed, frozen configuration object per role.
// The table below is the single source of truth: it parses, it documents (README, --help),
// and it decides which role reads what. A bad value is a ConfigError naming the variable.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';

export const ROLES = ['gateway', 'http', 'admin', 'sim', 'demo'] as const;
export type Role = (typeof ROLES)[number];

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly exitCode = 2;
  constructor(readonly problems: readonly { variable: string; message: string }[]) {
    super(problems.map((p) => `${p.variable}: ${p.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

const intIn = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, `expected a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `expected at least ${min}`).max(max, `expected at most ${max}`));

const list = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0))
  .pipe(z.array(z.string().min(8, 'each secret must be at least 8 characters')).min(1, 'expected at least one value'));

const url = (protocols: readonly string[]) =>
  z
    .string()
    .trim()
    .refine((s) => {
      try {
        return protocols.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    }, `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);

const podId = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'expected 1–63 characters: letters, digits, ".", "_", "-"');

const hostPort = z
  .string()
  .trim()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port');

const snowflake = z.string().trim().regex(/^\d{17,20}$/, 'expected a Discord snowflake (17–20 digits)');

const hex64 = z.string().trim().regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex characters (an Ed25519 public key)');

const boolish = z
  .string()
  .trim()
  .toLowerCase()
  .refine((s) => ['1', '0', 'true', 'false', 'yes', 'no'].includes(s), 'expected true/false')
  .transform((s) => s === '1' || s === 'true' || s === 'yes');

interface VarSpec {
  readonly schema: z.ZodType;
  /** Default as the env string, or a function of the raw env for derived defaults. */
  readonly def?: string | ((env: NodeJS.ProcessEnv) => string | undefined);
  readonly roles: readonly Role[];
  /** Roles for which the variable has no default and must be set. */
  readonly requiredFor?: readonly Role[];
  readonly doc: string;
}

// Only Kubernetes is detected: /.dockerenv also exists on some VMs, and the image sets HOST itself.
const inContainer = (): boolean => process.env['KUBERNETES_SERVICE_HOST'] !== undefined;

/** A default derived from LEASE_TTL_MS; none when that is itself invalid (it is reported once, there). */
function fromTtl(env: NodeJS.ProcessEnv, f: (ttl: number) => number): string | undefined {
  const raw = env['LEASE_TTL_MS'] || '10000';
  return /^\d{1,9}$/.test(raw.trim()) ? String(f(Number(raw))) : undefined;
}

const ALL: readonly Role[] = ROLES;
const PODS: readonly Role[] = ['gateway', 'http'];
const SERVERS: readonly Role[] = ['gateway', 'http', 'sim'];

export const ENV = {
  REDIS_URL: { schema: url(['redis:', 'rediss:']), def: 'redis://127.0.0.1:6379', roles: ['gateway', 'http', 'admin', 'demo'], doc: 'Redis (leases, members, events). Must run with maxmemory-policy noeviction.' },
  DATABASE_URL: { schema: url(['postgres:', 'postgresql:']), def: 'postgres://postgres@127.0.0.1:5432/postgres', roles: ['gateway', 'http', 'admin', 'demo'], doc: 'Postgres: the durable assignment store and source of fencing epochs.' },
  DATABASE_SCHEMA: { schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier'), def: 'leasehold', roles: ['gateway', 'http', 'admin', 'demo'], doc: 'Postgres schema that holds leasehold\'s tables (created if missing).' },
  KEY_PREFIX: { schema: z.string().regex(/^[A-Za-z0-9:_.-]{1,32}$/, 'expected 1–32 characters of [A-Za-z0-9:_.-]'), def: 'lh:', roles: ['gateway', 'http', 'admin', 'demo'], doc: 'Prefix of every Redis key.' },
  LOG_LEVEL: { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), def: 'info', roles: ALL, doc: 'pino log level.' },
  POD_ID: { schema: podId, def: () => hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63), roles: PODS, doc: 'Member id (default: host name; a StatefulSet pod name in Kubernetes). A second live process with the same id refuses to start.' },
  PORT: { schema: intIn(0, 65535), def: '0', roles: SERVERS, doc: 'HTTP port; 0 picks a free one (the listening log line says which).' },
  HOST: { schema: z.string().trim().min(1), def: () => (inContainer() ? '0.0.0.0' : '127.0.0.1'), roles: SERVERS, doc: 'Bind address (127.0.0.1, or 0.0.0.0 in Kubernetes; the image sets 0.0.0.0).' },
  ADVERTISE_ADDR: { schema: hostPort, roles: SERVERS, doc: 'host:port other pods use to reach this one. Default HOST:PORT; required when HOST is a wildcard.' },
  LEASE_TTL_MS: { schema: intIn(500, 600_000), def: '10000', roles: ['gateway', 'admin'], doc: 'Lease TTL; member keys use the same TTL.' },
  RENEW_EVERY_MS: { schema: intIn(50, 300_000), def: (env) => fromTtl(env, (ttl) => Math.floor(ttl / 3)), roles: ['gateway'], doc: 'Renew period (default TTL/3).' },
  LEASE_MARGIN_MS: { schema: intIn(0, 60_000), def: (env) => fromTtl(env, (ttl) => Math.max(100, Math.floor(ttl / 10))), roles: ['gateway'], doc: 'Safety margin subtracted from a lease\'s local deadline (default TTL/10, at least 100 ms).' },
  RECONCILE_EVERY_MS: { schema: intIn(100, 600_000), def: '30000', roles: ['gateway', 'http'], doc: 'Period of the full reconcile (a SCAN of every lease key) that backs up the event stream; changes made with redis-cli alone are seen within it. Every pod runs its own, so Redis SCANs (pods / period) times all lease keys per second: the largest Redis cost at 100k guilds if short.' },
  RING_VNODES: { schema: intIn(1, 4096), def: '2000', roles: ['gateway', 'http', 'admin'], doc: 'Virtual nodes per gateway on the ring; every pod must agree (`lh:ring`).' },
  EVENTS_MAXLEN: { schema: intIn(100, 10_000_000), def: '100000', roles: ['gateway', 'http', 'admin'], doc: 'Approximate cap of the `lh:events` stream.' },
  DISCORD_TOKEN: { schema: z.string().trim().min(1, 'expected the bot token'), roles: ['gateway'], requiredFor: ['gateway'], doc: 'Bot token.' },
  DISCORD_API_URL: { schema: url(['http:', 'https:']), def: 'https://discord.com/api', roles: ['gateway', 'http'], doc: 'REST base passed to discord.js `rest.api` (the stand-in prints its own).' },
  SHARD_COUNT: { schema: intIn(0, 4096), def: '0', roles: ['gateway'], doc: 'Shards; 0 asks `/gateway/bot` for the recommended count.' },
  DISCORD_APPLICATION_ID: { schema: snowflake, roles: ['gateway', 'http'], requiredFor: ['gateway', 'http'], doc: 'The application id.' },
  DISCORD_PUBLIC_KEY: { schema: hex64, roles: ['gateway', 'http'], requiredFor: ['http'], doc: 'The Ed25519 public key that signs interactions (hex).' },
  DATA_DIR: { schema: z.string().trim().min(1), def: './data', roles: ['gateway'], doc: 'Guild SQLite files live in DATA_DIR/guilds/.' },
  REPLICA_URL: { schema: url(['file:', 's3:']), def: () => pathToFileURL(resolve('replicas')).href, roles: ['gateway', 'admin'], doc: 'Replica root every gateway shares: s3://bucket/prefix in production; file:///path when all gateways share a disk (default ./replicas, not under DATA_DIR, so local gateways can restore each other\'s guilds).' },
  INTERNAL_SECRET: { schema: list, roles: ['gateway', 'http', 'admin'], requiredFor: ['gateway', 'http'], doc: 'Signs edge → gateway requests (and `admin restore`). Comma-separated for rotation; the first signs, all verify.' },
  ADMIN_TOKEN: { schema: list, roles: ['http', 'admin'], requiredFor: ['http'], doc: 'Bearer token(s) of the admin API. Comma-separated for rotation.' },
  IDENTIFY_BUDGET_FLOOR: { schema: intIn(0, 100_000), def: '100', roles: ['gateway'], doc: 'Stop identifying when this many of Discord\'s daily session starts remain (a crash loop cannot spend the rest).' },
  IDENTIFY_WINDOW_MS: { schema: intIn(100, 60_000), def: '5000', roles: ['gateway'], doc: 'Discord\'s identify window per max_concurrency bucket (5 s on Discord; the stand-in can be told a shorter one).' },
  DISCORD_GLOBAL_RATE_LIMIT: { schema: intIn(1, 100_000), def: '50', roles: ['gateway'], doc: 'REST requests per second all gateways together may send (Discord\'s global limit per bot: 50, more for large bots; the stand-in can be told another).' },
  GUILD_RETENTION_MS: { schema: intIn(1000, 31_536_000_000), def: '2592000000', roles: ['gateway'], doc: 'How long a guild the bot was removed from keeps its data (file, replicas) before it is deleted; rejoining stops the clock. Default 30 days.' },
  RETENTION_SWEEP_EVERY_MS: { schema: intIn(100, 86_400_000), def: '3600000', roles: ['gateway'], doc: 'Period of the job that deletes the data of guilds left longer than GUILD_RETENTION_MS (one pod at a time).' },
  EVENT_BUFFER_MAX_BYTES: { schema: intIn(1_048_576, 17_179_869_184), def: '268435456', roles: ['gateway'], doc: 'Memory bound of the failover replay buffer (every guild dispatch of the last TTL + lag + restore time).' },
  LITESTREAM_MONITOR_INTERVAL_MS: { schema: intIn(50, 60_000), def: '1000', roles: ['gateway'], doc: 'How often Litestream copies each guild\'s WAL and ships it: replication lag is about this long.' },
  LITESTREAM_NICE: { schema: intIn(0, 19), def: '5', roles: ['gateway'], doc: 'Scheduling niceness of the Litestream replicate processes. Under CPU contention the gateway (lease renewals, events, restores after a failover) runs first and replication lags instead (leasehold_replication_lag_seconds); 0 = same priority.' },
  LITESTREAM_GROUP_SIZE: { schema: intIn(2, 5000), def: '200', roles: ['gateway'], doc: 'Most guilds per Litestream process. Arrivals fill new processes of a quarter of this, guilds leaving restart none, and a quiet pod merges small ones (a Litestream start costs ~4.5 ms CPU per guild in it).' },
  GUILD_IDLE_CLOSE_MS: { schema: intIn(1000, 86_400_000), def: '600000', roles: ['gateway'], doc: 'Close a guild database unused this long (after Litestream synced it); it reopens on demand.' },
  RESTORE_CONCURRENCY: { schema: intIn(1, 256), def: '8', roles: ['gateway'], doc: 'Restores from replicas running at once after a failover (guilds with buffered events first).' },
  RESTORE_READ_THREADS: { schema: intIn(0, 64), def: '2', roles: ['gateway'], doc: 'Worker threads that read local-directory replicas during restores, off the event loop (0 = read on the event loop).' },
  DRAIN_TIMEOUT_MS: { schema: intIn(0, 3_600_000), def: '60000', roles: ['gateway'], doc: 'How long a SIGTERM drain may take before the pod exits anyway.' },
  STRICT_EVICTION_POLICY: { schema: boolish, def: 'false', roles: ['gateway', 'http'], doc: 'Refuse to start when Redis maxmemory-policy is not noeviction (default: warn and export a metric).' },
} as const satisfies Record<string, VarSpec>;

export type EnvName = keyof typeof ENV;
type Parsed<K extends EnvName> = z.output<(typeof ENV)[K]['schema']>;

export interface BaseConfig {
  readonly role: Role;
  readonly logLevel: Parsed<'LOG_LEVEL'>;
}
export interface StoreConfig {
  readonly redisUrl: string;
  readonly databaseUrl: string;
  readonly databaseSchema: string;
  readonly keyPrefix: string;
}
export interface ServerConfig {
  readonly port: number;
  readonly host: string;
  /** Undefined until the server listens when PORT=0 and no ADVERTISE_ADDR was given. */
  readonly advertiseAddr: string | undefined;
}
export interface RingConfig {
  readonly ringVnodes: number;
  readonly eventsMaxLen: number;
}
export interface GatewayConfig extends BaseConfig, StoreConfig, ServerConfig, RingConfig {
  readonly role: 'gateway';
  readonly podId: string;
  readonly leaseTtlMs: number;
  readonly renewEveryMs: number;
  readonly leaseMarginMs: number;
  readonly reconcileEveryMs: number;
  readonly discordToken: string;
  readonly discordApiUrl: string;
  readonly shardCount: number;
  readonly applicationId: string;
  readonly publicKey: string | undefined;
  readonly dataDir: string;
  readonly replicaUrl: string;
  readonly internalSecrets: readonly string[];
  readonly drainTimeoutMs: number;
  readonly identifyBudgetFloor: number;
  readonly identifyWindowMs: number;
  readonly eventBufferMaxBytes: number;
  readonly strictEvictionPolicy: boolean;
  readonly discordGlobalRateLimit: number;
  readonly guildRetentionMs: number;
  readonly retentionSweepEveryMs: number;
  readonly litestreamMonitorIntervalMs: number;
  readonly litestreamNice: number;
  readonly litestreamGroupSize: number;
  readonly guildIdleCloseMs: number;
  readonly restoreConcurrency: number;
  readonly restoreReadThreads: number;
}
export interface HttpConfig extends BaseConfig, StoreConfig, ServerConfig, RingConfig {
  readonly role: 'http';
  readonly podId: string;
  readonly reconcileEveryMs: number;
  readonly discordApiUrl: string;
  readonly applicationId: string;
  readonly publicKey: string;
  readonly internalSecrets: readonly string[];
  readonly adminTokens: readonly string[];
  readonly strictEvictionPolicy: boolean;
}
export interface AdminConfig extends BaseConfig, StoreConfig, RingConfig {
  readonly role: 'admin';
  readonly leaseTtlMs: number;
  readonly replicaUrl: string;
  /** Only `admin restore` needs it (it calls the owner's internal API). */
  readonly internalSecrets: readonly string[];
}
export interface SimConfig extends BaseConfig, ServerConfig {
  readonly role: 'sim';
}
export interface DemoConfig extends BaseConfig, StoreConfig {
  readonly role: 'demo';
}
export interface ConfigByRole {
  gateway: GatewayConfig;
  http: HttpConfig;
  admin: AdminConfig;
  sim: SimConfig;
  demo: DemoConfig;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);

/** Parse the variables `role` reads. Throws ConfigError listing every bad variable at once. */
export function loadConfig<R extends Role>(role: R, env: NodeJS.ProcessEnv = process.env): ConfigByRole[R] {
  const problems: { variable: string; message: string }[] = [];
  const values: Partial<Record<EnvName, unknown>> = {};
  for (const [name, spec] of Object.entries(ENV) as [EnvName, VarSpec][]) {
    if (!spec.roles.includes(role)) continue;
    const given = env[name];
    const raw = given !== undefined && given !== '' ? given : typeof spec.def === 'function' ? spec.def(env) : spec.def;
    if (raw === undefined) {
      if (spec.requiredFor?.includes(role)) problems.push({ variable: name, message: `is required (${spec.doc})` });
      continue;
    }
    const result = spec.schema.safeParse(raw);
    if (result.success) values[name] = result.data;
    else problems.push({ variable: name, message: `${result.error.issues.map((i) => i.message).join('; ')} (got ${JSON.stringify(redact(name, raw))})` });
  }
  if (role === 'gateway' && values.RENEW_EVERY_MS !== undefined && values.LEASE_TTL_MS !== undefined) {
    const ttl = values.LEASE_TTL_MS as number;
    if ((values.RENEW_EVERY_MS as number) * 2 > ttl)
      problems.push({ variable: 'RENEW_EVERY_MS', message: `must be at most half of LEASE_TTL_MS (${ttl}) so one missed renew does not lose every lease` });
    if ((values.LEASE_MARGIN_MS as number) * 2 >= ttl)
      problems.push({ variable: 'LEASE_MARGIN_MS', message: `must be less than half of LEASE_TTL_MS (${ttl})` });
  }
  let advertiseAddr = values.ADVERTISE_ADDR as string | undefined;
  if (SERVERS.includes(role) && advertiseAddr === undefined && values.HOST !== undefined) {
    const host = values.HOST as string;
    if (WILDCARDS.has(host)) {
      problems.push({ variable: 'ADVERTISE_ADDR', message: `is required when HOST is a wildcard (${host}): other pods cannot reach a wildcard address` });
    } else if ((values.PORT as number) !== 0) {
      advertiseAddr = `${host.includes(':') ? `[${host}]` : host}:${values.PORT as number}`;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const v = <K extends EnvName>(k: K) => values[k] as Parsed<K>;
  const base = { role, logLevel: v('LOG_LEVEL') };
  const store = { redisUrl: v('REDIS_URL'), databaseUrl: v('DATABASE_URL'), databaseSchema: v('DATABASE_SCHEMA'), keyPrefix: v('KEY_PREFIX') };
  const server = { port: v('PORT'), host: v('HOST'), advertiseAddr };
  const ring = { ringVnodes: v('RING_VNODES'), eventsMaxLen: v('EVENTS_MAXLEN') };
  const byRole: { [K in Role]: () => ConfigByRole[K] } = {
    gateway: () => ({
      ...base, ...store, ...server, ...ring, role: 'gateway',
      podId: v('POD_ID'), leaseTtlMs: v('LEASE_TTL_MS'), renewEveryMs: v('RENEW_EVERY_MS'), leaseMarginMs: v('LEASE_MARGIN_MS'),
      reconcileEveryMs: v('RECONCILE_EVERY_MS'), discordToken: v('DISCORD_TOKEN'), discordApiUrl: v('DISCORD_API_URL'),
      shardCount: v('SHARD_COUNT'), applicationId: v('DISCORD_APPLICATION_ID'), publicKey: values.DISCORD_PUBLIC_KEY as string | undefined,
      dataDir: v('DATA_DIR'), replicaUrl: v('REPLICA_URL'), internalSecrets: v('INTERNAL_SECRET'), drainTimeoutMs: v('DRAIN_TIMEOUT_MS'),
      identifyBudgetFloor: v('IDENTIFY_BUDGET_FLOOR'), identifyWindowMs: v('IDENTIFY_WINDOW_MS'), eventBufferMaxBytes: v('EVENT_BUFFER_MAX_BYTES'), strictEvictionPolicy: v('STRICT_EVICTION_POLICY'),
      discordGlobalRateLimit: v('DISCORD_GLOBAL_RATE_LIMIT'), guildRetentionMs: v('GUILD_RETENTION_MS'), retentionSweepEveryMs: v('RETENTION_SWEEP_EVERY_MS'),
      litestreamMonitorIntervalMs: v('LITESTREAM_MONITOR_INTERVAL_MS'), litestreamGroupSize: v('LITESTREAM_GROUP_SIZE'), litestreamNice: v('LITESTREAM_NICE'), guildIdleCloseMs: v('GUILD_IDLE_CLOSE_MS'), restoreConcurrency: v('RESTORE_CONCURRENCY'), restoreReadThreads: v('RESTORE_READ_THREADS'),
    }),
    http: () => ({
      ...base, ...store, ...server, ...ring, role: 'http',
      podId: v('POD_ID'), reconcileEveryMs: v('RECONCILE_EVERY_MS'), discordApiUrl: v('DISCORD_API_URL'),
      applicationId: v('DISCORD_APPLICATION_ID'), publicKey: v('DISCORD_PUBLIC_KEY'), internalSecrets: v('INTERNAL_SECRET'),
      adminTokens: v('ADMIN_TOKEN'), strictEvictionPolicy: v('STRICT_EVICTION_POLICY'),
    }),
    admin: () => ({ ...base, ...store, ...ring, role: 'admin', leaseTtlMs: v('LEASE_TTL_MS'), replicaUrl: v('REPLICA_URL'), internalSecrets: v('INTERNAL_SECRET') }),
    sim: () => ({ ...base, ...server, role: 'sim' }),
    demo: () => ({ ...base, ...store, role: 'demo' }),
  };
  return Object.freeze(byRole[role]()) as ConfigByRole[R];
}

function redact(name: string, raw: string): string {
  return /SECRET|TOKEN|PASSWORD/.test(name) ? `<${raw.length} characters>` : raw.length > 80 ? `${raw.slice(0, 77)}...` : raw;
}

/** The variables a role reads, for `leasehold <role> --help` and the README table. */
export function envHelp(role?: Role): string {
  const rows = (Object.entries(ENV) as [EnvName, VarSpec][]).filter(([, s]) => role === undefined || s.roles.includes(role));
  const width = Math.max(...rows.map(([n]) => n.length));
  return rows
    .map(([name, s]) => {
      const def = s.requiredFor?.includes(role as Role) ? 'required' : typeof s.def === 'string' ? `default ${s.def === '' ? '""' : s.def}` : s.def ? 'derived default' : 'optional';
      return `  ${name.padEnd(width)}  ${s.doc} (${def})`;
    })
    .join('\n');
}

/** Markdown table of every variable, for README.md (a test keeps the README in step). */
export function envMarkdown(): string {
  const lines = ['| variable | roles | default | meaning |', '| --- | --- | --- | --- |'];
  for (const [name, s] of Object.entries(ENV) as [EnvName, VarSpec][]) {
    const def = s.requiredFor && s.requiredFor.length > 0 ? `required for ${s.requiredFor.join(', ')}` : typeof s.def === 'string' ? `\`${s.def}\`` : s.def ? 'derived' : '—';
    lines.push(`| \`${name}\` | ${s.roles.join(', ')} | ${def} | ${s.doc.replace(/\|/g, '\\|')} |`);
  }
  return lines.join('\n');
}
