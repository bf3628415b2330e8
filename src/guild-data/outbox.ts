// The per-guild side-effect outbox: rows written with the state change that caused them, sent
// later (with their nonce, so a resend after a crash or failover never posts twice).
import type { Kysely, Selectable } from 'kysely';
import type { GuildSchema, OutboxTable } from './schema.js';

type Db = Kysely<GuildSchema>;

/** A side effect an event handler asks for; the nonce comes from the event's dedupe key. */
export interface OutboxDraft {
  readonly kind: string;
  readonly payload: unknown;
  readonly nonce: string;
}

export interface OutboxRow {
  readonly id: number;
  readonly dedupeKey: string;
  readonly kind: string;
  readonly payload: unknown;
  readonly nonce: string;
  readonly createdAt: number;
  readonly sentAt: number | null;
  readonly attempts: number;
  readonly lastError: string | null;
}

function toRow(r: Selectable<OutboxTable>): OutboxRow {
  return {
    id: r.id,
    dedupeKey: r.dedupe_key,
    kind: r.kind,
    payload: JSON.parse(r.payload) as unknown,
    nonce: r.nonce,
    createdAt: r.created_at,
    sentAt: r.sent_at,
    attempts: r.attempts,
    lastError: r.last_error,
  };
}

export async function insertOutbox(db: Db, dedupeKey: string, drafts: readonly OutboxDraft[], createdAt: number): Promise<OutboxRow[]> {
  if (drafts.length === 0) return [];
  const rows = await db
    .insertInto('outbox')
    .values(drafts.map((d) => ({ dedupe_key: dedupeKey, kind: d.kind, payload: JSON.stringify(d.payload ?? null), nonce: d.nonce, created_at: createdAt })))
    .returningAll()
    .execute();
  return rows.map(toRow);
}

/** Unsent rows, oldest first. */
export async function pendingOutbox(db: Db, limit = 100): Promise<OutboxRow[]> {
  const rows = await db.selectFrom('outbox').selectAll().where('sent_at', 'is', null).orderBy('id').limit(limit).execute();
  return rows.map(toRow);
}

export async function outboxFor(db: Db, dedupeKey: string): Promise<OutboxRow[]> {
  const rows = await db.selectFrom('outbox').selectAll().where('dedupe_key', '=', dedupeKey).orderBy('id').execute();
  return rows.map(toRow);
}

/** Returns whether a pending row was marked (false: unknown id or already sent). */
export async function setSent(db: Db, id: number, sentAt: number): Promise<boolean> {
  const r = await db.updateTable('outbox').set({ sent_at: sentAt }).where('id', '=', id).where('sent_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function setFailed(db: Db, id: number, error: string): Promise<boolean> {
  const r = await db
    .updateTable('outbox')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: error.slice(0, 2000) }))
    .where('id', '=', id)
    .where('sent_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Delete sent rows older than `before` (wall ms). */
export async function pruneSentOutbox(db: Db, before: number): Promise<number> {
  const r = await db.deleteFrom('outbox').where('sent_at', 'is not', null).where('sent_at', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}
