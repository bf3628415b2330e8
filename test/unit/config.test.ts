import { describe, expect, it } from 'vitest';
import { ConfigError, ENV, envMarkdown, loadConfig } from '../../src/config.js';

const gatewayEnv = { DISCORD_TOKEN: 'x', DISCORD_APPLICATION_ID: '123456789012345678', INTERNAL_SECRET: 'secret-one,secret-two', POD_ID: 'gw-0' };
const httpEnv = { DISCORD_APPLICATION_ID: '123456789012345678', DISCORD_PUBLIC_KEY: 'a'.repeat(64), INTERNAL_SECRET: 'secret-one', ADMIN_TOKEN: 'admin-token-1', POD_ID: 'http-0' };

function problems(role: Parameters<typeof loadConfig>[0], env: Record<string, string>): Record<string, string> {
  try {
    loadConfig(role, env);
  } catch (err) {
    if (err instanceof ConfigError) return Object.fromEntries(err.problems.map((p) => [p.variable, p.message]));
    throw err;
  }
  return {};
}

describe('configuration', () => {
  it('parses defaults into a frozen, typed object', () => {
    const c = loadConfig('gateway', gatewayEnv);
    expect(Object.isFrozen(c)).toBe(true);
    expect(c).toMatchObject({ role: 'gateway', leaseTtlMs: 10000, renewEveryMs: 3333, leaseMarginMs: 1000, keyPrefix: 'lh:', podId: 'gw-0', port: 0, host: '127.0.0.1' });
    expect(c.internalSecrets).toEqual(['secret-one', 'secret-two']);
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.replicaUrl).toMatch(/^file:\/\/\/.+\/replicas$/);
  });

  it('derives the renew period and margin from the TTL', () => {
    const c = loadConfig('gateway', { ...gatewayEnv, LEASE_TTL_MS: '3000' });
    expect(c.renewEveryMs).toBe(1000);
    expect(c.leaseMarginMs).toBe(300);
  });

  it('names every bad or missing variable and what it expected, all at once', () => {
    const p = problems('gateway', { LEASE_TTL_MS: 'ten', POD_ID: 'bad id!', REDIS_URL: 'http://x', DISCORD_APPLICATION_ID: '12', INTERNAL_SECRET: 'short' });
    expect(Object.keys(p).sort()).toEqual(['DISCORD_APPLICATION_ID', 'DISCORD_TOKEN', 'INTERNAL_SECRET', 'LEASE_TTL_MS', 'POD_ID', 'REDIS_URL']);
    expect(p['LEASE_TTL_MS']).toMatch(/whole number from 500/);
    expect(p['REDIS_URL']).toMatch(/redis:\/\//);
    expect(p['DISCORD_TOKEN']).toMatch(/required/);
    expect(p['INTERNAL_SECRET']).toMatch(/at least 8 characters/);
    expect(p['INTERNAL_SECRET']).not.toMatch(/short/); // secrets are never echoed
  });

  it('refuses a renew period that would let one missed renew lose every lease', () => {
    expect(problems('gateway', { ...gatewayEnv, LEASE_TTL_MS: '1000', RENEW_EVERY_MS: '900' })).toHaveProperty('RENEW_EVERY_MS');
  });

  it('requires ADVERTISE_ADDR when binding a wildcard address, and derives it otherwise', () => {
    expect(problems('http', { ...httpEnv, HOST: '0.0.0.0', PORT: '8080' })).toHaveProperty('ADVERTISE_ADDR');
    expect(loadConfig('http', { ...httpEnv, HOST: '10.1.2.3', PORT: '8080' }).advertiseAddr).toBe('10.1.2.3:8080');
    expect(loadConfig('http', { ...httpEnv, PORT: '0' }).advertiseAddr).toBeUndefined();
    expect(loadConfig('http', { ...httpEnv, ADVERTISE_ADDR: 'http-0.edge:8080' }).advertiseAddr).toBe('http-0.edge:8080');
  });

  it('reads only the variables of its role', () => {
    expect(problems('admin', { DISCORD_TOKEN: '' })).toEqual({});
    expect(() => loadConfig('sim', { REDIS_URL: 'not a url' })).not.toThrow();
  });

  it('every variable is documented in the README table', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const block = /<!-- env:start[^>]*-->\n([\s\S]*?)\n<!-- env:end -->/.exec(readme)?.[1];
    expect(block, 'README.md has the generated variable table (run `npm run docs:env`)').toBe(envMarkdown());
    for (const name of Object.keys(ENV)) expect(block).toContain(`\`${name}\``);
  });
});
