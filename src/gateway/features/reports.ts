// "Report message" (message context command) stores a report and posts it to the log channel;
// /reports lists the open ones.
import type { APIMessageApplicationCommandInteraction, APIInteraction } from 'discord-api-types/v10';
import { createReport, listReports } from '../../guild-data/reports.js';
import { getSettings } from '../../guild-data/settings.js';
import type { Feature } from './types.js';
import { reply } from './reply.js';

export const reports: Feature = {
  name: 'reports',
  commands: {
    async 'Report message'(ctx, i: APIInteraction) {
      const mi = i as APIMessageApplicationCommandInteraction;
      const target = mi.data.resolved.messages[mi.data.target_id];
      const reporter = mi.member?.user.id ?? mi.user?.id ?? 'unknown';
      const report = await createReport(ctx.db, {
        messageId: mi.data.target_id,
        channelId: target?.channel_id ?? mi.channel?.id ?? '',
        reporterId: reporter,
        targetId: target?.author.id ?? 'unknown',
        reason: (target?.content ?? '').slice(0, 500),
        createdAt: ctx.at,
      });
      const settings = await getSettings(ctx.db);
      if (settings.logChannelId) {
        ctx.send({ channelId: settings.logChannelId, content: `Report #${report.id} by <@${reporter}> on a message by <@${report.targetId}> in <#${report.channelId}>: ${report.reason || '(no text)'}` });
      }
      return reply(`Thanks, report #${report.id} was filed${settings.logChannelId ? ' and posted to the moderators' : ''}.`, { ephemeral: true });
    },
    async reports(ctx) {
      const open = await listReports(ctx.db, { status: 'open', limit: 10 });
      if (open.length === 0) return reply('No open reports.', { ephemeral: true });
      return reply(open.map((r) => `#${r.id} <@${r.targetId}> in <#${r.channelId}>: ${r.reason.slice(0, 100) || '(no text)'}`).join('\n'), { ephemeral: true });
    },
  },
};
