// The unmodified discord.js client against the stand-in: login, READY and GUILD_CREATE, messages
// both ways, resume after a dropped connection, and shared shards.
import { afterEach, describe, expect, it } from 'vitest';
import { Events, type Client, type Message } from 'discord.js';
import { startSim, type Sim } from '../../../src/sim/index.js';
import { readyClient, waitUntil } from './helpers.js';

describe('the stand-in, to the real discord.js client', () => {
  const clients: Client[] = [];
  let sim: Sim | undefined;
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.destroy();
    await sim?.close();
    sim = undefined;
  });

  it('logs a client in and delivers READY, every guild of its shard and a posted message', async () => {
    sim = await startSim({ guilds: 6, seed: 7, identifyWindowMs: 0 });
    const client = await readyClient(sim);
    clients.push(client);
    expect(client.user?.id).toBe(sim.applicationId);
    expect(client.application?.id).toBe(sim.applicationId);
    expect([...client.guilds.cache.keys()].sort()).toEqual(sim.state.guilds().map((g) => g.id).sort());

    const seen: Message[] = [];
    client.on(Events.MessageCreate, (m) => seen.push(m));
    const guild = sim.state.guilds()[2];
    if (!guild) throw new Error('no guild');
    const posted = sim.postMessage({ guildId: guild.id, content: 'hello from a user' });
    await waitUntil('the message to arrive', () => seen.length === 1);
    expect(seen[0]?.id).toBe(posted.id);
    expect(seen[0]?.content).toBe('hello from a user');
    expect(seen[0]?.guildId).toBe(guild.id);
    expect(seen[0]?.channelId).toBe(guild.channelIds[0]);
  });

  it('takes a reply through REST and logs it as an effect of the pod that sent it', async () => {
    sim = await startSim({ guilds: 2, seed: 3, identifyWindowMs: 0 });
    const client = await readyClient(sim, { appendix: 'pod-a' });
    clients.push(client);
    const errors: unknown[] = [];
    client.on(Events.MessageCreate, (m) => {
      if (!m.author.bot) m.reply(`pong to ${m.id}`).catch((err: unknown) => errors.push(err));
    });
    const guild = sim.state.guilds()[0];
    if (!guild) throw new Error('no guild');
    const posted = sim.postMessage({ guildId: guild.id, content: 'ping' });
    const effect = await sim.log.waitFor('effect', (e) => e.route === '/channels/:channel/messages' && e.status === 200);
    expect(effect.guildId).toBe(guild.id);
    expect(effect.channelId).toBe(posted.channelId);
    expect(effect.userAgent).toMatch(/^DiscordBot \(https:\/\/discord\.js\.org, [\d.]+\) .*pod-a$/);
    expect(effect.body).toMatchObject({ content: `pong to ${posted.id}` });
    expect(effect.deduplicated).toBe(false);
    expect(errors).toEqual([]);
    // The bot's own message comes back as MESSAGE_CREATE, as on Discord.
    const echo = await sim.log.waitFor('dispatch', (d) => d.type === 'MESSAGE_CREATE' && d.key === `msg:${effect.messageId}`);
    expect(echo.guildId).toBe(guild.id);
  });

  it('lets a client resume after a dropped connection without losing what was posted meanwhile', async () => {
    sim = await startSim({ guilds: 3, seed: 11, identifyWindowMs: 0 });
    const client = await readyClient(sim);
    clients.push(client);
    const ids: string[] = [];
    client.on(Events.MessageCreate, (m) => ids.push(m.id));
    let resumed = 0;
    client.on(Events.ShardResume, () => (resumed += 1));
    const guild = sim.state.guilds()[0];
    if (!guild) throw new Error('no guild');
    const before = sim.postMessage({ guildId: guild.id, content: 'before the drop' });
    await waitUntil('the first message', () => ids.length === 1);

    expect(sim.gateway.drop()).toBe(1);
    // discord.js waits before reconnecting, so these are sent while nobody is connected.
    const during = [1, 2, 3, 4, 5].map((i) => sim!.postMessage({ guildId: guild.id, content: `while away ${i}` }).id);
    await waitUntil('the resume', () => resumed === 1);
    await waitUntil('the missed messages', () => ids.length === 6);
    expect(ids).toEqual([before.id, ...during]);
    const session = sim.state.sessions()[0];
    expect(session?.resumes).toBe(1);
    expect(sim.state.counters().identifies).toBe(1);
  });

  it('gives two clients holding the same shard every dispatch of that shard', async () => {
    sim = await startSim({ guilds: 4, shards: 2, seed: 5, identifyWindowMs: 0 });
    const a = await readyClient(sim, { shards: [0], shardCount: 2 });
    const b = await readyClient(sim, { shards: [0], shardCount: 2 });
    clients.push(a, b);
    const onShard0 = sim.state.guilds().filter((g) => g.shard === 0);
    const onShard1 = sim.state.guilds().filter((g) => g.shard === 1);
    expect(onShard0.length).toBeGreaterThan(0);
    expect(onShard1.length).toBeGreaterThan(0);
    expect([...a.guilds.cache.keys()].sort()).toEqual(onShard0.map((g) => g.id).sort());
    expect([...b.guilds.cache.keys()].sort()).toEqual(onShard0.map((g) => g.id).sort());

    const gotA: string[] = [];
    const gotB: string[] = [];
    a.on(Events.MessageCreate, (m) => gotA.push(m.id));
    b.on(Events.MessageCreate, (m) => gotB.push(m.id));
    const expected: string[] = [];
    for (let i = 0; i < 40; i++) {
      const g = i % 2 === 0 ? onShard0[i % onShard0.length] : onShard1[i % onShard1.length];
      if (!g) throw new Error('no guild');
      const m = sim.postMessage({ guildId: g.id, content: `m${i}` });
      if (g.shard === 0) expected.push(m.id);
    }
    await waitUntil('both clients to get every shard-0 message', () => gotA.length === expected.length && gotB.length === expected.length);
    expect(gotA).toEqual(expected);
    expect(gotB).toEqual(expected);
    const records = sim.log.dispatches().filter((d) => d.type === 'MESSAGE_CREATE' && d.shard === 0);
    expect(records.every((r) => r.sessions.length === 2)).toBe(true);
  });
});
