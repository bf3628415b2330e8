// Every route of the edge through app.callback(): good input works, bad input gets a clear
// error and changes nothing in Redis or Postgres.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, APP_ID, commandInteraction, discordHeaders, discordKeys, notOwner, snowflake, startEdgeHarness, startFakeGateway, stateOf, type EdgeHarness, type FakeGateway } from './harness.js';

let h: EdgeHarness;
let gwA: FakeGateway;
let gwB: FakeGateway;
const G = snowflake();

beforeAll(async () => {
  h = await startEdgeHarness();
  gwA = await startFakeGateway('gw-a');
  gwB = await startFakeGateway('gw-b');
  await h.addGateway(gwA);
  await h.addGateway(gwB);
  await h.lease(G, 'gw-a');
  await h.routed(G, 'gw-a');
});
afterAll(async () => {
  await h.close();
  await gwA.kill();
  await gwB.kill();
});

async function post(path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown>; text: string; headers: Headers }> {
  const res = await fetch(`${h.url}${path}`, { method: 'POST', body, headers });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = {};
  }
  return { status: res.status, json, text, headers: res.headers };
}
async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.url}${path}`, { headers });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = {};
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** Run `fn` and assert it left Redis and Postgres exactly as they were, and reached no gateway. */
async function unchanged(fn: () => Promise<void>): Promise<void> {
  const before = await stateOf(h);
  const reqs = gwA.requests.length + gwB.requests.length;
  await fn();
  expect(await stateOf(h)).toEqual(before);
  expect(gwA.requests.length + gwB.requests.length).toBe(reqs);
}

const errorCode = (r: { json: Record<string, unknown> }) => (r.json['error'] as { code?: string } | undefined)?.code;

describe('POST /interactions: the signature is checked before anything else', () => {
  const body = JSON.stringify(commandInteraction({ guildId: G }));

  it('a signature by another key is 401 and reaches nobody', async () => {
    await unchanged(async () => {
      const r = await post('/interactions', body, discordHeaders(discordKeys(), body));
      expect(r.status).toBe(401);
      expect(errorCode(r)).toBe('BAD_SIGNATURE');
    });
  });

  it('a body changed after signing is 401', async () => {
    await unchanged(async () => {
      const headers = discordHeaders(h.keys, body);
      const r = await post('/interactions', body.replace('stats', 'setup'), headers);
      expect(r.status).toBe(401);
      expect(errorCode(r)).toBe('BAD_SIGNATURE');
    });
  });

  it('a stale timestamp is 401 even with a valid signature over it', async () => {
    await unchanged(async () => {
      const r = await post('/interactions', body, discordHeaders(h.keys, body, Math.floor(Date.now() / 1000) - 3600));
      expect(r.status).toBe(401);
      expect(errorCode(r)).toBe('STALE_TIMESTAMP');
    });
  });

  it('a missing timestamp or signature is 401, and so is a signature that is not 64 bytes of hex', async () => {
    await unchanged(async () => {
      const headers = discordHeaders(h.keys, body);
      const noTs = await post('/interactions', body, { 'content-type': 'application/json', 'x-signature-ed25519': headers['x-signature-ed25519'] as string });
      expect([noTs.status, errorCode(noTs)]).toEqual([401, 'MISSING_SIGNATURE']);
      const noSig = await post('/interactions', body, { 'content-type': 'application/json', 'x-signature-timestamp': headers['x-signature-timestamp'] as string });
      expect([noSig.status, errorCode(noSig)]).toEqual([401, 'MISSING_SIGNATURE']);
      const notHex = await post('/interactions', body, { ...headers, 'x-signature-ed25519': 'zz'.repeat(64) });
      expect([notHex.status, errorCode(notHex)]).toEqual([401, 'BAD_SIGNATURE']);
      const short = await post('/interactions', body, { ...headers, 'x-signature-ed25519': (headers['x-signature-ed25519'] as string).slice(0, 64) });
      expect([short.status, errorCode(short)]).toEqual([401, 'BAD_SIGNATURE']);
    });
  });

  it('PING is answered with PONG at the edge', async () => {
    await unchanged(async () => {
      const ping = JSON.stringify({ id: snowflake(), application_id: APP_ID, type: 1, version: 1 });
      const r = await post('/interactions', ping, discordHeaders(h.keys, ping));
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ type: 1 });
    });
  });

  it('signed but malformed JSON is 400 MALFORMED_JSON; a payload with a bad id is 400 BAD_INTERACTION', async () => {
    await unchanged(async () => {
      const bad = '{"type":2,';
      const r = await post('/interactions', bad, discordHeaders(h.keys, bad));
      expect([r.status, errorCode(r)]).toEqual([400, 'MALFORMED_JSON']);
      const wrongId = JSON.stringify({ ...commandInteraction({ guildId: G }), guild_id: '12345' });
      const r2 = await post('/interactions', wrongId, discordHeaders(h.keys, wrongId));
      expect([r2.status, errorCode(r2)]).toEqual([400, 'BAD_INTERACTION']);
      expect(String((r2.json['error'] as { message: string }).message)).toContain('guild_id');
      const otherApp = JSON.stringify({ ...commandInteraction({ guildId: G }), application_id: '222222222222222222' });
      const r3 = await post('/interactions', otherApp, discordHeaders(h.keys, otherApp));
      expect([r3.status, errorCode(r3)]).toEqual([400, 'WRONG_APPLICATION']);
    });
  });

  it('a body over 64 KiB is 413 before any signature work', async () => {
    await unchanged(async () => {
      const big = JSON.stringify({ ...commandInteraction({ guildId: G }), pad: 'x'.repeat(70_000) });
      const r = await post('/interactions', big, discordHeaders(h.keys, big));
      expect([r.status, errorCode(r)]).toEqual([413, 'BODY_TOO_LARGE']);
    });
  });

  it("a guild's command goes to its owner, signed with the owner and epoch the edge expects, and the owner's answer comes back", async () => {
    const interaction = commandInteraction({ guildId: G });
    const raw = JSON.stringify(interaction);
    const r = await post('/interactions', raw, discordHeaders(h.keys, raw));
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ type: 4, data: { content: 'hello from gw-a' } });
    const seen = gwA.requests.at(-1);
    expect(seen).toMatchObject({ method: 'POST', path: `/internal/guilds/${G}/interactions`, owner: 'gw-a', epoch: 1, body: raw });
    expect(seen?.deadlineAt).toBeGreaterThan(Date.now() - 5000);
  });

  it('a DM interaction goes to any ready gateway on the DM route', async () => {
    const raw = JSON.stringify(commandInteraction({}));
    const before = gwA.requests.length + gwB.requests.length;
    const r = await post('/interactions', raw, discordHeaders(h.keys, raw));
    expect(r.status).toBe(200);
    const all = [...gwA.requests, ...gwB.requests];
    expect(all.length).toBe(before + 1);
    expect(all.some((q) => q.path === '/internal/interactions' && q.owner !== undefined && q.epoch === undefined && q.body === raw)).toBe(true);
  });
});

describe('JSON API', () => {
  it('GET /api/cluster lists the members with their guild counts, pins, overrides and a leases summary', async () => {
    const r = await get('/api/cluster');
    expect(r.status).toBe(200);
    const members = r.json['members'] as { id: string; role: string; addr: string; guilds: number; draining: boolean }[];
    expect(members.map((m) => [m.id, m.role, m.addr, m.guilds, m.draining])).toEqual([
      ['gw-a', 'gateway', gwA.addr, 1, false],
      ['gw-b', 'gateway', gwB.addr, 0, false],
    ]);
    expect(r.json['pins']).toEqual([]);
    expect(r.json['leases']).toMatchObject({ total: 1, byOwner: { 'gw-a': 1, 'gw-b': 0 } });
    expect(Array.isArray(r.json['overrides'])).toBe(true);
  });

  it('GET /api/guilds/:id gives owner, epoch, since and the data epoch; bad ids are 400, unknown guilds 404', async () => {
    await h.store.commitEpoch(G, 'gw-a', 1, 'claim');
    await h.store.advanceDataEpoch(G, 1);
    const r = await get(`/api/guilds/${G}`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ guildId: G, owner: 'gw-a', epoch: 1, dataEpoch: 1, source: 'redis' });
    expect(r.json['since']).toBeGreaterThan(Date.now() - 120_000);
    await unchanged(async () => {
      const bad = await get('/api/guilds/not-a-guild');
      expect([bad.status, errorCode(bad)]).toEqual([400, 'BAD_GUILD_ID']);
      const tooBig = await get('/api/guilds/99999999999999999999');
      expect([tooBig.status, errorCode(tooBig)]).toEqual([400, 'BAD_GUILD_ID']);
      const unknown = await get(`/api/guilds/${snowflake()}`);
      expect([unknown.status, errorCode(unknown)]).toEqual([404, 'UNKNOWN_GUILD']);
    });
  });

  it('GET /api/guilds/:id/stats is forwarded to the owner and its JSON passed through', async () => {
    gwA.behave((q) => (q.path.endsWith('/stats') ? { status: 200, body: { guildId: G, messages: 42 } } : { status: 404, body: {} }));
    try {
      const r = await get(`/api/guilds/${G}/stats`);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ guildId: G, messages: 42 });
      expect(r.headers.get('x-leasehold-served-by')).toBe('gw-a');
      expect(gwA.requests.at(-1)).toMatchObject({ method: 'GET', path: `/internal/guilds/${G}/stats`, owner: 'gw-a', epoch: 1 });
      await unchanged(async () => {
        const bad = await get('/api/guilds/1/stats');
        expect([bad.status, errorCode(bad)]).toEqual([400, 'BAD_GUILD_ID']);
      });
    } finally {
      gwA.behave(() => ({ status: 200, body: { type: 4, data: { content: 'hello from gw-a' } } }));
    }
  });

  it('stats of a guild whose owner refuses and names nobody end in a clear 502 NOT_OWNER', async () => {
    gwA.behave(() => notOwner(null, null));
    try {
      const r = await get(`/api/guilds/${G}/stats`);
      expect([r.status, errorCode(r)]).toEqual([502, 'NOT_OWNER']);
    } finally {
      gwA.behave(() => ({ status: 200, body: { type: 4, data: { content: 'hello from gw-a' } } }));
    }
  });
});

describe('admin API', () => {
  const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };

  it('without a token, or with a wrong one, every admin route is 401 and nothing changes', async () => {
    await unchanged(async () => {
      for (const path of [`/api/admin/guilds/${G}/move`, '/api/admin/pods/gw-a/drain', '/api/admin/pods/gw-a/uncordon', '/api/admin/rebalance']) {
        const none = await post(path, JSON.stringify({ to: 'gw-b' }), { 'content-type': 'application/json' });
        expect([path, none.status, errorCode(none)]).toEqual([path, 401, 'UNAUTHORIZED']);
        expect(none.headers.get('www-authenticate')).toContain('Bearer');
        const wrong = await post(path, JSON.stringify({ to: 'gw-b' }), { authorization: `Bearer ${ADMIN}x`, 'content-type': 'application/json' });
        expect([path, wrong.status, errorCode(wrong)]).toEqual([path, 401, 'BAD_TOKEN']);
        const basic = await post(path, '{}', { authorization: `Basic ${Buffer.from(`x:${ADMIN}`).toString('base64')}` });
        expect([path, basic.status]).toEqual([path, 401]);
      }
    });
  });

  it('bad ids, bad bodies and unknown pods are clear 4xx errors that change nothing', async () => {
    await unchanged(async () => {
      const badGuild = await post('/api/admin/guilds/123/move', JSON.stringify({ to: 'gw-b' }), auth);
      expect([badGuild.status, errorCode(badGuild)]).toEqual([400, 'BAD_GUILD_ID']);
      const badJson = await post(`/api/admin/guilds/${G}/move`, '{"to":', auth);
      expect([badJson.status, errorCode(badJson)]).toEqual([400, 'MALFORMED_JSON']);
      const noTo = await post(`/api/admin/guilds/${G}/move`, JSON.stringify({ pod: 'gw-b' }), auth);
      expect([noTo.status, errorCode(noTo)]).toEqual([400, 'BAD_BODY']);
      const badPod = await post(`/api/admin/guilds/${G}/move`, JSON.stringify({ to: 'no such pod!' }), auth);
      expect([badPod.status, errorCode(badPod)]).toEqual([400, 'BAD_POD_ID']);
      const unknownPod = await post(`/api/admin/guilds/${G}/move`, JSON.stringify({ to: 'gw-zzz' }), auth);
      expect([unknownPod.status, errorCode(unknownPod)]).toEqual([404, 'UNKNOWN_POD']);
      const drainBad = await post('/api/admin/pods/bad%20pod/drain', '', auth);
      expect([drainBad.status, errorCode(drainBad)]).toEqual([400, 'BAD_POD_ID']);
      const big = await post(`/api/admin/guilds/${G}/move`, JSON.stringify({ to: 'x'.repeat(20_000) }), auth);
      expect([big.status, errorCode(big)]).toEqual([413, 'BODY_TOO_LARGE']);
    });
  });

  it('rebalance?dryRun=1 returns the plan with counts before and after and changes nothing', async () => {
    await unchanged(async () => {
      const r = await post('/api/admin/rebalance?dryRun=1', '', auth);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ dryRun: true, before: { 'gw-a': 1, 'gw-b': 0 }, ringMembers: ['gw-a', 'gw-b'] });
      const moves = r.json['moves'] as { guildId: string; from: string; to: string }[];
      const after = r.json['after'] as Record<string, number>;
      // Whatever the ring says, the plan and the counts agree with each other.
      expect(after['gw-a']! + after['gw-b']!).toBe(1);
      expect(moves.length).toBe(after['gw-a'] === 1 ? 0 : 1);
      expect(r.json['accepted']).toBeUndefined();
    });
  });

  it('move pins the guild (Redis and Postgres) and answers 202; drain cordons; uncordon lifts it; rebalance is accepted', async () => {
    const move = await post(`/api/admin/guilds/${G}/move`, JSON.stringify({ to: 'gw-b' }), { ...auth, authorization: 'Bearer admin-token-second' });
    expect(move.status).toBe(202);
    expect(move.json).toMatchObject({ accepted: true, guildId: G, to: 'gw-b', live: true });
    expect(await h.t.redis.get(h.t.keys.pin(G))).toBe('gw-b');
    expect((await h.store.listPins()).get(G)).toBe('gw-b');

    const plan = await post('/api/admin/rebalance', '', auth);
    expect(plan.status).toBe(202);
    expect(plan.json).toMatchObject({ accepted: true, dryRun: false, moves: [{ guildId: G, from: 'gw-a', to: 'gw-b', reason: 'pin' }], after: { 'gw-a': 0, 'gw-b': 1 } });

    const drain = await post('/api/admin/pods/gw-b/drain', '', auth);
    expect(drain.status).toBe(202);
    expect(await h.t.redis.get(h.t.keys.cordon('gw-b'))).toBe('drained via the admin API');
    expect((await h.store.listCordons()).has('gw-b')).toBe(true);

    const un = await post('/api/admin/pods/gw-b/uncordon', '', auth);
    expect(un.status).toBe(200);
    expect(un.json).toEqual({ podId: 'gw-b', wasCordoned: true });
    expect(await h.t.redis.exists(h.t.keys.cordon('gw-b'))).toBe(0);
  });
});

describe('portal and ops routes', () => {
  it('GET / and GET /guilds/:id render HTML; a bad guild id is a 400 page, not a stack trace', async () => {
    const home = await get('/');
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toContain('text/html');
    expect(home.text).toContain('gw-a');
    const guild = await get(`/guilds/${G}`);
    expect(guild.status).toBe(200);
    expect(guild.text).toContain(G);
    const bad = await get('/guilds/%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    expect(bad.status).toBe(400);
    expect(bad.text).not.toContain('<script>alert(1)</script>');
    expect(bad.text).toContain('&#60;script&#62;');
  });

  it('/metrics, /healthz and /readyz answer; unknown routes are 404 JSON and wrong methods 405 JSON', async () => {
    const m = await get('/metrics');
    expect(m.status).toBe(200);
    for (const name of ['leasehold_forward_seconds', 'leasehold_interactions_total', 'leasehold_interaction_deadline_misses_total']) expect(m.text).toContain(name);
    expect((await get('/healthz')).json).toEqual({ ok: true });
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json).toMatchObject({ ok: true, checks: { routing: { ok: true } } });
    const nf = await get('/nope');
    expect([nf.status, errorCode(nf)]).toEqual([404, 'NOT_FOUND']);
    const wrong = await get('/interactions');
    expect([wrong.status, errorCode(wrong)]).toEqual([405, 'METHOD_NOT_ALLOWED']);
  });
});
