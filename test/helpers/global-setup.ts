// Finds Redis and Postgres for the whole run: REDIS_URL / DATABASE_URL, else testcontainers when a
// Docker engine answers, else the local default ports; otherwise fails saying how to get them.
import { createConnection } from 'node:net';
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';

function portOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function dockerAvailable(): boolean {
  return existsSync('/var/run/docker.sock') || process.env['DOCKER_HOST'] !== undefined;
}

const stops: (() => Promise<void>)[] = [];

async function fromContainers(): Promise<{ redisUrl?: string; databaseUrl?: string }> {
  if (!dockerAvailable()) return {};
  try {
    const { GenericContainer, Wait } = await import('testcontainers');
    const redis = await new GenericContainer('redis:7-alpine').withCommand(['redis-server', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction']).withExposedPorts(6379).start();
    const pgc = await new GenericContainer('postgres:16-alpine')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    stops.push(async () => { await redis.stop(); }, async () => { await pgc.stop(); });
    return {
      redisUrl: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
      databaseUrl: `postgres://postgres@${pgc.getHost()}:${pgc.getMappedPort(5432)}/postgres`,
    };
  } catch (err) {
    console.warn(`testcontainers could not start services (${String(err)}); trying the local default ports`);
    return {};
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let redisUrl = process.env['REDIS_URL'];
  let databaseUrl = process.env['DATABASE_URL'];
  if (!redisUrl || !databaseUrl) {
    const c = await fromContainers();
    redisUrl ??= c.redisUrl;
    databaseUrl ??= c.databaseUrl;
  }
  if (!redisUrl && (await portOpen('127.0.0.1', 6379))) redisUrl = 'redis://127.0.0.1:6379';
  if (!databaseUrl && (await portOpen('127.0.0.1', 5432))) databaseUrl = 'postgres://postgres@127.0.0.1:5432/postgres';
  const missing: string[] = [];
  if (!redisUrl) missing.push('Redis: set REDIS_URL, or run `apt-get install redis-server` / `docker compose up -d redis`');
  if (!databaseUrl) missing.push('Postgres: set DATABASE_URL, or run `apt-get install postgresql` / `docker compose up -d postgres`');
  if (missing.length > 0) throw new Error(`The tests need real servers, none found:\n  ${missing.join('\n  ')}`);
  process.env['REDIS_URL'] = redisUrl;
  process.env['DATABASE_URL'] = databaseUrl;
  project.provide('redisUrl', redisUrl as string);
  project.provide('databaseUrl', databaseUrl as string);
  return async () => {
    for (const stop of stops) await stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    databaseUrl: string;
  }
}
