// One handle on the cluster's Redis state for a process: connection, scripts, keys and the
// typed clients built on them. Roles and the admin CLI open one of these and close it at exit.
import type { Redis } from 'ioredis';
import { createKeys, type Keys } from './keys.js';
import { Scripts } from './scripts.js';
import { LeaseClient } from './leases.js';
import { ControlClient } from './controls.js';
import { connectRedis } from './redis.js';

export interface ClusterClient {
  readonly redis: Redis;
  readonly keys: Keys;
  readonly scripts: Scripts;
  readonly leases: LeaseClient;
  readonly controls: ControlClient;
  readonly maxLen: number;
  close(): Promise<void>;
}

export function createClusterClient(redis: Redis, keyPrefix: string, maxLen: number): ClusterClient {
  const keys = createKeys(keyPrefix);
  const scripts = new Scripts(redis);
  return {
    redis,
    keys,
    scripts,
    maxLen,
    leases: new LeaseClient(redis, scripts, keys, maxLen),
    controls: new ControlClient(redis, scripts, keys, maxLen),
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

export function openClusterClient(o: { redisUrl: string; keyPrefix: string; eventsMaxLen: number; name?: string }): ClusterClient {
  return createClusterClient(connectRedis(o.redisUrl, { name: o.name }), o.keyPrefix, o.eventsMaxLen);
}
