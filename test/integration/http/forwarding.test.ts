// Forwarding and the deferral handshake against fake gateways: 421s, slow owners, dead owners,
// dropped connections — Discord always gets its first response within 3 s.
import { afterEach, describe, expect, it } from 'vitest';
import { metrics } from '../../../src/metrics.js';
import { DiscordWebhooks } from '../../../src/http/discord-webhooks.js';
import { silentLogger } from '../../../src/log.js';
import { waitFor } from '../../helpers/services.js';
import { commandInteraction, discordHeaders, notOwner, snowflake, startEdgeHarness, startFakeGateway, type EdgeHarness, type FakeGateway } from './harness.js';

let h: EdgeHarness | undefined;
const gateways: FakeGateway[] = [];

afterEach(async () => {
  for (const g of gateways.splice(0)) await g.kill();
  await h?.close();
  h = undefined;
});

async function setup(o: Parameters<typeof startEdgeHarness>[0] = {}, pods = ['gw-a', 'gw-b']): Promise<{ h: EdgeHarness; gw: FakeGateway[] }> {
  h = await startEdgeHarness(o);
  const gw: FakeGateway[] = [];
  for (const p of pods) {
    const g = await startFakeGateway(p);
    gateways.push(g);
    await h.addGateway(g);
    gw.push(g);
  }
  return { h, gw };
}

/** Send a signed interaction; returns the edge's first response and how long it took. */
async function interact(h: EdgeHarness, interaction: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const raw = JSON.stringify(interaction);
  const started = performance.now();
  const res = await fetch(`${h.url}/interactions`, { method: 'POST', body: raw, headers: discordHeaders(h.keys, raw) });
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, body, ms: performance.now() - started };
}

const outcomes = async () => Object.fromEntries((await metrics.interactions.get()).values.map((v) => [String(v.labels['outcome']), v.value]));

describe('421: the owner the edge expected does not own the guild', () => {
  it('is retried once at the owner it names, and the mirror takes the higher epoch', async () => {
    const { h, gw } = await setup();
    const [a, b] = gw as [FakeGateway, FakeGateway];
    const G = snowflake();
    await h.lease(G, 'gw-a');
    await h.routed(G, 'gw-a');
    a.behave(() => notOwner('gw-b', 7));
    const r = await interact(h, commandInteraction({ guildId: G }));
    expect(r.body).toEqual({ type: 4, data: { content: 'hello from gw-b' } });
    expect(a.requests.map((q) => [q.owner, q.epoch])).toEqual([['gw-a', 1]]);
    expect(b.requests.map((q) => [q.owner, q.epoch])).toEqual([['gw-b', 7]]);
    expect(h.edge.routing.route(G)).toMatchObject({ owner: 'gw-b', epoch: 7 });
  });

  it('naming an older epoch is still followed once, but cannot roll the mirror back', async () => {
    const { h, gw } = await setup();
    const [a, b] = gw as [FakeGateway, FakeGateway];
    const G = snowflake();
    await h.lease(G, 'gw-b');
    await h.lease(G, 'gw-a'); // epoch 2 at gw-a
    await h.routed(G, 'gw-a');
    a.behave(() => notOwner('gw-b', 1));
    const r = await interact(h, commandInteraction({ guildId: G }));
    expect(r.body).toEqual({ type: 4, data: { content: 'hello from gw-b' } });
    expect(b.requests.map((q) => [q.owner, q.epoch])).toEqual([['gw-b', 1]]);
    expect(h.edge.routing.route(G)).toMatchObject({ owner: 'gw-a', epoch: 2 });
  });

  it('signatures made with an older secret still in the list are accepted (rotation), a foreign secret is not', async () => {
    const { h } = await setup({}, []);
    const rotated = await startFakeGateway('gw-r', ['internal-secret-next', 'internal-secret-0001']);
    const foreign = await startFakeGateway('gw-f', ['some-other-secret']);
    gateways.push(rotated, foreign);
    await h.addGateway(rotated);
    const G = snowflake();
    await h.lease(G, 'gw-r');
    await h.routed(G, 'gw-r');
    expect((await interact(h, commandInteraction({ guildId: G }))).body).toEqual({ type: 4, data: { content: 'hello from gw-r' } });
    const r = await h.edge.forwarder.requestPod('gw-f', foreign.addr, { method: 'GET', path: '/internal/status', attemptTimeoutMs: 1000 });
    expect(r.ok && r.status).toBe(401);
    expect(foreign.rejected).toBe(1);
  });
});

