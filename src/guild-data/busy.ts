// Waiting for a SQLite lock without stopping the event loop. SQLite's own busy handler
// (busy_timeout) sleeps on the calling thread, and better-sqlite3 calls it on the only thread a
// gateway has: a Litestream process holding a guild's write lock (its checkpoints, its seq
// table; it runs niced, so under CPU contention it holds the lock longer) then froze the whole
// pod, renewals and fences included — a 5 s busy_timeout was a 5 s stall and every lease lost at
// a short TTL. The handler now gets a few milliseconds; past that the caller backs off on a
// timer and tries again, and the rest of the pod runs meanwhile.

/** SQLite's busy handler on the event loop's thread: the longest it may sleep there. */
export const SYNC_BUSY_MS = 10;

/** SQLITE_BUSY and its extended codes (SQLITE_BUSY_RECOVERY, _SNAPSHOT, _TIMEOUT). */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** Delay before the `attempt`-th retry (0-based): 5, 10, 20, 40, 80, 100, 100… ms, with jitter. */
export function busyBackoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(100, 5 * 2 ** Math.min(attempt, 10));
  return Math.round(base / 2 + random() * (base / 2));
}

/**
 * Run `fn` until it does not fail with SQLITE_BUSY, waiting between tries on a timer, for at most
 * `budgetMs` in all; then the last SQLITE_BUSY is thrown. `fn` must change nothing when it fails
 * busy (a statement that could not take its lock did not run); `retryIf` narrows what is retried.
 */
export async function retryBusy<T>(budgetMs: number, fn: () => T | Promise<T>, o: { retryIf?: (err: unknown) => boolean; now?: () => number } = {}): Promise<T> {
  const now = o.now ?? (() => performance.now());
  const retryIf = o.retryIf ?? isBusy;
  const deadline = now() + budgetMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!retryIf(err)) throw err;
      const wait = busyBackoffMs(attempt);
      if (now() + wait > deadline) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
