// Human output of the admin CLI: short tables an operator reads at 3 a.m.
import type { ClusterStatus, GuildLeaseReport } from './operations.js';

export function table(rows: string[][], header: string[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

const list = (xs: string[], max = 10) => (xs.length <= max ? xs.join(', ') : `${xs.slice(0, max).join(', ')} … (+${xs.length - max} more)`);

export function formatStatus(s: ClusterStatus): string {
  const out: string[] = [];
  out.push(`ring: ${s.ringMembers.length} gateway(s) [${s.ringMembers.join(', ')}]  params v${s.ringParams.version}/${s.ringParams.vnodes} vnodes/${s.ringParams.hash}`);
  out.push(`guilds: ${s.guilds.known} known, ${s.guilds.owned} owned, ${s.guilds.unowned.length} unowned`);
  out.push('');
  if (s.members.length === 0) out.push('members: none live');
  else {
    const owned = s.guilds.owned || 1;
    out.push(
      table(
        s.members.map((m) => [m.id, m.role, m.addr, m.role === 'gateway' ? String(m.guilds) : '-', m.role === 'gateway' ? `${((100 * m.guilds) / owned).toFixed(1)}%` : '-', stateOf(m)]),
        ['POD', 'ROLE', 'ADDR', 'GUILDS', 'SHARE', 'STATE'],
      ),
    );
  }
  if (s.guilds.unowned.length > 0) out.push('', `unowned: ${list(s.guilds.unowned)}`);
  if (s.pins.length > 0) out.push('', 'pins:', table(s.pins.map((p) => [p.guildId, p.pod, p.honoured ? 'honoured' : 'IGNORED (pod is not a live ring member)']), ['GUILD', 'POD', '']));
  if (s.cordons.length > 0) out.push('', 'cordons:', table(s.cordons.map((c) => [c.pod, c.reason, c.live ? 'live' : 'not running']), ['POD', 'REASON', '']));
  if (s.overrides.length > 0) out.push('', `overrides (lease owner ≠ desired owner): ${s.overrides.length}`, table(s.overrides.slice(0, 20).map((o) => [o.guildId, o.owner, o.desired ?? '(none)']), ['GUILD', 'OWNER', 'DESIRED']));
  if (s.orphaned.length > 0) out.push('', `leases held by pods that are not live (they expire within one TTL): ${s.orphaned.length}`);
  if (s.garbage.length > 0) out.push('', `keys holding garbage (ignored; fix or delete them): ${list([...s.garbage])}`);
  return out.join('\n');
}

function stateOf(m: ClusterStatus['members'][number]): string {
  const flags: string[] = [];
  if (m.role === 'gateway') flags.push(m.onRing ? 'on ring' : 'off ring');
  if (!m.ready) flags.push('not ready');
  if (m.draining) flags.push('draining');
  if (m.cordoned !== undefined) flags.push(`cordoned (${m.cordoned})`);
  return flags.join(', ');
}

export function formatLease(r: GuildLeaseReport): string {
  const l = r.redis.lease;
  const out = [
    `guild ${r.guildId}`,
    l ? `  lease:   ${l.owner} epoch ${l.epoch}, ttl ${r.ttlMs} ms, since ${new Date(l.since).toISOString()}` : '  lease:   none',
    `  until:   ${r.redis.untilMs !== undefined ? `${new Date(r.redis.untilMs).toISOString()} (${r.redis.untilMs - r.redis.nowMs} ms from now)` : 'none'}`,
    `  epoch:   last issued ${r.redis.epochIssued ?? 'none'}; Postgres committed ${r.postgres?.epoch ?? 'none'}, data epoch ${r.postgres?.dataEpoch ?? 'none'}`,
    `  desired: ${r.desiredOwner ?? '(no ring member)'}${r.pin ? `  (pinned to ${r.pin.pod}${r.pin.honoured ? '' : ', IGNORED: not a live ring member'})` : ''}`,
  ];
  if (r.postgres) out.push(`  record:  owner ${r.postgres.owner ?? 'none'}, state ${r.postgres.state}, updated ${r.postgres.updatedAt.toISOString()}`);
  if (r.redis.garbage.length > 0) out.push(`  garbage: ${r.redis.garbage.join('; ')}`);
  return out.join('\n');
}
