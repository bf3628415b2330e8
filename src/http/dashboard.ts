// What a gateway's `GET /internal/guilds/:guildId/dashboard` returns (docs/internal-api.md),
// validated at the edge: a reply from another pod is input like any other.
import { z } from 'zod';

const count = z.number().int().nonnegative();
const id = z.string().max(32);
const when = z.union([z.number(), z.string()]).transform((v) => (typeof v === 'number' ? v : Date.parse(v))).pipe(z.number().finite());

const schema = z.object({
  activity: z
    .object({
      total: count.optional(),
      days: z.array(z.object({ day: z.string().max(10), messages: count })).max(400).optional(),
      channels: z.array(z.object({ id, name: z.string().max(100).optional(), messages: count })).max(500).optional(),
      users: z.array(z.object({ id, name: z.string().max(100).optional(), messages: count })).max(500).optional(),
    })
    .default({}),
  reports: z
    .array(
      z.object({
        id: z.string().max(64),
        messageId: id.optional(),
        channelId: id.optional(),
        authorId: id.optional(),
        reporterId: id.optional(),
        reason: z.string().max(2000).optional(),
        createdAt: when.optional(),
      }),
    )
    .max(1000)
    .default([]),
  settings: z
    .object({
      moderatorRoleId: id.nullish(),
      logChannelId: id.nullish(),
      alertKeywords: z.array(z.string().max(100)).max(200).optional(),
    })
    .nullish(),
  replicationLagSeconds: z.number().nonnegative().optional(),
});

export type GuildDashboard = z.output<typeof schema>;

/** The dashboard, or a message saying what is wrong with the gateway's reply. */
export function parseDashboard(body: unknown): { ok: true; value: GuildDashboard } | { ok: false; message: string } {
  const r = schema.safeParse(body);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  return { ok: false, message: `dashboard reply: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}` };
}

/** `GET /internal/status`: what a gateway says about itself (replication lag for the portal). */
export function parsePodStatus(body: unknown): { replicationLagSeconds: number | undefined } {
  const r = z.object({ replicationLagSeconds: z.number().nonnegative().nullish() }).safeParse(body);
  return { replicationLagSeconds: r.success ? (r.data.replicationLagSeconds ?? undefined) : undefined };
}
