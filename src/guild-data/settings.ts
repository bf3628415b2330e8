// Guild settings stored by /setup (DESIGN §8): moderator role, log channel, alert keywords.
import type { Kysely } from 'kysely';
import type { GuildSchema } from './schema.js';

type Db = Kysely<GuildSchema>;

export interface GuildSettings {
  readonly moderatorRoleId: string | null;
  readonly logChannelId: string | null;
  readonly alertKeywords: readonly string[];
  readonly updatedAt: number | null;
}

export const defaultSettings: GuildSettings = { moderatorRoleId: null, logChannelId: null, alertKeywords: [], updatedAt: null };

export async function getSettings(db: Db): Promise<GuildSettings> {
  const r = await db.selectFrom('settings').selectAll().where('id', '=', 1).executeTakeFirst();
  if (!r) return defaultSettings;
  const kw = JSON.parse(r.alert_keywords) as unknown;
  return {
    moderatorRoleId: r.moderator_role_id,
    logChannelId: r.log_channel_id,
    alertKeywords: Array.isArray(kw) ? kw.filter((k): k is string => typeof k === 'string') : [],
    updatedAt: r.updated_at,
  };
}

/** Store the fields given; fields left undefined keep their stored value. */
export async function saveSettings(db: Db, s: { moderatorRoleId?: string | null; logChannelId?: string | null; alertKeywords?: readonly string[] }, updatedAt: number): Promise<GuildSettings> {
  const cur = await getSettings(db);
  const next = {
    moderator_role_id: s.moderatorRoleId === undefined ? cur.moderatorRoleId : s.moderatorRoleId,
    log_channel_id: s.logChannelId === undefined ? cur.logChannelId : s.logChannelId,
    alert_keywords: JSON.stringify(s.alertKeywords ?? cur.alertKeywords),
    updated_at: updatedAt,
  };
  await db
    .insertInto('settings')
    .values({ id: 1, ...next })
    .onConflict((oc) => oc.column('id').doUpdateSet(next))
    .execute();
  return getSettings(db);
}

/** The alert keywords a message's content contains (case-insensitive), in stored order. */
export function matchingKeywords(settings: GuildSettings, content: string): string[] {
  const text = content.toLowerCase();
  return settings.alertKeywords.filter((k) => k.length > 0 && text.includes(k.toLowerCase()));
}
