// Activity tracking (DESIGN §8): MESSAGE_CREATE counted per channel, user and UTC day, and the
// stats /stats and the portal show.
import { sql, type Kysely } from 'kysely';
import type { GuildSchema } from './schema.js';

type Db = Kysely<GuildSchema>;

/** UTC day of a wall-clock time, the activity table's bucket. */
export function activityDay(wallMs: number): string {
  return new Date(wallMs).toISOString().slice(0, 10);
}

export async function countMessage(db: Db, m: { channelId: string; userId: string; day: string; by?: number }): Promise<void> {
  const by = m.by ?? 1;
  await db
    .insertInto('activity')
    .values({ channel_id: m.channelId, user_id: m.userId, day: m.day, count: by })
    .onConflict((oc) => oc.columns(['channel_id', 'user_id', 'day']).doUpdateSet({ count: sql<number>`count + ${by}` }))
    .execute();
}

export interface ActivityStats {
  readonly total: number;
  readonly byChannel: readonly { channelId: string; count: number }[];
  readonly topUsers: readonly { userId: string; count: number }[];
  readonly byDay: readonly { day: string; count: number }[];
}

/** Totals since `sinceDay` (inclusive, `YYYY-MM-DD`; all time when omitted). */
export async function activityStats(db: Db, opts: { sinceDay?: string; top?: number } = {}): Promise<ActivityStats> {
  const since = opts.sinceDay ?? '0000-00-00';
  const top = opts.top ?? 10;
  const total = await db.selectFrom('activity').select((eb) => eb.fn.coalesce(eb.fn.sum<number>('count'), sql<number>`0`).as('n')).where('day', '>=', since).executeTakeFirstOrThrow();
  const byChannel = await db
    .selectFrom('activity')
    .select(['channel_id', (eb) => eb.fn.sum<number>('count').as('n')])
    .where('day', '>=', since)
    .groupBy('channel_id')
    .orderBy('n', 'desc')
    .execute();
  const topUsers = await db
    .selectFrom('activity')
    .select(['user_id', (eb) => eb.fn.sum<number>('count').as('n')])
    .where('day', '>=', since)
    .groupBy('user_id')
    .orderBy('n', 'desc')
    .limit(top)
    .execute();
  const byDay = await db
    .selectFrom('activity')
    .select(['day', (eb) => eb.fn.sum<number>('count').as('n')])
    .where('day', '>=', since)
    .groupBy('day')
    .orderBy('day')
    .execute();
  return {
    total: Number(total.n),
    byChannel: byChannel.map((r) => ({ channelId: r.channel_id, count: Number(r.n) })),
    topUsers: topUsers.map((r) => ({ userId: r.user_id, count: Number(r.n) })),
    byDay: byDay.map((r) => ({ day: r.day, count: Number(r.n) })),
  };
}
