// Connecting to Redis the way every role does: ioredis with bounded retries, plus the
// start-up check that Redis runs with maxmemory-policy noeviction (DESIGN §3).
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { metrics } from '../metrics.js';

export function connectRedis(url: string, opts: { name?: string; lazy?: boolean } = {}): Redis {
  return new Redis(url, {
    connectionName: opts.name,
    lazyConnect: opts.lazy ?? false,
    // Fail commands fast while Redis is away; loops retry on their own schedule.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  });
}

/** Logs a warning (or throws when strict) unless maxmemory-policy is noeviction; exports a gauge. */
export async function checkEvictionPolicy(redis: Redis, logger: Logger, strict: boolean): Promise<boolean> {
  const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
  const policy = reply[1] ?? 'unknown';
  const ok = policy === 'noeviction';
  metrics.evictionPolicyOk.set(ok ? 1 : 0);
  if (!ok) {
    const msg = `Redis maxmemory-policy is ${policy}; leasehold needs noeviction (an evicted lease or epoch key breaks fencing). Run: redis-cli CONFIG SET maxmemory-policy noeviction`;
    if (strict) throw new Error(msg);
    logger.warn({ policy }, msg);
  }
  return ok;
}
