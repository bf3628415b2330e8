// Table types of one guild's SQLite database (Kysely's compile-time schema). Times are wall-clock
// milliseconds; JSON columns are text.
import type { ColumnType, Generated } from 'kysely';

export interface MetaTable {
  key: string;
  value: string;
}

/** MESSAGE_CREATE counts per channel, user and UTC day (`YYYY-MM-DD`). */
export interface ActivityTable {
  channel_id: string;
  user_id: string;
  day: string;
  count: number;
}

/** One row (id = 1): what /setup stored. */
export interface SettingsTable {
  id: ColumnType<1, 1, never>;
  moderator_role_id: string | null;
  log_channel_id: string | null;
  /** JSON array of strings. */
  alert_keywords: string;
  updated_at: number;
}

export type ReportStatus = 'open' | 'resolved' | 'dismissed';

export interface ReportsTable {
  id: Generated<number>;
  message_id: string;
  channel_id: string;
  reporter_id: string;
  target_id: string;
  reason: string;
  status: ReportStatus;
  created_at: number;
}

/** Keys of events already applied (DESIGN §8): an event is applied at most once per guild. */
export interface DedupeTable {
  key: string;
  applied_at: number;
  epoch: number;
}

/** Side effects written in the same transaction as the state change, sent from here. */
export interface OutboxTable {
  id: Generated<number>;
  dedupe_key: string;
  kind: string;
  /** JSON. */
  payload: string;
  nonce: string;
  created_at: number;
  sent_at: number | null;
  attempts: Generated<number>;
  last_error: string | null;
}

export interface GuildSchema {
  meta: MetaTable;
  activity: ActivityTable;
  settings: SettingsTable;
  reports: ReportsTable;
  dedupe: DedupeTable;
  outbox: OutboxTable;
}
