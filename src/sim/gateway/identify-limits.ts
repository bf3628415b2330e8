// Discord's identify limits, decided in pure code: one identify per bucket
// (`shard % max_concurrency`) per window, and a daily total of session starts.
import type { APIGatewaySessionStartLimit } from 'discord-api-types/v10';
import type { Clock } from '../../clock.js';

/** How much earlier than the window's end an identify is still let in (see tryIdentify). */
export const IDENTIFY_TOLERANCE_MS = 50;

export interface IdentifyLimits {
  readonly windowMs: number;
  readonly maxConcurrency: number;
  /** Session starts per day (session_start_limit.total). */
  readonly total: number;
  readonly dailyWindowMs?: number;
}

export type IdentifyDecision =
  | { readonly ok: true; readonly bucket: number; readonly remaining: number }
  /** Another identify of this bucket inside the window: Discord answers op 9 (d: false). */
  | { readonly ok: false; readonly reason: 'concurrency'; readonly bucket: number; readonly retryAfterMs: number }
  /** The daily total is spent: Discord ends every session and resets the token. */
  | { readonly ok: false; readonly reason: 'daily'; readonly bucket: number; readonly resetAfterMs: number };

export class IdentifyLimiter {
  private readonly lastIdentifyAt = new Map<number, number>();
  private dayStartedAt: number;
  private used = 0;
  private readonly dailyWindowMs: number;

  constructor(
    private readonly clock: Clock,
    readonly limits: IdentifyLimits,
  ) {
    this.dayStartedAt = clock.now();
    this.dailyWindowMs = limits.dailyWindowMs ?? 86_400_000;
  }

  /** Decide an IDENTIFY for `shardId`; an accepted one uses up its bucket's window and one session start. */
  tryIdentify(shardId: number): IdentifyDecision {
    const now = this.clock.now();
    this.rollDay(now);
    const bucket = shardId % this.limits.maxConcurrency;
    if (this.used >= this.limits.total) return { ok: false, reason: 'daily', bucket, resetAfterMs: this.resetAfterMs(now) };
    const last = this.lastIdentifyAt.get(bucket);
    // A refused identify does not move the window: a client that waits it out gets in. The
    // tolerance absorbs the jitter between a client's throttle (which times identifies when it
    // releases them) and their arrival here; a client that does not wait at all is still refused.
    const tolerance = Math.min(IDENTIFY_TOLERANCE_MS, this.limits.windowMs / 10);
    if (last !== undefined && now - last < this.limits.windowMs - tolerance) return { ok: false, reason: 'concurrency', bucket, retryAfterMs: Math.ceil(this.limits.windowMs - (now - last)) };
    this.lastIdentifyAt.set(bucket, now);
    this.used += 1;
    return { ok: true, bucket, remaining: this.limits.total - this.used };
  }

  sessionStartLimit(): APIGatewaySessionStartLimit {
    const now = this.clock.now();
    this.rollDay(now);
    return { total: this.limits.total, remaining: Math.max(0, this.limits.total - this.used), reset_after: this.resetAfterMs(now), max_concurrency: this.limits.maxConcurrency };
  }

  private resetAfterMs(now: number): number {
    return Math.max(0, Math.ceil(this.dayStartedAt + this.dailyWindowMs - now));
  }

  private rollDay(now: number): void {
    if (now - this.dayStartedAt >= this.dailyWindowMs) {
      this.dayStartedAt = now;
      this.used = 0;
    }
  }
}
