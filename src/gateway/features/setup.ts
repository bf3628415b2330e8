// /setup stores the moderator role, the log channel and the alert keywords; keyword alerts post
// to the log channel when a message contains one.
import { ApplicationCommandOptionType, type APIApplicationCommandInteractionDataOption, type APIInteraction } from 'discord-api-types/v10';
import { getSettings, matchingKeywords, saveSettings } from '../../guild-data/settings.js';
import type { Feature } from './types.js';
import { reply } from './reply.js';

function options(i: APIInteraction): Map<string, string> {
  const data = (i as { data?: { options?: APIApplicationCommandInteractionDataOption[] } }).data;
  const out = new Map<string, string>();
  for (const o of data?.options ?? []) {
    if (o.type === ApplicationCommandOptionType.String || o.type === ApplicationCommandOptionType.Role || o.type === ApplicationCommandOptionType.Channel) out.set(o.name, String(o.value));
  }
  return out;
}

export const setup: Feature = {
  name: 'setup',
  async onMessage(ctx, m) {
    if (m.author.bot || !m.content) return;
    const settings = await getSettings(ctx.db);
    const hits = matchingKeywords(settings, m.content);
    if (hits.length === 0 || !settings.logChannelId) return;
    ctx.send({ channelId: settings.logChannelId, content: `Alert (${hits.join(', ')}) from <@${m.author.id}> in <#${m.channel_id}>: https://discord.com/channels/${ctx.guildId}/${m.channel_id}/${m.id}` });
  },
  commands: {
    async setup(ctx, i) {
      const o = options(i);
      const keywords = o.get('alert_keywords');
      const s = await saveSettings(
        ctx.db,
        {
          ...(o.has('moderator_role') ? { moderatorRoleId: o.get('moderator_role') ?? null } : {}),
          ...(o.has('log_channel') ? { logChannelId: o.get('log_channel') ?? null } : {}),
          ...(keywords !== undefined ? { alertKeywords: keywords.split(',').map((k) => k.trim()).filter((k) => k.length > 0) } : {}),
        },
        ctx.at,
      );
      return reply(
        `Saved. Moderator role: ${s.moderatorRoleId ? `<@&${s.moderatorRoleId}>` : 'none'}; log channel: ${s.logChannelId ? `<#${s.logChannelId}>` : 'none'}; alert keywords: ${s.alertKeywords.length ? s.alertKeywords.join(', ') : 'none'}.`,
        { ephemeral: true },
      );
    },
  },
};
