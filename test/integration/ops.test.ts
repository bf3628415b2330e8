import { describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOpsApp } from '../../src/runtime/ops.js';
import { metrics } from '../../src/metrics.js';

async function get(app: ReturnType<typeof createOpsApp>, path: string): Promise<{ status: number; body: string }> {
  const server = createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`);
    return { status: res.status, body: await res.text() };
  } finally {
    server.close();
  }
}

describe('ops endpoints', () => {
  it('/metrics exports the cluster metrics by their literal names and default Node metrics', async () => {
    metrics.leaseClaims.inc({ result: 'claimed' });
    const r = await get(createOpsApp(), '/metrics');
    expect(r.status).toBe(200);
    for (const name of ['leasehold_guilds_owned', 'leasehold_lease_claims_total', 'leasehold_lease_renew_seconds', 'leasehold_script_seconds', 'leasehold_redis_eviction_policy_ok', 'process_resident_memory_bytes']) {
      expect(r.body).toContain(name);
    }
  });

  it('/healthz is alive; /readyz is 503 naming the failing check, 200 when all pass', async () => {
    expect((await get(createOpsApp({ redis: () => { throw new Error('redis down'); } }), '/healthz')).status).toBe(200);
    const bad = await get(createOpsApp({ redis: () => { throw new Error('redis down'); }, postgres: () => undefined }), '/readyz');
    expect(bad.status).toBe(503);
    expect(JSON.parse(bad.body)).toEqual({ ok: false, checks: { redis: { ok: false, error: 'redis down' }, postgres: { ok: true } } });
    expect((await get(createOpsApp({ postgres: async () => undefined }), '/readyz')).status).toBe(200);
  });
});
