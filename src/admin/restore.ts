// `leasehold admin restore <guild> [--at <time>]`: asks the guild's owner, over its signed
// internal API, to pause the guild and restore its data from the replica (DESIGN §5). The owner
// does the work (it holds the lease and the file); this finds it, signs the request, and reports.
import { request } from 'undici';
import { readMembers } from '../cluster/members.js';
import { isSnowflake } from '../cluster/ids.js';
import { signInternal } from '../runtime/internal-auth.js';
import { errorMessage } from '../errors.js';
import type { RestoreInPlaceResult } from '../gateway/restore-in-place.js';
import { AdminError, type AdminDeps } from './operations.js';

export interface RestoreOptions {
  /** Restore the data as it was at this time; undefined: the replica's latest state. */
  readonly at: Date | undefined;
  /** INTERNAL_SECRET (the first one signs). */
  readonly secret: string;
  readonly timeoutMs: number;
  readonly now?: () => number;
}

/** What the owner reports (the internal API's answer), and who the owner was. */
export type RestoreReport = RestoreInPlaceResult & { readonly owner: string };

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `--at`: an ISO 8601 time with a zone (2026-11-23T10:15:00Z, …+01:00) or a duration ago
 * (`90s`, `15m`, `2h`, `1d`, optionally written `15m ago` or `-15m`). Throws AdminError otherwise.
 */
export function parseRestoreTime(text: string, nowMs: number): Date {
  const t = text.trim();
  const rel = /^-?(\d+(?:\.\d+)?)\s*([smhd])(?:\s+ago)?$/i.exec(t);
  if (rel) return new Date(nowMs - Number(rel[1]) * (UNITS[(rel[2] as string).toLowerCase()] as number));
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(t)) {
    throw new AdminError(400, 'BAD_TIME', `"${text}" is not a time: use ISO 8601 with a zone (2026-11-23T10:15:00Z) or a duration ago (15m, 2h, 1d)`);
  }
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) throw new AdminError(400, 'BAD_TIME', `"${text}" is not a valid date`);
  if (d.getTime() > nowMs) throw new AdminError(400, 'BAD_TIME', `${d.toISOString()} is in the future`);
  return d;
}

export async function restoreGuild(d: AdminDeps, guildId: string, o: RestoreOptions): Promise<RestoreReport> {
  if (!isSnowflake(guildId)) throw new AdminError(400, 'BAD_GUILD_ID', `"${guildId}" is not a guild id (a Discord snowflake: 17–20 digits)`);
  const { lease } = await d.cluster.leases.read(guildId);
  if (!lease) throw new AdminError(409, 'NO_OWNER', `guild ${guildId} has no owner right now; a restore needs one to pause it (see \`leasehold admin lease ${guildId}\`)`);
  const { members } = await readMembers(d.cluster.redis, d.cluster.keys);
  const addr = members.get(lease.owner)?.addr;
  if (!addr) throw new AdminError(409, 'OWNER_NOT_LIVE', `the owner of guild ${guildId}, ${lease.owner}, is not a live member; wait for its lease to move and retry`);
  const path = `/internal/guilds/${guildId}/restore`;
  const body = JSON.stringify({ at: o.at?.toISOString() ?? null });
  const headers = signInternal(o.secret, { method: 'POST', pathWithQuery: path, owner: lease.owner, epoch: lease.epoch, body }, (o.now ?? Date.now)());
  let res;
  try {
    res = await request(`http://${addr}${path}`, { method: 'POST', body, headers: { ...headers, 'content-type': 'application/json' }, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs });
  } catch (err) {
    throw new AdminError(502, 'OWNER_UNREACHABLE', `${lease.owner} at ${addr} did not answer: ${errorMessage(err)}`);
  }
  const text = await res.body.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AdminError(502, 'BAD_REPLY', `${lease.owner} answered ${res.statusCode} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (res.statusCode === 421) {
    const p = parsed as { owner?: string | null; epoch?: number | null };
    throw new AdminError(409, 'OWNER_MOVED', `guild ${guildId} moved while asking (now ${p.owner ?? 'unknown'}@${p.epoch ?? '-'}); retry`);
  }
  if (res.statusCode !== 200) {
    const e = (parsed as { error?: { code?: string; message?: string } }).error;
    throw new AdminError(res.statusCode >= 500 ? 502 : 409, e?.code ?? 'RESTORE_FAILED', `${lease.owner}: ${e?.message ?? `status ${res.statusCode}`}`);
  }
  const r = parsed as Partial<RestoreReport>;
  if (typeof r.epoch !== 'number' || typeof r.fromEpoch !== 'number' || typeof r.pauseMs !== 'number') {
    throw new AdminError(502, 'BAD_REPLY', `${lease.owner} answered 200 with an unexpected body: ${text.slice(0, 200)}`);
  }
  return { guildId, owner: lease.owner, fromEpoch: r.fromEpoch, epoch: r.epoch, at: r.at ?? null, dataEpoch: r.dataEpoch ?? null, movedAside: r.movedAside ?? null, pauseMs: r.pauseMs, replayed: r.replayed ?? 0 };
}