describe('deferral: Discord always has a first response within 3 s', () => {
  it('a slow owner gets a deferred response sent for it before 3 s; its resolve() returns the token and it edits the original', async () => {
    const { h, gw } = await setup();
    const [a] = gw as [FakeGateway];
    const G = snowflake();
    await h.lease(G, 'gw-a');
    await h.routed(G, 'gw-a');
    const interaction = commandInteraction({ guildId: G, name: 'setup' });
    const id = interaction['id'] as string;
    const webhooks = new DiscordWebhooks(h.discord.url, silentLogger);
    const tokens: string[] = [];
    // The owner takes its time, then asks Redis what to do with its answer.
    a.behave(async () => {
      await waitFor('the deferral record', async () => (await h.edge.pending.get(id))?.state === 'deferred', 10_000);
      const r = await h.edge.pending.resolve(id, 'gw-a', G);
      if (r.kind !== 'complete') return { status: 500, body: { unexpected: r.kind } };
      tokens.push(r.ticket.token);
      await webhooks.editOriginal(r.ticket.applicationId, r.ticket.token, { content: 'settings saved' });
      await h.edge.pending.complete(id, 'gw-a');
      return { status: 202, body: { completed: 'webhook' } };
    });
    const before = await outcomes();
    const r = await interact(h, interaction);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ type: 5, data: { flags: 64 } }); // /setup is ephemeral in the registry
    expect(r.ms).toBeLessThan(3000);
    expect(r.ms).toBeGreaterThanOrEqual(2400);
    const rec = await h.edge.pending.get(id);
    expect(rec).toMatchObject({ guildId: G, responseType: 5, flags: 64, edge: 'edge-1' });
    expect(JSON.parse(rec?.payload ?? '{}')).toEqual(interaction);
    await waitFor('the owner to complete', async () => (await h.edge.pending.get(id))?.state === 'completed');
    expect(tokens).toEqual([interaction['token']]);
    expect(h.discord.edits).toEqual([{ path: `/api/v10/webhooks/${interaction['application_id'] as string}/${interaction['token'] as string}/messages/@original`, body: { content: 'settings saved' } }]);
    expect((await outcomes())['deferred']).toBe((before['deferred'] ?? 0) + 1);
    expect(await h.t.redis.zcard(h.edge.pending.keys.deferredIndex)).toBe(0);
  });

  it('a non-ephemeral command is deferred visibly (type 5 without flags)', async () => {
    const { h, gw } = await setup({ timing: { deferAfterMs: 300, lateDeferAfterMs: 800 } });
    const [a] = gw as [FakeGateway];
    const G = snowflake();
    await h.lease(G, 'gw-a');
    await h.routed(G, 'gw-a');
    const interaction = commandInteraction({ guildId: G, name: 'stats' });
    a.behave(async () => {
      await waitFor('deferred', async () => (await h.edge.pending.get(interaction['id'] as string))?.state === 'deferred');
      return { status: 202, body: {} };
    });
    expect((await interact(h, interaction)).body).toEqual({ type: 5 });
    // The owner's 202 closes the edge's follow-through: nothing is left running.
    await waitFor('no background work', () => h.edge.interactions.inFlight === 0);
  });

  it('when the owner answered first but its reply is slow, the edge waits for it and answers directly', async () => {
    const { h, gw } = await setup({ timing: { deferAfterMs: 500, lateDeferAfterMs: 2000 } });
    const [a] = gw as [FakeGateway];
    const G = snowflake();
    await h.lease(G, 'gw-a');
    await h.routed(G, 'gw-a');
    const interaction = commandInteraction({ guildId: G });
    const deferCalls = async () => (await metrics.scriptSeconds.get()).values.find((v) => v.labels['script'] === 'interactionDefer' && v.metricName === 'leasehold_script_seconds_count')?.value ?? 0;
    const defersBefore = await deferCalls();
    a.behave(async () => {
      const r = await h.edge.pending.resolve(interaction['id'] as string, 'gw-a', G);
      // Hold the reply until the edge has tried to defer (and lost to `answered`).
      await waitFor('the edge to try deferring', async () => (await deferCalls()) > defersBefore);
      return { status: 200, body: { type: 4, data: { content: `resolved: ${r.kind}` } } };
    });
    const r = await interact(h, interaction);
    expect(r.body).toEqual({ type: 4, data: { content: 'resolved: answered' } });
    expect(r.ms).toBeGreaterThanOrEqual(500);
    expect((await h.edge.pending.get(interaction['id'] as string))?.state).toBe('answered');
  });

  it('a reply that has not arrived by the last moment becomes deferred_late, and the edge edits it in when it comes', async () => {
    const { h, gw } = await setup({ timing: { deferAfterMs: 300, lateDeferAfterMs: 800 } });
    const [a] = gw as [FakeGateway];
    const G = snowflake();
    await h.lease(G, 'gw-a');
    await h.routed(G, 'gw-a');
    const interaction = commandInteraction({ guildId: G, type: 3 });
    const id = interaction['id'] as string;
    a.behave(async () => {
      await h.edge.pending.resolve(id, 'gw-a', G);
      await waitFor('deferred_late', async () => (await h.edge.pending.get(id))?.state === 'deferred_late');
      return { status: 200, body: { type: 7, data: { content: 'updated', flags: 64 } } };
    });
    const r = await interact(h, interaction);
    expect(r.body).toEqual({ type: 6 }); // a component: deferred update
    expect(r.ms).toBeGreaterThanOrEqual(750);
    await waitFor('the edge to complete it', async () => (await h.edge.pending.get(id))?.state === 'completed');
    expect((await h.t.redis.hget(h.edge.pending.keys.record(id), 'completedBy'))).toBe('edge-1');
    expect(h.discord.edits.map((e) => e.body)).toEqual([{ content: 'updated' }]);
  });

  it('an owner that dies with the request leaves a deferred record with the payload, which the next owner completes', async () => {
    const { h, gw } = await setup({ timing: { deferAfterMs: 400, lateDeferAfterMs: 900, followThroughMs: 1500, attemptTimeoutMs: 500 } });
    const [a] = gw as [FakeGateway];
    const G = snowflake();
    await h.lease(G, 'gw-a');
    await h.routed(G, 'gw-a');
    const interaction = commandInteraction({ guildId: G, name: 'reports' });
    const id = interaction['id'] as string;
    a.behave(() => new Promise(() => undefined)); // hangs: the process is stuck, then killed
    const r = await interact(h, interaction);
    expect(r.body).toEqual({ type: 5, data: { flags: 64 } });
    await a.kill();
    // The guild's next owner looks for leftovers of its guilds.
    const left = await h.edge.pending.leftovers({ guild: (g) => g === G, olderThanMs: 0 });
    expect(left.map((p) => [p.interactionId, p.state])).toEqual([[id, 'deferred']]);
    expect(JSON.parse(left[0]?.payload ?? '{}')).toMatchObject({ id, data: { name: 'reports' } });
    const taken = await h.edge.pending.take(id, 'gw-b');
    expect(taken.kind === 'complete' && taken.ticket.token).toBe(interaction['token']);
  });
});

