// Per-test access to the shared servers: a random Redis key prefix and a private Postgres schema,
// both removed by cleanup(). Never FLUSHALL or stop the shared servers.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createKeys, type Keys } from '../../src/cluster/keys.js';
import { deleteByPrefix } from '../../src/cluster/leases.js';

export const redisUrl = (): string => inject('redisUrl');
export const databaseUrl = (): string => inject('databaseUrl');

export function randomId(len = 8): string {
  return randomBytes(len).toString('hex').slice(0, len);
}

export interface TestRedis {
  readonly redis: Redis;
  readonly prefix: string;
  readonly keys: Keys;
  readonly url: string;
  cleanup(): Promise<void>;
}

export async function testRedis(url = redisUrl()): Promise<TestRedis> {
  const prefix = `t${randomId()}:`;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  return {
    redis,
    prefix,
    keys: createKeys(prefix),
    url,
    async cleanup() {
      if (redis.status === 'ready') await wipePrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

/** Delete every key under a prefix (what a Redis restart without persistence does to a cluster). */
export async function wipePrefix(redis: Redis, prefix: string): Promise<void> {
  await deleteByPrefix(redis, prefix);
}

export interface TestSchema {
  readonly schema: string;
  readonly url: string;
  cleanup(): Promise<void>;
}

export async function testSchema(url = databaseUrl()): Promise<TestSchema> {
  const schema = `t_${randomId(10)}`;
  return {
    schema,
    url,
    async cleanup() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`drop schema if exists "${schema}" cascade`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Poll a condition until it holds or the deadline passes (never a fixed sleep). */
export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
