// Table types of the Postgres assignment store (Kysely's compile-time schema).
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** pg returns bigint as string; epochs stay far below 2^53, so the store converts to number. */
type BigIntCol = ColumnType<string, number | string, number | string>;

export interface PodsTable {
  pod_id: string;
  role: string;
  addr: string;
  version: string;
  first_seen: Timestamp;
  last_seen: Timestamp;
}

export interface GuildAssignmentsTable {
  guild_id: string;
  owner: string | null;
  epoch: BigIntCol;
  data_epoch: ColumnType<string | null, number | string | null | undefined, number | string | null>;
  pinned_to: string | null;
  /** When the bot was removed from the guild (the retention clock); null while it is in it. */
  left_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** When a left guild's data was deleted after the retention. */
  purged_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  state: ColumnType<'active' | 'released' | 'left', 'active' | 'released' | 'left' | undefined, 'active' | 'released' | 'left'>;
  updated_at: Timestamp;
}

export interface AssignmentLogTable {
  id: Generated<string>;
  at: Timestamp;
  guild_id: string;
  kind: string;
  owner: string | null;
  epoch: ColumnType<string | null, number | string | null | undefined, never>;
  data_epoch: ColumnType<string | null, number | string | null | undefined, never>;
  from_owner: string | null;
  detail: ColumnType<unknown, string | undefined, never>;
}

export interface CordonsTable {
  pod_id: string;
  reason: string;
  at: Timestamp;
}

export interface StoreSchema {
  pods: PodsTable;
  guild_assignments: GuildAssignmentsTable;
  assignment_log: AssignmentLogTable;
  cordons: CordonsTable;
}
