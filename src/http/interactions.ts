// `POST /interactions`: Discord's webhook. Signature first (on the raw bytes), then parsing,
// then PING or the interaction handler; every outcome and deadline miss is counted.
import Router from '@koa/router';
import { InteractionResponseType, InteractionType } from 'discord-api-types/v10';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import { metrics } from '../metrics.js';
import type { DiscordSignatureVerifier } from './discord-signature.js';
import { parseInteraction } from './interaction-payload.js';
import { DISCORD_DEADLINE_MS, type InteractionHandler } from './interaction-handler.js';
import { parseJson, readRawBody } from '../runtime/raw-body.js';

export interface InteractionsRouteDeps {
  readonly signatures: DiscordSignatureVerifier;
  readonly applicationId: string;
  readonly handler: InteractionHandler;
  readonly clock: Clock;
  readonly bodyLimit: number;
}

// Labelled children made once (resolving labels per request is not free at thousands a second).
const outcomes = {
  answered: metrics.interactions.labels({ outcome: 'answered' }),
  deferred: metrics.interactions.labels({ outcome: 'deferred' }),
  failed: metrics.interactions.labels({ outcome: 'failed' }),
};

export function interactionsRouter(d: InteractionsRouteDeps): Router {
  const router = new Router();
  router.post('/interactions', async (ctx) => {
    const arrivedAt = d.clock.now();
    const raw = await readRawBody(ctx.req, d.bodyLimit);
    const sig = await d.signatures.check(ctx.get('x-signature-ed25519') || undefined, ctx.get('x-signature-timestamp') || undefined, raw, d.clock.wallNow());
    if (!sig.ok) throw new AppError(401, sig.code, sig.message);
    const interaction = parseInteraction(parseJson(raw));
    if (interaction.applicationId !== d.applicationId) throw new AppError(400, 'WRONG_APPLICATION', `interaction is for application ${interaction.applicationId}, this edge serves ${d.applicationId}`);
    if (interaction.type === InteractionType.Ping) {
      ctx.body = { type: InteractionResponseType.Pong };
      return;
    }
    const r = await d.handler.handle(interaction, raw, arrivedAt);
    outcomes[r.outcome].inc();
    ctx.res.once('finish', () => {
      if (d.clock.now() - arrivedAt > DISCORD_DEADLINE_MS) metrics.interactionDeadlineMisses.inc();
    });
    ctx.body = r.body;
  });
  return router;
}
