// Discord REST budgets shared by every pod through Redis (DESIGN §8): the global limit
// (50 requests/s per bot) and the invalid-request budget (10,000 401/403/429 answers per 10
// minutes, past which Cloudflare bans the IP). Plugged into discord.js as @discordjs/rest's
// `makeRequest`, so every call of every pod passes through it.
import { DefaultRestOptions, type ResponseLike } from '@discordjs/rest';
import type { Logger } from '../log.js';
import { metrics } from '../metrics.js';
import type { SharedBudget, SharedRateWindow } from '../cluster/rate-window.js';

export class InvalidRequestBudgetError extends Error {
  readonly code = 'INVALID_REQUEST_BUDGET';
}

export interface RestLimiterOptions {
  /** Sliding (SlidingRateWindow): Discord counts its second from its own first request. */
  readonly global: SharedBudget;
  readonly invalid: SharedRateWindow;
  /** Refuse to send once this many invalid requests are left in the window. */
  readonly invalidFloor: number;
  readonly logger: Logger;
  readonly makeRequest?: (url: string, init: RequestInit) => Promise<ResponseLike>;
}

const INVALID = new Set([401, 403, 429]);

/**
 * The window of the shared global budget: Discord's second plus a margin. The budget is a
 * sliding window, so at most the limit is sent in any such span, whatever the alignment of
 * Discord's own fixed second (which starts at a first request); the margin absorbs the jitter
 * between taking a slot and the request's arrival, at the cost of ~13 % of the throughput. A
 * fixed window of ours let a burst at the end of one window and one at the start of the next
 * arrive inside one of Discord's seconds (test/e2e/limits.test.ts: 23 global 429s with fixed
 * 1000 ms windows, and still 9 with fixed 1150 ms ones when the machine was busy).
 */
export const GLOBAL_WINDOW_MS = 1150;

export function sharedMakeRequest(o: RestLimiterOptions): (url: string, init: RequestInit) => Promise<ResponseLike> {
  const base = o.makeRequest ?? (DefaultRestOptions.makeRequest as unknown as (url: string, init: RequestInit) => Promise<ResponseLike>);
  let warnedAt = 0;
  return async (url, init) => {
    const invalid = await o.invalid.tryTake(0);
    if (invalid.count >= o.invalid.limit - o.invalidFloor) {
      if (Date.now() - warnedAt > 10_000) {
        warnedAt = Date.now();
        o.logger.error({ invalid: invalid.count, limit: o.invalid.limit, resetInMs: invalid.resetInMs }, 'Discord invalid-request budget nearly spent: REST calls refused until the window resets');
      }
      metrics.restRequests.inc({ status: 'refused' });
      throw new InvalidRequestBudgetError(`invalid-request budget nearly spent (${invalid.count}/${o.invalid.limit}); resets in ${invalid.resetInMs} ms`);
    }
    await o.global.take(init.signal ?? undefined);
    const res = await base(url, init);
    metrics.restRequests.inc({ status: String(res.status) });
    // A 429 from a shared (per-resource) bucket is not counted by Discord; others are.
    if (INVALID.has(res.status) && !(res.status === 429 && res.headers.get('x-ratelimit-scope') === 'shared')) await o.invalid.tryTake(1);
    return res;
  };
}
