// The control API (JSON over HTTP under /control) the demo, chaos tests and other processes use
// to drive the stand-in: world changes, messages, traffic, interactions, gateway faults, logs.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { readBody, RouteTable, sendJson } from './http-util.js';
import type { RecordKind } from './sim-log.js';
import type { Sim } from './sim.js';

type Params = Readonly<Record<string, string>>;
type ControlRoute = (sim: Sim, p: Params, body: unknown, q: URLSearchParams) => Promise<{ status: number; body: unknown }> | { status: number; body: unknown };

const snowflake = z.string().regex(/^\d{17,20}$/, 'expected a snowflake');
const shardBody = z.object({ shard: z.number().int().min(0).optional() }).default({});

const schemas = {
  guilds: z.union([
    z.object({ count: z.number().int().min(1).max(100_000) }).strict(),
    z.object({ id: snowflake.optional(), name: z.string().min(2).max(100).optional(), channels: z.number().int().min(1).max(500).optional(), members: z.number().int().min(0).max(100_000).optional() }).strict(),
  ]),
  channel: z.object({ name: z.string().min(1).max(100).optional() }).default({}),
  member: z.object({ userId: snowflake.optional() }).default({}),
  message: z.object({ guildId: snowflake, channelId: snowflake.optional(), authorId: snowflake.optional(), content: z.string().max(4000) }),
  traffic: z
    .object({
      ratePerSec: z.number().min(0).max(1_000_000),
      durationMs: z.number().int().positive().optional(),
      count: z.number().int().positive().optional(),
      guildIds: z.array(snowflake).min(1).optional(),
      interactions: z.object({ url: z.url(), ratePerSec: z.number().positive().max(10_000), badSignatureEvery: z.number().int().min(1).optional() }).optional(),
    })
    .strict(),
  interaction: z.object({
    url: z.url(),
    guildId: snowflake.optional(),
    channelId: snowflake.optional(),
    userId: snowflake.optional(),
    kind: z.enum(['command', 'message_command', 'component', 'ping']),
    name: z.string().min(1).max(32).optional(),
    options: z.array(z.looseObject({ name: z.string(), type: z.number().int() })).optional(),
    targetMessageId: snowflake.optional(),
    customId: z.string().min(1).max(100).optional(),
    badSignature: z.boolean().optional(),
  }),
  acks: z.object({ enabled: z.boolean() }),
  invalidate: z.object({ resumable: z.boolean(), shard: z.number().int().min(0).optional() }),
};

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw new AppError(400, 'BAD_REQUEST', z.prettifyError(r.error));
  return r.data;
}

const ok = (body: unknown, status = 200) => ({ status, body });

const LOG_KINDS: Record<string, RecordKind> = { dispatches: 'dispatch', effects: 'effect', interactions: 'interaction' };

function routes(): RouteTable<ControlRoute> {
  const t = new RouteTable<ControlRoute>();
  t.add('GET', '/state', (sim) => ok(sim.state.snapshot()));
  t.add('POST', '/guilds', (sim, _p, body) => {
    const b = parse(schemas.guilds, body);
    return ok({ guilds: 'count' in b ? sim.createGuilds(b.count) : [sim.createGuild(b)] }, 201);
  });
  t.add('DELETE', '/guilds/:id', (sim, p) => ok({ guild: sim.removeGuild(p['id'] ?? '') }));
  t.add('POST', '/guilds/:id/channels', (sim, p, body) => ok(sim.createChannel(p['id'] ?? '', parse(schemas.channel, body).name), 201));
  t.add('POST', '/guilds/:id/members', (sim, p, body) => ok(sim.addMember(p['id'] ?? '', parse(schemas.member, body).userId), 201));
  t.add('POST', '/messages', (sim, _p, body) => ok(sim.postMessage(parse(schemas.message, body)), 201));
  t.add('POST', '/traffic', (sim, _p, body) => {
    const handle = sim.startTraffic(parse(schemas.traffic, body));
    return ok({ id: handle.id }, 201);
  });
  t.add('GET', '/traffic/:id', (sim, p) => {
    const handle = sim.traffic(p['id'] ?? '');
    if (!handle) throw new AppError(404, 'UNKNOWN_TRAFFIC', `no traffic run ${p['id']}`);
    return ok({ id: handle.id, sent: handle.sent() });
  });
  t.add('DELETE', '/traffic/:id', async (sim, p) => {
    const handle = sim.traffic(p['id'] ?? '');
    if (!handle) throw new AppError(404, 'UNKNOWN_TRAFFIC', `no traffic run ${p['id']}`);
    handle.stop();
    return ok(await handle.done);
  });
  t.add('POST', '/interactions', async (sim, _p, body) => ok(await sim.sendInteraction(parse(schemas.interaction, body) as Parameters<Sim['sendInteraction']>[0]), 201));
  t.add('GET', '/log/:kind', (sim, p, _b, q) => {
    const kind = LOG_KINDS[p['kind'] ?? ''];
    if (kind === undefined) throw new AppError(404, 'UNKNOWN_LOG', `no log ${p['kind']}: dispatches, effects or interactions`);
    const after = Number(q.get('after') ?? '0');
    const limit = Number(q.get('limit') ?? '10000');
    if (!Number.isInteger(after) || after < 0 || !Number.isInteger(limit) || limit < 1) throw new AppError(400, 'BAD_REQUEST', 'after must be a whole number ≥ 0 and limit ≥ 1');
    return ok(sim.log.page(kind, after, Math.min(limit, 100_000)));
  });
  t.add('POST', '/gateway/heartbeat-acks', (sim, _p, body) => {
    const { enabled } = parse(schemas.acks, body);
    sim.gateway.setHeartbeatAcks(enabled);
    return ok({ enabled });
  });
  t.add('POST', '/gateway/drop', (sim, _p, body) => ok({ connections: sim.gateway.drop(parse(shardBody, body).shard) }));
  t.add('POST', '/gateway/reconnect', (sim, _p, body) => ok({ connections: sim.gateway.reconnect(parse(shardBody, body).shard) }));
  t.add('POST', '/gateway/invalidate', (sim, _p, body) => {
    const b = parse(schemas.invalidate, body);
    return ok({ connections: sim.gateway.invalidate(b.resumable, b.shard) });
  });
  return t;
}

export function createControlHandler(sim: Sim): (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => Promise<void> {
  const table = routes();
  return async (req, res, path, query) => {
    const matched = table.match(req.method ?? 'GET', path);
    if (matched === undefined || 'methodNotAllowed' in matched) {
      req.resume();
      return sendJson(res, matched === undefined ? 404 : 405, { error: { code: matched === undefined ? 'NOT_FOUND' : 'METHOD_NOT_ALLOWED', message: `${req.method} /control${path}` } });
    }
    try {
      const raw = await readBody(req, 1024 * 1024);
      let body: unknown;
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new AppError(400, 'BAD_JSON', 'the body is not JSON');
        }
      }
      const r = await matched.handler(sim, matched.params, body, query);
      sendJson(res, r.status, r.body);
    } catch (err) {
      if (err instanceof AppError) return sendJson(res, err.status, { error: { code: err.code, message: err.message } });
      if (err instanceof RangeError) return sendJson(res, 400, { error: { code: 'BAD_REQUEST', message: err.message } });
      throw err;
    }
  };
}
