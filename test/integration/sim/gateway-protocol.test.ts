// The gateway protocol driven by hand with `ws`: close codes, identify limits, resume refusals,
// heartbeat ACKs and intents, as Discord answers them.
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Events, GatewayIntentBits as Intents } from 'discord.js';
import { GatewayCloseCodes, GatewayIntentBits, GatewayOpcodes, type GatewayReadyDispatch } from 'discord-api-types/v10';
import { startSim, type Sim } from '../../../src/sim/index.js';
import { RawGateway, waitUntil } from './helpers.js';

describe('the stand-in gateway protocol', () => {
  let sim: Sim | undefined;
  const sockets: RawGateway[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await sim?.close();
    sim = undefined;
  });
  const connect = async (s: Sim, url = s.gatewayUrl) => {
    const g = new RawGateway(url);
    sockets.push(g);
    await g.opened;
    await waitUntil('HELLO', () => g.ops(GatewayOpcodes.Hello).length === 1);
    return g;
  };

  it('says HELLO with the configured heartbeat interval and ACKs heartbeats until told not to', async () => {
    sim = await startSim({ guilds: 1, heartbeatIntervalMs: 4321 });
    const g = await connect(sim);
    expect(g.received[0]).toEqual({ op: GatewayOpcodes.Hello, t: null, s: null, d: { heartbeat_interval: 4321 } });
    g.send(GatewayOpcodes.Heartbeat, null);
    await waitUntil('an ACK', () => g.ops(GatewayOpcodes.HeartbeatAck).length === 1);
    sim.gateway.setHeartbeatAcks(false);
    g.send(GatewayOpcodes.Heartbeat, null);
    g.identify('tok');
    // The READY that follows the second heartbeat proves the heartbeat was processed, unanswered.
    await waitUntil('READY', () => g.dispatches('READY').length === 1);
    expect(g.ops(GatewayOpcodes.HeartbeatAck)).toHaveLength(1);
  });

  it('closes a bad token with 4004, and discord.js login fails on the REST 401 before that', async () => {
    sim = await startSim({ guilds: 1, invalidTokens: ['bad-token'] });
    const g = await connect(sim);
    g.identify('bad-token');
    await waitUntil('the close', () => g.closeCode !== undefined);
    expect(g.closeCode).toBe(GatewayCloseCodes.AuthenticationFailed);
    const client = new Client({ intents: [Intents.Guilds], rest: { api: sim.restUrl } });
    // discord.js turns the REST 401 of GET /gateway/bot into TokenInvalid.
    await expect(client.login('bad-token')).rejects.toMatchObject({ code: 'TokenInvalid' });
    await client.destroy();
    expect(sim.state.counters().restInvalid).toBe(1);
  });

  it('answers an identify inside its bucket window with op 9 (not resumable), as Discord documents, and lets a patient client in', async () => {
    sim = await startSim({ guilds: 2, identifyWindowMs: 600, maxConcurrency: 2, dailyIdentifies: 10 });
    const first = await connect(sim);
    first.identify('tok', [0, 2]);
    await waitUntil('READY on shard 0', () => first.dispatches('READY').length === 1);
    // Shard 1 is another bucket (1 % 2): it may identify at once.
    const otherBucket = await connect(sim);
    otherBucket.identify('tok', [1, 2]);
    await waitUntil('READY on shard 1', () => otherBucket.dispatches('READY').length === 1);
    // Shard 0 again, same bucket, inside the window: refused with op 9 d:false, the socket stays open.
    const tooFast = await connect(sim);
    tooFast.identify('tok', [0, 2]);
    await waitUntil('op 9', () => tooFast.ops(GatewayOpcodes.InvalidSession).length === 1);
    expect(tooFast.ops(GatewayOpcodes.InvalidSession)[0]).toMatchObject({ op: GatewayOpcodes.InvalidSession, d: false });
    expect(tooFast.closeCode).toBeUndefined();
    expect(sim.state.counters().identifiesRateLimited).toBe(1);
    // Identifying again until it is accepted: it gets in, but not before the window is over.
    await waitUntil(
      'the retry to be accepted',
      () => {
        if (tooFast.dispatches('READY').length === 1) return true;
        if (tooFast.ops(GatewayOpcodes.InvalidSession).length === sim!.state.counters().identifiesRateLimited) tooFast.identify('tok', [0, 2]);
        return false;
      },
      5000,
    );
    // Timed by the stand-in, not by this test's view of READY (which lags by however long the
    // event loop was busy): the 600 ms window less the 50 ms tolerance for throttle jitter.
    const shard0 = sim.state.sessions().filter((x) => x.shard[0] === 0).map((x) => x.identifiedAt);
    expect(shard0).toHaveLength(2);
    expect((shard0[1] as number) - (shard0[0] as number)).toBeGreaterThanOrEqual(549);
    const limit = sim.state.snapshot().sessionStartLimit;
    expect(limit).toMatchObject({ total: 10, remaining: 7, max_concurrency: 2 });
  });

  it('refuses invalid shards (4010), too many guilds per shard (4011), undefined intents (4013) and unapproved privileged intents (4014)', async () => {
    sim = await startSim({ guilds: 5, maxGuildsPerShard: 3, privilegedIntents: GatewayIntentBits.GuildMembers, identifyWindowMs: 0 });
    const cases: [[number, number], number, number][] = [
      [[2, 2], 513, GatewayCloseCodes.InvalidShard],
      [[0, 0], 513, GatewayCloseCodes.InvalidShard],
      [[0, 1], 513, GatewayCloseCodes.ShardingRequired],
      [[0, 2], 1 << 30, GatewayCloseCodes.InvalidIntents],
      [[0, 2], 513 | GatewayIntentBits.MessageContent, GatewayCloseCodes.DisallowedIntents],
    ];
    for (const [shard, intents, code] of cases) {
      const g = await connect(sim);
      g.identify('tok', shard, intents);
      await waitUntil(`close ${code}`, () => g.closeCode !== undefined);
      expect({ shard, intents, code: g.closeCode }).toEqual({ shard, intents, code });
    }
    const ok = await connect(sim);
    ok.identify('tok', [0, 2], 513 | GatewayIntentBits.GuildMembers);
    await waitUntil('READY', () => ok.dispatches('READY').length === 1);
  });

  it('refuses to resume an unknown session with op 9, and a seq from the future with 4007', async () => {
    sim = await startSim({ guilds: 1, identifyWindowMs: 0 });
    const g = await connect(sim);
    g.send(GatewayOpcodes.Resume, { token: 'tok', session_id: 'nope', seq: 3 });
    await waitUntil('op 9', () => g.ops(GatewayOpcodes.InvalidSession).length === 1);
    expect(g.ops(GatewayOpcodes.InvalidSession)[0]).toMatchObject({ d: false });

    g.identify('tok');
    await waitUntil('READY', () => g.dispatches('READY').length === 1);
    const ready = g.dispatches('READY')[0] as GatewayReadyDispatch;
    expect(ready.d.resume_gateway_url).toBe(`${sim.gatewayUrl}/resume`);
    g.close();
    const again = await connect(sim, ready.d.resume_gateway_url);
    again.send(GatewayOpcodes.Resume, { token: 'tok', session_id: ready.d.session_id, seq: 999 });
    await waitUntil('close', () => again.closeCode !== undefined);
    expect(again.closeCode).toBe(GatewayCloseCodes.InvalidSeq);
  });

  it('replays a resumed session from its sequence, then says RESUMED', async () => {
    sim = await startSim({ guilds: 1, identifyWindowMs: 0 });
    const guild = sim.state.guilds()[0];
    if (!guild) throw new Error('no guild');
    const g = await connect(sim);
    g.identify('tok');
    await waitUntil('GUILD_CREATE', () => g.dispatches('GUILD_CREATE').length === 1);
    const ready = g.dispatches('READY')[0] as GatewayReadyDispatch;
    const seenSeq = g.dispatches().at(-1)?.s ?? 0;
    g.close();
    await waitUntil('the session to be disconnected', () => sim!.state.sessions()[0]?.status === 'disconnected');
    const missed = [1, 2, 3].map((i) => sim!.postMessage({ guildId: guild.id, content: `m${i}` }).id);
    const r = await connect(sim, ready.d.resume_gateway_url);
    r.send(GatewayOpcodes.Resume, { token: 'tok', session_id: ready.d.session_id, seq: seenSeq });
    await waitUntil('RESUMED', () => r.dispatches('RESUMED').length === 1);
    const got = r.dispatches();
    expect(got.map((p) => p.t)).toEqual(['MESSAGE_CREATE', 'MESSAGE_CREATE', 'MESSAGE_CREATE', 'RESUMED']);
    expect(got.map((p) => p.s)).toEqual([seenSeq + 1, seenSeq + 2, seenSeq + 3, seenSeq + 4]);
    expect(got.slice(0, 3).map((p) => (p.d as { id: string }).id)).toEqual(missed);
  });

  it('closes a connection that sends more than its payload budget with 4008', async () => {
    sim = await startSim({ guilds: 1, commandsPerMinute: 5 });
    const g = await connect(sim);
    for (let i = 0; i < 6; i++) g.send(GatewayOpcodes.Heartbeat, null);
    await waitUntil('close', () => g.closeCode !== undefined);
    expect(g.closeCode).toBe(GatewayCloseCodes.RateLimited);
  });

  it('sends MESSAGE_CREATE only with GuildMessages, and empty content without MessageContent (unless the bot is mentioned)', async () => {
    sim = await startSim({ guilds: 1, identifyWindowMs: 0 });
    const guild = sim.state.guilds()[0];
    if (!guild) throw new Error('no guild');
    const noMessages = await connect(sim);
    noMessages.identify('tok', [0, 1], GatewayIntentBits.Guilds);
    const noContent = await connect(sim);
    noContent.identify('tok', [0, 1], GatewayIntentBits.Guilds | GatewayIntentBits.GuildMessages);
    const full = await connect(sim);
    full.identify('tok', [0, 1], GatewayIntentBits.Guilds | GatewayIntentBits.GuildMessages | GatewayIntentBits.MessageContent);
    await waitUntil('three READYs', () => [noMessages, noContent, full].every((g) => g.dispatches('READY').length === 1));
    sim.postMessage({ guildId: guild.id, content: 'secret words' });
    sim.postMessage({ guildId: guild.id, content: `hey <@${sim.applicationId}>` });
    await waitUntil('the messages', () => full.dispatches('MESSAGE_CREATE').length === 2 && noContent.dispatches('MESSAGE_CREATE').length === 2);
    // A later dispatch every session gets proves the session without GuildMessages had its chance.
    sim.createChannel(guild.id, 'later');
    await waitUntil('CHANNEL_CREATE', () => noMessages.dispatches('CHANNEL_CREATE').length === 1);
    expect(noMessages.dispatches('MESSAGE_CREATE')).toHaveLength(0);
    expect(noContent.dispatches('MESSAGE_CREATE').map((p) => (p.d as { content: string }).content)).toEqual(['', `hey <@${sim.applicationId}>`]);
    expect(full.dispatches('MESSAGE_CREATE').map((p) => (p.d as { content: string }).content)).toEqual(['secret words', `hey <@${sim.applicationId}>`]);
  });

  it('tells the sessions of a removed guild with GUILD_DELETE, and leaves the guild out of later READYs', async () => {
    sim = await startSim({ guilds: 3, identifyWindowMs: 0 });
    const [gone, kept] = sim.state.guilds();
    if (!gone || !kept) throw new Error('no guilds');
    const g = await connect(sim);
    g.identify('tok');
    await waitUntil('GUILD_CREATEs', () => g.dispatches('GUILD_CREATE').length === 3);
    sim.removeGuild(gone.id);
    await waitUntil('GUILD_DELETE', () => g.dispatches('GUILD_DELETE').length === 1);
    expect(g.dispatches('GUILD_DELETE')[0]?.d).toEqual({ id: gone.id });
    const later = await connect(sim);
    later.identify('tok');
    await waitUntil('READY', () => later.dispatches('READY').length === 1);
    expect((later.dispatches('READY')[0] as GatewayReadyDispatch).d.guilds.map((x) => x.id).sort()).toEqual(sim.state.guilds().filter((x) => !x.removed).map((x) => x.id).sort());
    expect(() => sim!.postMessage({ guildId: gone.id, content: 'x' })).toThrow(/removed/);
  });

  it('lets discord.js detect a zombie connection when ACKs stop, and resume it', async () => {
    sim = await startSim({ guilds: 1, identifyWindowMs: 0, heartbeatIntervalMs: 200 });
    const client = new Client({ intents: [Intents.Guilds, Intents.GuildMessages], rest: { api: sim.restUrl } });
    let resumed = 0;
    client.on(Events.ShardResume, () => (resumed += 1));
    const ready = new Promise<void>((r) => client.once(Events.ClientReady, () => r()));
    await client.login('tok');
    await ready;
    sim.gateway.setHeartbeatAcks(false);
    await waitUntil('the zombie connection to be noticed and resumed', () => {
      if (resumed === 0) return false;
      sim!.gateway.setHeartbeatAcks(true);
      return true;
    });
    expect(sim.state.sessions()[0]?.resumes).toBeGreaterThanOrEqual(1);
    expect(sim.state.counters().identifies).toBe(1);
    await client.destroy();
  });
});
