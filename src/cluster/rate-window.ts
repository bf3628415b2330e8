// A budget shared by every pod through Redis: at most `limit` uses per window. The window starts
// at its first use and is kept by the key's TTL, so no pod's clock is involved.
import type { Keys } from './keys.js';
import type { Scripts } from './scripts.js';

export interface WindowState {
  readonly allowed: boolean;
  readonly count: number;
  readonly resetInMs: number;
}

/** What the REST limiter needs of a shared budget. */
export interface SharedBudget {
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  tryTake(cost?: number): Promise<WindowState>;
  take(signal?: AbortSignal, cost?: number): Promise<WindowState>;
}

export class SharedRateWindow implements SharedBudget {
  constructor(
    private readonly scripts: Scripts,
    private readonly keys: Keys,
    readonly name: string,
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** Take `cost` uses if the budget allows; never waits. */
  async tryTake(cost = 1): Promise<WindowState> {
    const r = await this.scripts.run('rateWindow', [this.keys.rate(this.name)], [this.limit, this.windowMs, cost]);
    return windowState(this.name, r);
  }

  /** Wait until a use can be taken (abortable), then take it. */
  take(signal?: AbortSignal, cost = 1): Promise<WindowState> {
    return takeWhenAllowed(this, signal, cost);
  }
}

/**
 * At most `limit` uses in any `windowMs` span (rate-sliding-1.lua), for budgets another party
 * counts in windows of its own alignment (Discord's global REST limit). Costs a sorted-set entry
 * per use in the window.
 */
export class SlidingRateWindow implements SharedBudget {
  constructor(
    private readonly scripts: Scripts,
    private readonly keys: Keys,
    readonly name: string,
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  async tryTake(cost = 1): Promise<WindowState> {
    const r = await this.scripts.run('rateSliding', [this.keys.rate(this.name)], [this.limit, this.windowMs, cost]);
    return windowState(this.name, r);
  }

  take(signal?: AbortSignal, cost = 1): Promise<WindowState> {
    return takeWhenAllowed(this, signal, cost);
  }
}

function windowState(name: string, r: unknown[]): WindowState {
  if (typeof r[0] === 'number' && r.length === 2) throw new Error(`rate window ${name}: ${String(r[1])}`);
  return { allowed: Number(r[0]) === 1, count: Number(r[1]), resetInMs: Math.max(0, Number(r[2])) };
}

async function takeWhenAllowed(b: SharedBudget, signal: AbortSignal | undefined, cost: number): Promise<WindowState> {
  for (;;) {
    signal?.throwIfAborted();
    const s = await b.tryTake(cost);
    if (s.allowed) return s;
    await sleep(Math.max(1, s.resetInMs), signal);
  }
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
