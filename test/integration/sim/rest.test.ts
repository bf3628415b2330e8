// The stand-in's REST API: idempotent create message (nonce + enforce_nonce), Discord's error
// shape, rate-limit buckets and the global limit, and the calls the bot makes through discord.js.
import { afterEach, describe, expect, it } from 'vitest';
import type { Client, TextChannel } from 'discord.js';
import { ApplicationCommandType } from 'discord-api-types/v10';
import { startSim, type Sim } from '../../../src/sim/index.js';
import { readyClient, waitUntil } from './helpers.js';

const auth = { authorization: 'Bot test-token', 'content-type': 'application/json' };

describe('the stand-in REST API', () => {
  let sim: Sim | undefined;
  const clients: Client[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.destroy();
    await sim?.close();
    sim = undefined;
  });
  const firstChannel = (s: Sim) => {
    const g = s.state.guilds()[0];
    const c = g?.channelIds[0];
    if (!g || !c) throw new Error('no guild');
    return { guildId: g.id, channelId: c };
  };

  it('returns the first message for a repeated nonce with enforce_nonce and posts nothing new', async () => {
    sim = await startSim({ guilds: 1, identifyWindowMs: 0 });
    const client = await readyClient(sim);
    clients.push(client);
    const { channelId } = firstChannel(sim);
    const channel = (await client.channels.fetch(channelId)) as TextChannel;
    const first = await channel.send({ content: 'alert: keyword', nonce: 'evt-123#0', enforceNonce: true });
    const again = await channel.send({ content: 'alert: keyword (replayed by another pod)', nonce: 'evt-123#0', enforceNonce: true });
    expect(again.id).toBe(first.id);
    expect(again.content).toBe('alert: keyword');

    const effects = sim.log.effects().filter((e) => e.route === '/channels/:channel/messages');
    expect(effects.map((e) => ({ status: e.status, nonce: e.nonce, enforceNonce: e.enforceNonce, deduplicated: e.deduplicated, messageId: e.messageId }))).toEqual([
      { status: 200, nonce: 'evt-123#0', enforceNonce: true, deduplicated: false, messageId: first.id },
      { status: 200, nonce: 'evt-123#0', enforceNonce: true, deduplicated: true, messageId: first.id },
    ]);
    const created = sim.log.dispatches().filter((d) => d.type === 'MESSAGE_CREATE');
    expect(created.map((d) => d.key)).toEqual([`msg:${first.id}`]);
    expect(sim.state.counters().nonceDeduplicated).toBe(1);

    // Without enforce_nonce the nonce is only echoed: a repeat posts again.
    const loose1 = await channel.send({ content: 'loose', nonce: 'loose-1' });
    const loose2 = await channel.send({ content: 'loose', nonce: 'loose-1' });
    expect(loose2.id).not.toBe(loose1.id);
  });

  it('remembers a nonce for its window even after the message store forgot the message', async () => {
    sim = await startSim({ guilds: 1, messageCapacity: 5 });
    const { guildId, channelId } = firstChannel(sim);
    const send = async () => {
      const r = await fetch(`${sim!.restUrl}/v10/channels/${channelId}/messages`, { method: 'POST', headers: auth, body: JSON.stringify({ content: 'once', nonce: 'n-1', enforce_nonce: true }) });
      return (await r.json()) as { id: string };
    };
    const first = await send();
    for (let i = 0; i < 10; i++) sim.postMessage({ guildId, content: `filler ${i}` });
    expect(sim.state.message(first.id)).toBeUndefined();
    expect((await send()).id).toBe(first.id);
    expect(sim.log.effects().map((e) => e.deduplicated)).toEqual([false, true]);
  });

  it("answers unknown routes and objects in Discord's JSON error shape, with or without the version prefix", async () => {
    sim = await startSim({ guilds: 1 });
    const r1 = await fetch(`${sim.restUrl}/v10/nothing/here`, { headers: auth });
    expect(r1.status).toBe(404);
    expect(await r1.json()).toEqual({ message: '404: Not Found', code: 0 });
    const r2 = await fetch(`${sim.restUrl}/channels/123456789012345678/messages`, { method: 'POST', headers: auth, body: JSON.stringify({ content: 'x' }) });
    expect(r2.status).toBe(404);
    expect(await r2.json()).toEqual({ message: 'Unknown Channel', code: 10003 });
    const r3 = await fetch(`${sim.restUrl}/gateway/bot`, { headers: auth });
    expect(r3.status).toBe(200);
    expect(await r3.json()).toMatchObject({ url: sim.gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 1000, max_concurrency: 1 } });
    const r4 = await fetch(`${sim.restUrl}/v10/users/@me`);
    expect(r4.status).toBe(401);
    expect(await r4.json()).toEqual({ message: '401: Unauthorized', code: 0 });
    const { channelId } = firstChannel(sim);
    const r5 = await fetch(`${sim.restUrl}/v10/channels/${channelId}/messages`, { method: 'POST', headers: auth, body: '{"content": ' });
    expect(await r5.json()).toEqual({ message: 'The request body contains invalid JSON.', code: 50109 });
    const r6 = await fetch(`${sim.restUrl}/v10/channels/${channelId}/messages`, { method: 'POST', headers: auth, body: JSON.stringify({ content: '' }) });
    expect(await r6.json()).toEqual({ message: 'Cannot send an empty message', code: 50006 });
  });

  it('limits a route per major parameter with the X-RateLimit headers, and answers 429 with retry_after', async () => {
    sim = await startSim({ guilds: 1, routeLimits: { createMessage: { limit: 3, windowMs: 60_000 } } });
    const { channelId } = firstChannel(sim);
    const post = () => fetch(`${sim!.restUrl}/v10/channels/${channelId}/messages`, { method: 'POST', headers: auth, body: JSON.stringify({ content: 'x' }) });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await post());
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(answers.map((r) => r.headers.get('x-ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
    expect(new Set(answers.map((r) => r.headers.get('x-ratelimit-bucket'))).size).toBe(1);
    expect(answers[0]?.headers.get('x-ratelimit-limit')).toBe('3');
    const resetAfter = Number(answers[0]?.headers.get('x-ratelimit-reset-after'));
    expect(resetAfter).toBeGreaterThan(59);
    expect(Number(answers[0]?.headers.get('x-ratelimit-reset')) * 1000).toBeGreaterThan(Date.now() + 58_000);
    const limited = answers[3];
    expect(limited?.headers.get('x-ratelimit-scope')).toBe('user');
    expect(limited?.headers.get('x-ratelimit-global')).toBeNull();
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    const body = (await limited?.json()) as { retry_after: number; global: boolean };
    expect(body.global).toBe(false);
    expect(body.retry_after).toBeGreaterThan(59);
    // Another channel is another bucket.
    const other = sim.createChannel(firstChannel(sim).guildId, 'other');
    const r = await fetch(`${sim.restUrl}/v10/channels/${other.id}/messages`, { method: 'POST', headers: auth, body: JSON.stringify({ content: 'x' }) });
    expect(r.status).toBe(200);
    const counters = sim.state.counters();
    expect(counters.rest429).toBe(1);
    expect(counters.restInvalid).toBe(1);
    // The refused call is an effect with its status, so a checker can tell it changed nothing.
    expect(sim.log.effects().map((e) => e.status)).toEqual([200, 200, 200, 429, 200]);
  });

  it('applies the global per-bot limit across routes, answering 429 with global: true', async () => {
    sim = await startSim({ guilds: 1, globalRateLimit: 4 });
    const guild = sim.state.guilds()[0];
    if (!guild) throw new Error('no guild');
    const channels = [0, 1, 2, 3, 4].map((i) => sim!.createChannel(guild.id, `c${i}`).id);
    const answers = await Promise.all(channels.map((c) => fetch(`${sim!.restUrl}/v10/channels/${c}`, { headers: auth })));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    const limited = answers.find((r) => r.status === 429);
    expect(limited?.headers.get('x-ratelimit-global')).toBe('true');
    expect(limited?.headers.get('x-ratelimit-scope')).toBe('global');
    expect(await limited?.json()).toMatchObject({ message: 'You are being rate limited.', global: true });
    expect(sim.state.counters().rest429Global).toBe(1);
    // Interaction webhooks are exempt from the global limit, as on Discord: a 404 here, not a 429.
    const w = await fetch(`${sim.restUrl}/v10/webhooks/${sim.applicationId}/no-such-token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"content":"x"}' });
    expect(w.status).toBe(404);
  });

  it('is paced by discord.js from its headers: a burst past a bucket still lands, in order', async () => {
    sim = await startSim({ guilds: 1, identifyWindowMs: 0, routeLimits: { createMessage: { limit: 2, windowMs: 300 } } });
    const client = await readyClient(sim);
    clients.push(client);
    const channel = (await client.channels.fetch(firstChannel(sim).channelId)) as TextChannel;
    const t0 = Date.now();
    const sent = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => channel.send(`burst ${i}`)));
    expect(sent.map((m) => m.content)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `burst ${i}`));
    // Six messages at two per 300 ms need at least two more windows.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
    const ok = sim.log.effects().filter((e) => e.status === 200);
    expect(ok.map((e) => (e.body as { content: string }).content)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `burst ${i}`));
  });

  it('times out a member, deletes a message once, and keeps bulk-overwritten commands with stable ids', async () => {
    sim = await startSim({ guilds: 1, identifyWindowMs: 0 });
    const client = await readyClient(sim);
    clients.push(client);
    const { guildId, channelId } = firstChannel(sim);
    const userId = sim.state.guild(guildId)?.memberIds[0];
    if (!userId) throw new Error('no member');
    const guild = await client.guilds.fetch(guildId);
    const member = await guild.members.fetch(userId);
    await member.timeout(60_000, 'spam');
    const until = sim.state.members(guildId).find((m) => m.userId === userId)?.communicationDisabledUntil;
    expect(Date.parse(until ?? '')).toBeGreaterThan(Date.now() + 50_000);
    const patch = sim.log.effects().find((e) => e.method === 'PATCH');
    expect(patch).toMatchObject({ route: '/guilds/:guild/members/:user', guildId, status: 200 });
    await waitUntil('GUILD_MEMBER_UPDATE to be logged', () => sim!.log.dispatches().some((d) => d.type === 'GUILD_MEMBER_UPDATE'));

    const posted = sim.postMessage({ guildId, content: 'bad words' });
    const channel = (await client.channels.fetch(channelId)) as TextChannel;
    await channel.messages.delete(posted.id);
    await expect(channel.messages.delete(posted.id)).rejects.toMatchObject({ status: 404, code: 10008 });
    expect(sim.log.dispatches().filter((d) => d.type === 'MESSAGE_DELETE').map((d) => d.key)).toEqual([`msgdel:${posted.id}`]);

    const app = client.application;
    if (!app) throw new Error('no application');
    const first = await app.commands.set([
      { name: 'stats', description: 'activity' },
      { name: 'Report message', type: ApplicationCommandType.Message },
    ]);
    const second = await app.commands.set([{ name: 'stats', description: 'activity, renamed' }]);
    expect(second.first()?.id).toBe(first.find((c) => c.name === 'stats')?.id);
    expect(sim.state.commands().map((c) => c.name)).toEqual(['stats']);
    await guild.commands.set([{ name: 'setup', description: 'configure' }]);
    expect(sim.state.commands(guildId).map((c) => [c.name, c.guild_id])).toEqual([['setup', guildId]]);
  });
});
