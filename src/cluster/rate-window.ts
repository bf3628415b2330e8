// A budget shared by every pod through Redis: at most `limit` uses per window. The window starts
// at its first use and is kept by the key's TTL, so no pod's clock is involved.
import type { Keys } from './keys.js';
import type { Scripts } from './scripts.js';

export interface WindowState {
  readonly allowed: boolean;
  readonly count: number;
  readonly resetInMs: number;
}

/** A budget counted by one of the rate scripts; the subclasses say which. */
abstract class ScriptedBudget {
  protected abstract readonly script: 'rateWindow' | 'rateSliding';

  constructor(
    private readonly scripts: Scripts,
    private readonly keys: Keys,
    readonly name: string,
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Take `cost` uses if the budget allows; never waits. */
  async tryTake(cost = 1): Promise<WindowState> {
    const r = await this.scripts.run(this.script, [this.keys.rate(this.name)], [this.limit, this.windowMs, cost]);
    if (typeof r[0] === 'number' && r.length === 2) throw new Error(`rate window ${this.name}: ${String(r[1])}`);
    return { allowed: Number(r[0]) === 1, count: Number(r[1]), resetInMs: Math.max(0, Number(r[2])) };
  }

  /** Wait until a use can be taken (abortable), then take it. */
  async take(signal?: AbortSignal, cost = 1): Promise<WindowState> {
    for (;;) {
      signal?.throwIfAborted();
      const s = await this.tryTake(cost);
      if (s.allowed) return s;
      await sleep(Math.max(1, s.resetInMs), signal);
    }
  }
}

/** What the REST limiter needs of a shared budget. */
export type SharedBudget = ScriptedBudget;

/** Fixed windows (rate-window-1.lua): identify buckets, the invalid-request budget. */
export class SharedRateWindow extends ScriptedBudget {
  protected readonly script = 'rateWindow' as const;
}

/**
 * At most `limit` uses in any `windowMs` span (rate-sliding-1.lua), for budgets another party
 * counts in windows of its own alignment (Discord's global REST limit). Costs a sorted-set entry
 * per use in the window.
 */
export class SlidingRateWindow extends ScriptedBudget {
  protected readonly script = 'rateSliding' as const;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
