// One interaction from arrival to Discord's first response (DESIGN §6, docs/internal-api.md):
// forward to the owner; answer directly if its reply is in hand by ~2.5 s, else record a
// deferral and answer with a deferred response; late replies become edits of the original.
import { InteractionResponseType, InteractionType, MessageFlags } from 'discord-api-types/v10';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { metrics } from '../metrics.js';
import type { PendingInteractions } from '../cluster/pending-interactions.js';
import type { ForwardRequest, ForwardResult, Forwarder } from './forwarder.js';
import type { WebhookClient } from './discord-webhooks.js';
import { deferredResponseFor, parseInteractionReply, type Interaction } from './interaction-payload.js';

export interface InteractionTiming {
  /** No reply in hand this long after arrival: defer (Discord's deadline is 3 s). */
  readonly deferAfterMs: number;
  /** The deferral lost to an answer still in transit: wait for it until here, then defer anyway. */
  readonly lateDeferAfterMs: number;
  /** Keep trying to reach the owner this long in all (a failover takes TTL + a few seconds). */
  readonly followThroughMs: number;
  /** Longest wait for one attempt's reply before the lease is read again. */
  readonly attemptTimeoutMs: number;
}

export const DEFAULT_INTERACTION_TIMING: InteractionTiming = {
  deferAfterMs: 2500,
  lateDeferAfterMs: 2900,
  followThroughMs: 60_000,
  attemptTimeoutMs: 10_000,
};

export const DISCORD_DEADLINE_MS = 3000;

export type InteractionOutcome = 'answered' | 'deferred' | 'failed';

export interface HandledInteraction {
  /** The JSON to send Discord now. */
  readonly body: Record<string, unknown>;
  readonly outcome: InteractionOutcome;
}

export interface InteractionHandlerDeps {
  readonly forwarder: Pick<Forwarder, 'forwardGuild' | 'forwardAny'>;
  readonly pending: PendingInteractions;
  readonly webhooks: WebhookClient;
  readonly podId: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly timing?: Partial<InteractionTiming>;
}

type Reply =
  | { kind: 'answer'; body: { type: number; data?: Record<string, unknown> } }
  /** The gateway completed it itself through the webhook (202). */
  | { kind: 'completed_by_owner' }
  | { kind: 'failed'; message: string };

const FAILURE_TEXT = 'Sorry, the bot could not handle this right now. Please try again in a moment.';

export class InteractionHandler {
  readonly timing: InteractionTiming;
  private readonly background = new Set<Promise<void>>();

  constructor(private readonly deps: InteractionHandlerDeps) {
    this.timing = { ...DEFAULT_INTERACTION_TIMING, ...deps.timing };
  }

  /** Work still running after first responses (late edits). */
  get inFlight(): number {
    return this.background.size;
  }

  /**
   * Handle a verified, parsed interaction; `raw` is the body as Discord sent it and `arrivedAt`
   * the monotonic time the request arrived (the 3 s count from there, not from now).
   */
  async handle(i: Interaction, raw: Buffer, arrivedAt: number): Promise<HandledInteraction> {
    const { clock } = this.deps;
    // Made only when something is logged: a child logger per request costs on the hot path.
    let child: Logger | undefined;
    const log = (): Logger => (child ??= this.deps.logger.child({ interaction: i.id, guild: i.guildId }));
    const arrivedWall = clock.wallNow() - (clock.now() - arrivedAt);
    const req: ForwardRequest = {
      method: 'POST',
      path: i.guildId ? `/internal/guilds/${i.guildId}/interactions` : '/internal/interactions',
      body: raw,
      deadlineAt: arrivedWall + this.timing.lateDeferAfterMs,
      budgetMs: this.timing.followThroughMs,
      attemptTimeoutMs: this.timing.attemptTimeoutMs,
      // A failover takes a lease TTL plus a few seconds: keep re-reading the lease for the whole
      // follow-through (backoff reaches 500 ms, so this bounds nothing sooner than the budget).
      maxAttempts: Math.ceil(this.timing.followThroughMs / 500) + 10,
    };
    const forwarding = (i.guildId ? this.deps.forwarder.forwardGuild(i.guildId, req) : this.deps.forwarder.forwardAny(req)).then(
      (r) => interpret(r),
      (err: unknown): Reply => ({ kind: 'failed', message: String(err) }),
    );

    const early = await within(forwarding, arrivedAt + this.timing.deferAfterMs - clock.now());
    if (early) {
      if (early.kind === 'answer') return { body: early.body, outcome: 'answered' };
      log().warn({ reason: early.kind === 'failed' ? early.message : 'owner completed an interaction nobody deferred' }, 'interaction failed before the deadline');
      return { body: failureResponse(i), outcome: 'failed' };
    }

    const deferred = deferredResponseFor(i);
    if (!deferred.needsEdit) {
      // Autocomplete cannot be deferred: the empty list keeps the deadline; the late reply is moot.
      this.track(forwarding.then(() => undefined));
      return { body: { ...deferred.body }, outcome: 'failed' };
    }
    const record = {
      interactionId: i.id,
      guildId: i.guildId,
      applicationId: i.applicationId,
      token: i.token,
      responseType: deferred.body.type,
      flags: deferred.flags,
      deadlineAt: arrivedWall + DISCORD_DEADLINE_MS,
      edge: this.deps.podId,
      payload: raw.toString('utf8'),
    };
    const lateAt = arrivedAt + this.timing.lateDeferAfterMs;
    const d = await within(this.deps.pending.defer(record, { late: false }).catch((err: unknown) => {
      log().warn({ err }, 'recording the deferral failed (Redis?); deferring without a record');
      return undefined;
    }), lateAt - clock.now());

    if (d?.recorded) {
      // The owner will find `deferred` when it resolves, and edit the original itself.
      this.track(this.afterDeferral(i, forwarding, log));
      return { body: { ...deferred.body }, outcome: 'deferred' };
    }
    if (d && d.state === 'answered') {
      // The owner resolved first: its reply is on the wire. Wait for it as long as we dare.
      const late = await within(forwarding, lateAt - clock.now());
      if (late?.kind === 'answer') return { body: late.body, outcome: 'answered' };
      if (late) {
        log().warn({ reason: late.kind === 'failed' ? late.message : 'unexpected 202' }, 'answered interaction failed in transit');
        return { body: failureResponse(i), outcome: 'failed' };
      }
      // Answer now and record `deferred_late` behind the response (the deadline does not wait for
      // Redis); the edge's own edit waits for that record, so a later `take` cannot race it.
      const recorded = this.deps.pending.defer(record, { late: true }).then(
        () => undefined,
        (err: unknown) => log().warn({ err }, 'recording the late deferral failed'),
      );
      this.track(recorded.then(() => this.afterDeferral(i, forwarding, log)));
      return { body: { ...deferred.body }, outcome: 'deferred' };
    } else if (d === undefined) {
      // No record (Redis slow or down): the owner cannot learn that we deferred, so its reply
      // comes back to us. Wait for it until the last moment, then defer and edit it in ourselves.
      const late = await within(forwarding, lateAt - clock.now());
      if (late?.kind === 'answer') return { body: late.body, outcome: 'answered' };
    }
    this.track(this.afterDeferral(i, forwarding, log));
    return { body: { ...deferred.body }, outcome: 'deferred' };
  }

