// The REST pipeline in front of the route handlers, in Discord's order: route match (404 in
// Discord's JSON shape), bot authentication (401), the global and per-route rate limits (429
// with the X-RateLimit-* headers), then the handler; side-effect routes are logged as effects.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../clock.js';
import { AppError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SimCounters } from '../counters.js';
import { readBody, RouteTable, sendEmpty, sendJson } from '../http-util.js';
import type { EffectRecord } from '../records.js';
import type { SimLog } from '../sim-log.js';
import { normaliseToken, type Tokens } from '../tokens.js';
import * as E from './errors.js';
import type { BucketStatus, RestRateLimiter } from './rate-limits.js';
import type { EffectNote, Reply, RestRoute } from './routes.js';

export interface RestPipelineDeps {
  readonly routes: readonly RestRoute[];
  readonly limiter: RestRateLimiter;
  readonly tokens: Tokens;
  readonly counters: SimCounters;
  readonly log: SimLog;
  readonly clock: Clock;
  readonly logger: Logger;
}

const INVALID_STATUSES = new Set([401, 403, 429]);
const VERSION_PREFIX = /^\/v\d+(?=\/)/;

export function createRestHandler(d: RestPipelineDeps): (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => Promise<void> {
  const table = new RouteTable<RestRoute>();
  for (const r of d.routes) table.add(r.method, r.pattern, r);

  const bucketHeaders = (b: BucketStatus): Record<string, string> => ({
    'x-ratelimit-limit': String(b.limit),
    'x-ratelimit-remaining': String(b.remaining),
    'x-ratelimit-reset': ((d.clock.wallNow() + b.resetAfterMs) / 1000).toFixed(3),
    'x-ratelimit-reset-after': (b.resetAfterMs / 1000).toFixed(3),
    'x-ratelimit-bucket': b.hash,
  });

  return async (req, res, rawPath, query) => {
    d.counters.restRequests += 1;
    const method = req.method ?? 'GET';
    // `/api/v10/x` and `/api/x` both reach route `/x`, as on Discord.
    const path = rawPath.replace(VERSION_PREFIX, '');
    const matched = table.match(method, path);
    if (matched === undefined || 'methodNotAllowed' in matched) {
      const err = matched === undefined ? E.notFound() : E.methodNotAllowed();
      req.resume();
      return sendJson(res, err.status, err.body());
    }
    const route = matched.handler;
    const userAgent = req.headers['user-agent'] ?? '';
    const note: EffectNote = {};
    let reply: Reply;
    let headers: Record<string, string> = {};
    let bodyValue: unknown;
    try {
      const raw = await readBody(req);
      if (raw.length > 0) {
        try {
          bodyValue = JSON.parse(raw.toString('utf8'));
        } catch {
          throw E.invalidJson();
        }
      }
      let token: string | undefined;
      if (route.auth) {
        const header = req.headers['authorization'];
        token = header === undefined ? undefined : normaliseToken(header);
        if (!d.tokens.isValid(token)) throw E.unauthorized();
      }
      const decision = d.limiter.take(route.name, route.major(matched.params), route.auth ? token : undefined);
      if (!decision.ok) {
        const retryAfter = decision.retryAfterMs / 1000;
        d.counters.rest429 += 1;
        if (decision.scope === 'global') d.counters.rest429Global += 1;
        headers = {
          ...(decision.scope === 'user' ? bucketHeaders(decision.bucket) : {}),
          'retry-after': String(Math.max(1, Math.ceil(retryAfter))),
          'x-ratelimit-scope': decision.scope,
          ...(decision.scope === 'global' ? { 'x-ratelimit-global': 'true' } : {}),
        };
        reply = { status: 429, body: { message: 'You are being rate limited.', retry_after: Number(retryAfter.toFixed(3)), global: decision.scope === 'global' } };
      } else {
        headers = bucketHeaders(decision.bucket);
        reply = route.handle({ params: matched.params, query, body: bodyValue, token }, note);
      }
    } catch (err) {
      reply = errorReply(err, d.logger, method, path);
    }
    if (INVALID_STATUSES.has(reply.status)) d.counters.restInvalid += 1;
    if (note.deduplicated === true) d.counters.nonceDeduplicated += 1;
    if (route.effect) d.log.addEffect(effectRecord(d, method, route, path, userAgent, bodyValue, reply.status, note));
    if (reply.body === undefined) sendEmpty(res, reply.status, headers);
    else sendJson(res, reply.status, reply.body, headers);
  };
}

function errorReply(err: unknown, logger: Logger, method: string, path: string): Reply {
  if (err instanceof E.DiscordApiError) return { status: err.status, body: err.body() };
  // World errors (a guild the bot was removed from) answer as Discord would: no access.
  if (err instanceof AppError) return { status: err.status === 409 ? 403 : err.status, body: { message: err.message, code: err.status === 404 ? 10003 : 50001 } };
  logger.error({ err, method, path }, 'REST handler failed');
  return { status: 500, body: { message: `500: Internal Server Error (${errorMessage(err)})`, code: 0 } };
}

function effectRecord(d: RestPipelineDeps, method: string, route: RestRoute, path: string, userAgent: string, body: unknown, status: number, note: EffectNote): EffectRecord {
  return {
    n: d.log.nextEffectN,
    at: d.clock.wallNow(),
    method,
    route: route.pattern,
    path,
    ...(note.guildId !== undefined ? { guildId: note.guildId } : {}),
    ...(note.channelId !== undefined ? { channelId: note.channelId } : {}),
    ...(note.nonce !== undefined ? { nonce: note.nonce } : {}),
    ...(note.enforceNonce !== undefined ? { enforceNonce: note.enforceNonce } : {}),
    deduplicated: note.deduplicated === true,
    status,
    userAgent,
    body: body ?? null,
    ...(note.messageId !== undefined ? { messageId: note.messageId } : {}),
    ...(note.interactionId !== undefined ? { interactionId: note.interactionId } : {}),
  };
}
