// Message reports (DESIGN §8): stored by the "Report message" command, listed by /reports.
import type { Kysely, Selectable } from 'kysely';
import type { GuildSchema, ReportStatus, ReportsTable } from './schema.js';

type Db = Kysely<GuildSchema>;

export interface Report {
  readonly id: number;
  readonly messageId: string;
  readonly channelId: string;
  readonly reporterId: string;
  readonly targetId: string;
  readonly reason: string;
  readonly status: ReportStatus;
  readonly createdAt: number;
}

const toReport = (r: Selectable<ReportsTable>): Report => ({
  id: r.id,
  messageId: r.message_id,
  channelId: r.channel_id,
  reporterId: r.reporter_id,
  targetId: r.target_id,
  reason: r.reason,
  status: r.status,
  createdAt: r.created_at,
});

export async function createReport(db: Db, r: Omit<Report, 'id' | 'status'>): Promise<Report> {
  const row = await db
    .insertInto('reports')
    .values({ message_id: r.messageId, channel_id: r.channelId, reporter_id: r.reporterId, target_id: r.targetId, reason: r.reason, status: 'open', created_at: r.createdAt })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toReport(row);
}

export async function listReports(db: Db, opts: { status?: ReportStatus; limit?: number } = {}): Promise<Report[]> {
  let q = db.selectFrom('reports').selectAll().orderBy('id', 'desc').limit(opts.limit ?? 25);
  if (opts.status) q = q.where('status', '=', opts.status);
  return (await q.execute()).map(toReport);
}

export async function setReportStatus(db: Db, id: number, status: ReportStatus): Promise<boolean> {
  const r = await db.updateTable('reports').set({ status }).where('id', '=', id).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
