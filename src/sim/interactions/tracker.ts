// Interactions the stand-in has sent, by id and by token: whether (and how) each was
// acknowledged, and whether a deferred one got its edit or follow-up within the token's life.
import { InteractionResponseType } from 'discord-api-types/v10';
import type { Clock } from '../../clock.js';
import { Fifo } from '../fifo.js';
import type { InteractionRecord } from '../records.js';
import type { SimLog } from '../sim-log.js';

/** Discord's deadline for the first response. */
export const RESPONSE_DEADLINE_MS = 3000;
/** How long an interaction token works for edits and follow-ups. */
export const TOKEN_LIFETIME_MS = 15 * 60_000;

export interface TrackedInteraction {
  readonly record: InteractionRecord;
  readonly token: string;
  readonly channelId: string | null;
  /** Monotonic ms it was sent. */
  readonly sentAtMono: number;
  /** Monotonic ms of the first acknowledgement (HTTP answer or callback), if any. */
  acknowledgedAt: number | undefined;
  originalMessageId: string | undefined;
}

export class InteractionTracker {
  private readonly byIdMap = new Map<string, TrackedInteraction>();
  private readonly byTokenMap = new Map<string, TrackedInteraction>();
  private readonly order = new Fifo<TrackedInteraction>();

  constructor(
    private readonly log: SimLog,
    private readonly clock: Clock,
  ) {}

  track(t: TrackedInteraction): void {
    this.byIdMap.set(t.record.id, t);
    this.byTokenMap.set(t.token, t);
    this.order.push(t);
    this.prune();
  }

  byId(id: string): TrackedInteraction | undefined {
    return this.byIdMap.get(id);
  }

  byToken(token: string): TrackedInteraction | undefined {
    return this.byTokenMap.get(token);
  }

  tokenExpired(t: TrackedInteraction): boolean {
    return this.clock.now() - t.sentAtMono > TOKEN_LIFETIME_MS;
  }

  /** First acknowledgement wins; returns false if it was acknowledged already. */
  acknowledge(t: TrackedInteraction, type: number): boolean {
    if (t.acknowledgedAt !== undefined) return false;
    const now = this.clock.now();
    t.acknowledgedAt = now;
    const r = t.record;
    r.responseType ??= type;
    r.deferred = type === InteractionResponseType.DeferredChannelMessageWithSource || type === InteractionResponseType.DeferredMessageUpdate;
    return true;
  }

  /** An edit of the original response or a follow-up arrived through the webhook. */
  followUp(t: TrackedInteraction): void {
    const r = t.record;
    if (r.followedUp || this.tokenExpired(t)) return;
    r.followedUp = true;
    r.followUpAt = this.clock.wallNow();
    this.log.interactionChanged(r);
  }

  /** Acknowledged within Discord's 3 s? */
  acknowledgedInTime(t: TrackedInteraction): boolean {
    return t.acknowledgedAt !== undefined && t.acknowledgedAt - t.sentAtMono <= RESPONSE_DEADLINE_MS;
  }

  // Entries live a little past the token's lifetime so late webhooks get "expired", not "unknown".
  private prune(): void {
    const cutoff = this.clock.now() - TOKEN_LIFETIME_MS * 2;
    for (let t = this.order.peek(); t !== undefined && t.sentAtMono < cutoff; t = this.order.peek()) {
      this.order.shift();
      this.byIdMap.delete(t.record.id);
      this.byTokenMap.delete(t.token);
    }
  }
}
