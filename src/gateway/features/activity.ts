// Activity tracking: every guild message counted per channel, user and day; /stats answers it.
import { activityDay, activityStats, countMessage } from '../../guild-data/activity.js';
import type { Feature } from './types.js';
import { reply } from './reply.js';

export const activity: Feature = {
  name: 'activity',
  async onMessage(ctx, m) {
    if (m.author.bot) return;
    await countMessage(ctx.db, { channelId: m.channel_id, userId: m.author.id, day: activityDay(ctx.at) });
  },
  commands: {
    async stats(ctx) {
      const s = await activityStats(ctx.db, { top: 5 });
      if (s.total === 0) return reply('No messages counted yet.');
      const channels = s.byChannel.slice(0, 5).map((c) => `<#${c.channelId}> ${c.count}`).join(', ');
      const users = s.topUsers.map((u) => `<@${u.userId}> ${u.count}`).join(', ');
      return reply(`**${s.total}** messages counted.\nTop channels: ${channels}\nTop members: ${users}`);
    },
  },
};