  /** Wait for background edits (shutdown), at most `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    await within(Promise.allSettled([...this.background]), timeoutMs);
  }

  private track(p: Promise<void>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /**
   * After a deferred first response: an answer that still comes back to us (the owner saw no
   * `deferred` record, or could not reach Redis) is ours to edit in, unless someone else is already
   * completing it.
   */
  private async afterDeferral(i: Interaction, forwarding: Promise<Reply>, log: () => Logger): Promise<void> {
    const reply = await forwarding;
    if (reply.kind === 'completed_by_owner') return;
    let data: Record<string, unknown>;
    if (reply.kind === 'failed') {
      // Unreachable for the whole follow-through: the record (with the payload) is left for the
      // guild's next owner to find among its leftovers.
      log().warn({ reason: reply.message }, 'deferred interaction: owner never answered; left to the next owner');
      return;
    }
    if (reply.body.type === InteractionResponseType.Modal || reply.body.type === InteractionResponseType.ApplicationCommandAutocompleteResult) {
      log().warn({ type: reply.body.type }, 'a late reply of this type cannot replace a deferred response');
      data = { content: FAILURE_TEXT };
    } else {
      data = reply.body.data ?? {};
    }
    const take = await this.deps.pending.take(i.id, this.deps.podId).catch((err: unknown) => {
      log().warn({ err }, 'claiming the late edit failed (Redis?); editing anyway');
      return { kind: 'missing' as const };
    });
    if (take.kind === 'busy' || take.kind === 'completed') return;
    const edited = await this.deps.webhooks.editOriginal(i.applicationId, i.token, data);
    if (!edited.ok) {
      log().warn({ status: edited.status, msg: edited.message }, 'editing the deferred response failed');
      return;
    }
    if (take.kind === 'complete') await this.deps.pending.complete(i.id, this.deps.podId).catch((err: unknown) => log().warn({ err }, 'marking the interaction completed failed'));
  }
}

function interpret(r: ForwardResult): Reply {
  if (!r.ok) return { kind: 'failed', message: `${r.code}: ${r.message}` };
  if (r.status === 202) return { kind: 'completed_by_owner' };
  if (r.status !== 200) return { kind: 'failed', message: `owner ${r.pod} answered ${r.status}: ${r.body.toString('utf8').slice(0, 200)}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.body.toString('utf8'));
  } catch {
    return { kind: 'failed', message: `owner ${r.pod} sent a reply that is not JSON` };
  }
  const body = parseInteractionReply(parsed);
  return body ? { kind: 'answer', body } : { kind: 'failed', message: `owner ${r.pod} sent a reply that is not an interaction response` };
}

function failureResponse(i: Interaction): Record<string, unknown> {
  if (i.type === InteractionType.ApplicationCommandAutocomplete) return { type: InteractionResponseType.ApplicationCommandAutocompleteResult, data: { choices: [] } };
  return { type: InteractionResponseType.ChannelMessageWithSource, data: { content: FAILURE_TEXT, flags: MessageFlags.Ephemeral } };
}

/** The promise's value if it settles within `ms`, else undefined (the promise keeps running). */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  if (ms <= 0) return Promise.race([p, Promise.resolve(undefined)]);
  return new Promise<T | undefined>((resolve, reject) => {
    const t = setTimeout(() => resolve(undefined), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
