// Identify throttling shared by every pod (DESIGN §4): one identify per max_concurrency bucket
// per window across the whole cluster, and none once Discord's daily session budget falls to
// the configured floor, so a crash loop cannot exhaust it. Plugged into discord.js through
// `ws.buildIdentifyThrottler` (the IIdentifyThrottler strategy of @discordjs/ws).
import type { Logger } from '../log.js';
import { metrics } from '../metrics.js';
import type { Keys } from '../cluster/keys.js';
import type { Scripts } from '../cluster/scripts.js';
import { SharedRateWindow, sleep } from '../cluster/rate-window.js';

export interface SessionBudget {
  readonly remaining: number;
  readonly total: number;
  readonly resetAfterMs: number;
  readonly maxConcurrency: number;
}

export interface IdentifyThrottleOptions {
  readonly scripts: Scripts;
  readonly keys: Keys;
  readonly logger: Logger;
  /** Discord's identify window per bucket (5 s). */
  readonly windowMs?: number;
  /** Stop identifying when this many session starts remain (keep some for operators). */
  readonly budgetFloor: number;
  /** Reads session_start_limit (from GET /gateway/bot). */
  readonly budget: () => Promise<SessionBudget>;
}

const IDENTIFY_MARGIN_MIN_MS = 250;

export class BudgetFloorError extends Error {
  readonly code = 'IDENTIFY_BUDGET_FLOOR';
}

export class RedisIdentifyThrottler {
  private readonly windows = new Map<number, SharedRateWindow>();
  private readonly windowMs: number;

  constructor(private readonly o: IdentifyThrottleOptions) {
    // Discord's window plus a margin: our window starts when a pod takes the slot, Discord's when
    // the IDENTIFY arrives, so the next identify may travel faster than the last one and land
    // inside Discord's window (op 9, a session start spent). 5 % of the window, at least 250 ms,
    // absorbs that (test/e2e/limits.test.ts drew a refusal without it on a loaded machine).
    const base = o.windowMs ?? 5000;
    this.windowMs = base + Math.max(IDENTIFY_MARGIN_MIN_MS, Math.ceil(base * 0.05));
  }

  async waitForIdentify(shardId: number, signal: AbortSignal): Promise<void> {
    for (;;) {
      const budget = await this.o.budget();
      metrics.identifyRemaining.set(budget.remaining);
      if (budget.remaining <= this.o.budgetFloor) {
        this.o.logger.error(
          { shard: shardId, remaining: budget.remaining, floor: this.o.budgetFloor, resetAfterMs: budget.resetAfterMs },
          'identify budget at its floor: not identifying until Discord resets it (raise IDENTIFY_BUDGET_FLOOR only if you know why)',
        );
        await sleep(Math.min(Math.max(budget.resetAfterMs, 1000), 60_000), signal);
        continue;
      }
      const bucket = shardId % Math.max(1, budget.maxConcurrency);
      let w = this.windows.get(bucket);
      if (!w) {
        w = new SharedRateWindow(this.o.scripts, this.o.keys, `identify:${bucket}`, 1, this.windowMs);
        this.windows.set(bucket, w);
      }
      const s = await w.tryTake();
      if (s.allowed) {
        this.o.logger.debug({ shard: shardId, bucket }, 'identify slot taken');
        return;
      }
      await sleep(Math.max(1, s.resetInMs), signal);
    }
  }
}
