// One guild's ownership facts for the portal and the JSON API: the lease from Redis (the mirror
// when Redis is away), the data epoch from Postgres, pin and desired owner from the routing view.
import { AppError } from '../errors.js';
import { isSnowflake } from '../cluster/ids.js';
import type { ClusterClient } from '../cluster/client.js';
import type { AssignmentStore } from '../store/index.js';
import type { Logger } from '../log.js';
import type { RoutingView } from './routing-view.js';

export interface GuildFacts {
  readonly guildId: string;
  readonly lease: { readonly owner: string; readonly epoch: number; readonly since: number; readonly ttlMs: number } | undefined;
  /** Where the lease came from: Redis now, or the edge's mirror when Redis could not be read. */
  readonly leaseSource: 'redis' | 'mirror';
  readonly dataEpoch: number | null | undefined;
  readonly storeError: string | undefined;
  readonly pin: { readonly pod: string; readonly honoured: boolean } | undefined;
  readonly desiredOwner: string | undefined;
  /** leasehold has seen it: a lease, an epoch issued, a Postgres record or a pin. */
  readonly known: boolean;
}

export interface GuildFactsDeps {
  readonly cluster: ClusterClient;
  readonly store: AssignmentStore;
  readonly routing: RoutingView;
  readonly logger: Logger;
}

export function assertGuildId(guildId: string): void {
  if (!isSnowflake(guildId as unknown)) throw new AppError(400, 'BAD_GUILD_ID', `"${String(guildId).slice(0, 40)}" is not a guild id (a Discord snowflake: 17–20 digits)`);
}

export async function readGuildFacts(d: GuildFactsDeps, guildId: string): Promise<GuildFacts> {
  assertGuildId(guildId);
  const [redis, pg] = await Promise.all([
    d.cluster.leases.read(guildId).then(
      (s) => ({ ok: true as const, s }),
      (err: unknown) => {
        d.logger.warn({ err, guild: guildId }, 'reading the lease from Redis failed; using the mirror');
        return { ok: false as const };
      },
    ),
    d.store.getAssignment(guildId).then(
      (a) => ({ a, error: undefined }),
      (err: unknown) => ({ a: undefined, error: err instanceof Error ? err.message : String(err) }),
    ),
  ]);
  const desired = d.routing.table.desiredOwner(guildId);
  const pin = redis.ok ? redis.s.pin : d.routing.table.clusterView.pins.get(guildId);
  const honoured = pin !== undefined && d.routing.table.ringMembers.includes(pin);
  let lease: GuildFacts['lease'];
  if (redis.ok) {
    const l = redis.s.lease;
    lease = l ? { owner: l.owner, epoch: l.epoch, since: l.since, ttlMs: Math.max(0, redis.s.leasePttlMs) } : undefined;
  } else {
    const l = d.routing.table.lease(guildId);
    lease = l ? { owner: l.owner, epoch: l.epoch, since: l.since, ttlMs: 0 } : undefined;
  }
  const known = lease !== undefined || pin !== undefined || pg.a !== undefined || (redis.ok && redis.s.epochIssued !== undefined);
  return {
    guildId,
    lease,
    leaseSource: redis.ok ? 'redis' : 'mirror',
    dataEpoch: pg.error ? undefined : (pg.a?.dataEpoch ?? null),
    storeError: pg.error,
    pin: pin === undefined ? undefined : { pod: pin, honoured },
    desiredOwner: desired.owner,
    known,
  };
}
