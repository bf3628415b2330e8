import { describe, expect, it } from 'vitest';
import { ago, esc, renderClusterPage, renderGuildPage } from '../../../src/http/portal-html.js';
import { computeStatus } from '../../../src/admin/operations.js';
import { ringParams } from '../../../src/cluster/ring.js';
import type { Member } from '../../../src/cluster/types.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const member = (podId: string, o: Partial<Member> = {}): Member => ({ podId, addr: `10.0.0.1:${podId.length}`, role: 'gateway', pid: 1, started: 0, version: 't', ring: 'v1:400:murmur3', ready: true, draining: false, ...o });

describe('portal HTML', () => {
  it('escapes everything it interpolates', () => {
    expect(esc(`<a href="x" onclick='y'>&\``)).toBe('&#60;a href=&#34;x&#34; onclick=&#39;y&#39;&#62;&#38;&#96;');
  });

  it('a hostile cordon reason or pod address cannot inject markup', () => {
    const status = computeStatus({
      members: new Map([['gw-a', member('gw-a', { addr: '<img src=x onerror=alert(1)>:1' })]]),
      leases: [],
      pins: new Map(),
      cordons: new Map([['gw-a', '<script>alert(1)</script>']]),
      ringParams: ringParams(),
      assignments: [],
      garbage: [],
    });
    const html = renderClusterPage({ nowMs: NOW, edgePod: 'edge-1', status, moves: [], pods: new Map() });
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).not.toContain('<img src=x');
    expect(html.match(/<script>/g)).toHaveLength(1); // only the page's own refresh script
  });

  it('shows a bar per gateway sized by its guilds and says when a gateway cannot be reached', () => {
    const leases = ['100000000000000001', '100000000000000002', '100000000000000003'].map((g, i) => ({ guildId: g, owner: i < 2 ? 'gw-a' : 'gw-b', epoch: 1, since: NOW }));
    const status = computeStatus({ members: new Map([['gw-a', member('gw-a')], ['gw-b', member('gw-b')]]), leases, pins: new Map(), cordons: new Map(), ringParams: ringParams(), assignments: [], garbage: [] });
    const html = renderClusterPage({ nowMs: NOW, edgePod: 'edge-1', status, moves: [], pods: new Map([['gw-a', { reachable: true, replicationLagSeconds: 0.25 }], ['gw-b', { reachable: false, replicationLagSeconds: undefined }]]) });
    expect(html).toContain('width:100.0%');
    expect(html).toContain('width:50.0%');
    expect(html).toContain('0.25 s');
    expect(html).toContain('unreachable');
  });

  it('the guild page shows lease facts and an "owner unreachable" state instead of an error', () => {
    const html = renderGuildPage({
      nowMs: NOW,
      edgePod: 'edge-1',
      guildId: '100000000000000001',
      lease: { owner: 'gw-a', epoch: 4, since: NOW - 90_000, ttlMs: 9000 },
      dataEpoch: 3,
      storeError: undefined,
      pin: undefined,
      desiredOwner: 'gw-a',
      dashboard: { kind: 'unreachable', owner: 'gw-a', message: 'ECONNREFUSED' },
    });
    expect(html).toContain('Owner gw-a is unreachable.');
    expect(html).toContain('1 min ago');
    expect(html).toMatch(/data epoch<\/dt><dd>3/);
  });

  it('ages read as people say them', () => {
    expect([ago(NOW, NOW - 5_000), ago(NOW, NOW - 125_000), ago(NOW, NOW - 2 * 3600_000 - 60_000), ago(NOW, NOW - 3 * 86_400_000)]).toEqual(['5 s ago', '2 min ago', '2 h 1 min ago', '3 d ago']);
  });
});
