// Exponential backoff with jitter, for restarting a crashed Litestream and retrying a restore.

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Fraction of the delay added at random (0–1), so many retries do not line up. */
  readonly jitter?: number;
}

/** Delay before retry number `attempt` (1 = the first retry). */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (1 + (policy.jitter ?? 0) * random()));
}