describe('unreachable owners', () => {
  it('an owner that died is replaced by reading the lease again until the next owner has it', async () => {
    const { h, gw } = await setup();
    const [a, b] = gw as [FakeGateway, FakeGateway];
    const G = snowflake();
    await h.lease(G, 'gw-a', 800); // never renewed: expires 0.8 s from now
    await h.routed(G, 'gw-a');
    await a.kill();
    const claim = waitFor('gw-b to claim after expiry', async () => {
      const c = await h.cluster.leases.claim(G, 'gw-b', { floor: 0, ttlMs: 60_000, waitedFullTtl: true });
      return c.ok ? c : undefined;
    });
    const r = await interact(h, commandInteraction({ guildId: G }));
    expect((await claim).epoch).toBe(2);
    expect(r.body).toEqual({ type: 4, data: { content: 'hello from gw-b' } });
    expect(r.ms).toBeLessThan(3000);
    expect(b.requests.map((q) => [q.owner, q.epoch])).toEqual([['gw-b', 2]]);
  });

  it('a dropped connection sends the edge back to Redis, where the lease has moved', async () => {
    const { h, gw } = await setup();
    const [a, b] = gw as [FakeGateway, FakeGateway];
    const G = snowflake();
    await h.lease(G, 'gw-a');
    await h.routed(G, 'gw-a');
    a.behave(async () => {
      await h.lease(G, 'gw-b');
      return 'drop' as const;
    });
    const r = await interact(h, commandInteraction({ guildId: G }));
    expect(r.body).toEqual({ type: 4, data: { content: 'hello from gw-b' } });
    expect(a.requests).toHaveLength(1);
    expect(b.requests.map((q) => [q.owner, q.epoch])).toEqual([['gw-b', 2]]);
  });

  it('a live owner that drops one connection is simply asked again', async () => {
    const { h, gw } = await setup();
    const [a] = gw as [FakeGateway];
    const G = snowflake();
    await h.lease(G, 'gw-a');
    await h.routed(G, 'gw-a');
    let n = 0;
    a.behave(() => (n++ === 0 ? 'drop' : { status: 200, body: { type: 4, data: { content: 'second try' } } }));
    const r = await interact(h, commandInteraction({ guildId: G }));
    expect(r.body).toEqual({ type: 4, data: { content: 'second try' } });
    expect(a.requests).toHaveLength(2);
  });

  it('a DM interaction skips a dead gateway and is answered by another', async () => {
    const { h, gw } = await setup();
    const [a] = gw as [FakeGateway];
    await a.kill();
    for (let i = 0; i < 4; i++) {
      const r = await interact(h, commandInteraction({}));
      expect(r.body).toEqual({ type: 4, data: { content: 'hello from gw-b' } });
    }
  });

  it('with no gateway at all, the interaction is deferred in time and left for the first owner', async () => {
    const { h } = await setup({ timing: { deferAfterMs: 300, lateDeferAfterMs: 800, followThroughMs: 1000 } }, []);
    const G = snowflake();
    const interaction = commandInteraction({ guildId: G });
    const r = await interact(h, interaction);
    expect(r.body).toEqual({ type: 5 });
    expect(r.ms).toBeLessThan(3000);
    expect((await h.edge.pending.get(interaction['id'] as string))?.state).toBe('deferred');
  });
});
