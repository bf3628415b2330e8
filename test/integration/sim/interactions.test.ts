// The stand-in's interactions sender against a real HTTP endpoint: Ed25519 signatures checked
// independently with node:crypto, PINGs, deliberately bad signatures, deferrals and follow-ups,
// and Discord's 3-second deadline.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { InteractionResponseType, InteractionType, type APIInteraction, type APIMessageApplicationCommandInteraction } from 'discord-api-types/v10';
import { startSim, type Sim } from '../../../src/sim/index.js';

interface Seen {
  readonly body: string;
  readonly signature: string;
  readonly timestamp: string;
  readonly interaction: APIInteraction;
}

/** An interactions endpoint whose answer the test decides; it records what it was sent. */
async function endpoint(answer: (seen: Seen, res: ServerResponse) => void): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const s: Seen = { body, signature: String(req.headers['x-signature-ed25519']), timestamp: String(req.headers['x-signature-timestamp']), interaction: JSON.parse(body) as APIInteraction };
      seen.push(s);
      answer(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/interactions`, seen, server };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/** Independent of the stand-in's code: the raw 32-byte key as a JWK, checked with node:crypto. */
function publicKeyOf(hex: string): KeyObject {
  expect(hex).toMatch(/^[0-9a-f]{64}$/);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(hex, 'hex').toString('base64url') }, format: 'jwk' });
}
const verifies = (key: KeyObject, timestamp: string, body: string, signature: string) => verify(null, Buffer.from(timestamp + body), key, Buffer.from(signature, 'hex'));

describe('the stand-in interactions sender', () => {
  let sim: Sim | undefined;
  const servers: Server[] = [];
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  it('signs timestamp + body so that an independent Ed25519 check accepts it, and rejects a tampered body or timestamp', async () => {
    sim = await startSim({ guilds: 2 });
    const key = publicKeyOf(sim.publicKey);
    const ep = await endpoint((s, res) => json(res, verifies(key, s.timestamp, s.body, s.signature) ? 200 : 401, { type: InteractionResponseType.ChannelMessageWithSource, data: { content: 'ok' } }));
    servers.push(ep.server);
    const guild = sim.state.guilds()[1];
    if (!guild) throw new Error('no guild');
    const r = await sim.sendInteraction({ url: ep.url, kind: 'command', guildId: guild.id, name: 'stats' });
    const s = ep.seen[0];
    if (!s) throw new Error('nothing arrived');
    expect(verifies(key, s.timestamp, s.body, s.signature)).toBe(true);
    expect(verifies(key, s.timestamp, s.body.replace('stats', 'statz'), s.signature)).toBe(false);
    expect(verifies(key, String(Number(s.timestamp) + 1), s.body, s.signature)).toBe(false);
    expect(Math.abs(Number(s.timestamp) - Date.now() / 1000)).toBeLessThan(5);
    expect(s.interaction).toMatchObject({ id: r.id, type: InteractionType.ApplicationCommand, guild_id: guild.id, application_id: sim.applicationId, data: { name: 'stats' } });
    expect(r).toMatchObject({ guildId: guild.id, kind: 'command', status: 200, responseType: InteractionResponseType.ChannelMessageWithSource, failed: false, deferred: false, pending: false });
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    expect(r.latencyMs).toBeLessThan(3000);
  });

  it('keeps its public key across restarts when given the same signing key', async () => {
    const seed = 'a1'.repeat(32);
    const a = await startSim({ guilds: 1, signingKey: seed });
    const b = await startSim({ guilds: 1, signingKey: seed });
    const c = await startSim({ guilds: 1 });
    expect(a.publicKey).toBe(b.publicKey);
    expect(c.publicKey).not.toBe(a.publicKey);
    await Promise.all([a.close(), b.close(), c.close()]);
    await expect(startSim({ signingKey: 'not hex' })).rejects.toThrow(/64 hex/);
  });

  it('sends deliberately bad signatures that a correct endpoint answers with 401, and counts a 200 to one as a failure', async () => {
    sim = await startSim({ guilds: 1 });
    const key = publicKeyOf(sim.publicKey);
    const strict = await endpoint((s, res) => (verifies(key, s.timestamp, s.body, s.signature) ? json(res, 200, { type: 1 }) : json(res, 401, { error: 'bad signature' })));
    const lax = await endpoint((_s, res) => json(res, 200, { type: 1 }));
    servers.push(strict.server, lax.server);
    const good = await sim.sendInteraction({ url: strict.url, kind: 'ping', badSignature: true });
    expect(good).toMatchObject({ badSignature: true, status: 401, failed: false });
    const bad = await sim.sendInteraction({ url: lax.url, kind: 'ping', badSignature: true });
    expect(bad).toMatchObject({ badSignature: true, status: 200, failed: true });
    expect(sim.state.counters().interactionsFailed).toBe(1);
  });

  it('expects PONG to a PING and counts any other answer as failed', async () => {
    sim = await startSim({ guilds: 1 });
    const pong = await endpoint((_s, res) => json(res, 200, { type: InteractionResponseType.Pong }));
    const wrong = await endpoint((_s, res) => json(res, 200, { type: InteractionResponseType.ChannelMessageWithSource, data: { content: 'hi' } }));
    servers.push(pong.server, wrong.server);
    expect(await sim.sendInteraction({ url: pong.url, kind: 'ping' })).toMatchObject({ kind: 'ping', guildId: null, responseType: 1, failed: false });
    expect(await sim.sendInteraction({ url: wrong.url, kind: 'ping' })).toMatchObject({ failed: true, responseType: null });
  });

  it('tracks a deferred interaction until its original response is edited through the webhook', async () => {
    sim = await startSim({ guilds: 1 });
    const ep = await endpoint((s, res) => {
      json(res, 200, { type: InteractionResponseType.DeferredChannelMessageWithSource });
      // The owner's late answer, as the gateway sends it: an edit of the original response.
      setImmediate(() => {
        void fetch(`${sim!.restUrl}/v10/webhooks/${s.interaction.application_id}/${s.interaction.token}/messages/@original`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json', 'user-agent': 'DiscordBot (test) pod-b' },
          body: JSON.stringify({ content: 'here are your stats' }),
        });
      });
    });
    servers.push(ep.server);
    const r = await sim.sendInteraction({ url: ep.url, kind: 'command', name: 'stats' });
    expect(r).toMatchObject({ deferred: true, responseType: InteractionResponseType.DeferredChannelMessageWithSource, failed: false });
    const done = await sim.log.waitFor('interaction', (x) => x.id === r.id && x.followedUp);
    expect(done.followUpAt).toBeGreaterThanOrEqual(r.sentAt);
    const edit = sim.log.effects().find((e) => e.route === '/webhooks/:app/:token/messages/@original');
    expect(edit).toMatchObject({ method: 'PATCH', status: 200, interactionId: r.id, guildId: r.guildId, userAgent: 'DiscordBot (test) pod-b' });
    // A second acknowledgement through the callback route is refused, as on Discord.
    const token = ep.seen[0]?.interaction.token ?? '';
    const again = await fetch(`${sim.restUrl}/v10/interactions/${r.id}/${token}/callback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 4, data: { content: 'x' } }) });
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual({ message: 'Interaction has already been acknowledged.', code: 40060 });
  });

  it('sends message commands with the target message resolved, and button presses with their message', async () => {
    sim = await startSim({ guilds: 1 });
    const ep = await endpoint((_s, res) => json(res, 200, { type: InteractionResponseType.DeferredMessageUpdate }));
    servers.push(ep.server);
    const guild = sim.state.guilds()[0];
    if (!guild) throw new Error('no guild');
    const target = sim.postMessage({ guildId: guild.id, content: 'report me' });
    const report = await sim.sendInteraction({ url: ep.url, kind: 'message_command', guildId: guild.id, targetMessageId: target.id });
    const sent = ep.seen[0]?.interaction as APIMessageApplicationCommandInteraction;
    expect(sent.data.target_id).toBe(target.id);
    expect(sent.data.resolved.messages[target.id]?.content).toBe('report me');
    // Type 6 is no valid answer to a command: failed.
    expect(report.failed).toBe(true);
    const button = await sim.sendInteraction({ url: ep.url, kind: 'component', guildId: guild.id, customId: 'close-report:42' });
    expect(ep.seen[1]?.interaction).toMatchObject({ type: InteractionType.MessageComponent, data: { custom_id: 'close-report:42' } });
    expect(button).toMatchObject({ failed: false, deferred: true });
  });

  it('counts an answer later than 3 seconds as failed, though it was a 200', async () => {
    sim = await startSim({ guilds: 1 });
    const ep = await endpoint((_s, res) => {
      // The endpoint's slowness is what is under test, not a wait of the test's own.
      setTimeout(() => json(res, 200, { type: InteractionResponseType.ChannelMessageWithSource, data: { content: 'too late' } }), 3100);
    });
    servers.push(ep.server);
    const r = await sim.sendInteraction({ url: ep.url, kind: 'command' });
    expect(r.status).toBe(200);
    expect(r.latencyMs).toBeGreaterThan(3000);
    expect(r.failed).toBe(true);
  });
});
