// Typed calls of the lease scripts (claim, renew, handoff, release, read) and the SCAN-based
// full read used by reconciles. Everything read from Redis is validated here: a hand-edited
// value becomes "no valid lease" plus a report, never an exception in a loop.
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import type { Lease } from './types.js';
import { ScriptError, ScriptErrorCode } from './errors.js';
import type { Scripts } from './scripts.js';
import { isPodId } from './ids.js';

/** Renew calls carry at most this many guilds by default (DESIGN §3 allows ≤ 1000; see bench/leases.ts). */
export const RENEW_CHUNK = 1000;

export type ClaimResult =
  | { readonly ok: true; readonly epoch: number; readonly untilMs: number; readonly nowMs: number }
  | { readonly ok: false; readonly code: ScriptErrorCode.LeaseHeld; readonly owner: string; readonly epoch: number; readonly pttlMs: number }
  | { readonly ok: false; readonly code: ScriptErrorCode.LeaseNotExpired; readonly untilMs: number; readonly nowMs: number }
  | { readonly ok: false; readonly code: ScriptErrorCode.UntilUnknown; readonly nowMs: number };

export type HandoffResult =
  | { readonly ok: true; readonly epoch: number; readonly untilMs: number; readonly nowMs: number }
  | { readonly ok: false; readonly code: ScriptErrorCode.NotOwner; readonly owner: string | undefined; readonly epoch: number | undefined };

export interface RenewResult {
  readonly nowMs: number;
  readonly untilMs: number;
  /** Guilds whose lease is no longer (owner, epoch): stop them now. */
  readonly lost: readonly string[];
}

/** A guild's lease state as one read sees it, with any garbage reported. */
export interface GuildLeaseState {
  readonly guildId: string;
  readonly nowMs: number;
  readonly lease: Lease | undefined;
  readonly leasePttlMs: number;
  readonly epochIssued: number | undefined;
  readonly untilMs: number | undefined;
  readonly pin: string | undefined;
  /** Keys whose content is not what leasehold writes (hand edits), e.g. ["lease: type string"]. */
  readonly garbage: readonly string[];
}

const INT = /^\d{1,15}$/;
const toInt = (s: unknown): number | undefined => (typeof s === 'string' && INT.test(s) ? Number(s) : typeof s === 'number' && Number.isSafeInteger(s) && s >= 0 ? s : undefined);

/** Validate a lease hash's fields; undefined (no valid lease) for anything leasehold does not write. */
export function parseLease(guildId: string, owner: unknown, epoch: unknown, since: unknown): Lease | undefined {
  const e = toInt(epoch);
  if (!isPodId(owner) || e === undefined || e < 1) return undefined;
  return { guildId, owner, epoch: e, since: toInt(since) ?? 0 };
}

export class LeaseClient {
  constructor(
    private readonly redis: Redis,
    private readonly scripts: Scripts,
    private readonly keys: Keys,
    private readonly maxLen: number,
    /** Guilds per renew call (≤ RENEW_CHUNK). Smaller chunks block other clients less. */
    private readonly renewChunk = RENEW_CHUNK,
  ) {}

  async claim(guildId: string, owner: string, o: { floor: number; ttlMs: number; waitedFullTtl: boolean }): Promise<ClaimResult> {
    const k = this.keys;
    const r = await this.scripts.run('claim', [k.lease(guildId), k.epoch(guildId), k.until(guildId), k.events], [owner, o.floor, o.ttlMs, guildId, this.maxLen, o.waitedFullTtl ? '1' : '0']);
    const code = Number(r[0]);
    switch (code) {
      case 0:
        return { ok: true, epoch: Number(r[1]), untilMs: Number(r[2]), nowMs: Number(r[3]) };
      case ScriptErrorCode.LeaseHeld:
        return { ok: false, code, owner: String(r[1]), epoch: Number(r[2]), pttlMs: Number(r[3]) };
      case ScriptErrorCode.LeaseNotExpired:
        return { ok: false, code, untilMs: Number(r[1]), nowMs: Number(r[2]) };
      case ScriptErrorCode.UntilUnknown:
        return { ok: false, code, nowMs: Number(r[1]) };
      default:
        throw new ScriptError(code, 'claim', r.slice(1));
    }
  }

  /** Renew every given lease, in sequential chunks of ≤ `chunk` so no call blocks Redis long. */
  async renew(owner: string, ttlMs: number, held: readonly { guildId: string; epoch: number }[], chunk = this.renewChunk): Promise<RenewResult> {
    const lost: string[] = [];
    let nowMs = 0;
    let untilMs = 0;
    const size = Math.min(Math.max(1, chunk), RENEW_CHUNK);
    for (let i = 0; i < held.length; i += size) {
      const part = held.slice(i, i + size);
      const keys: string[] = [];
      for (const h of part) keys.push(this.keys.lease(h.guildId), this.keys.until(h.guildId));
      const r = await this.scripts.run('renew', keys, [owner, ttlMs, ...part.map((h) => h.epoch)]);
      if (typeof r[0] === 'number') throw new ScriptError(r[0] as ScriptErrorCode, 'renew', r.slice(1));
      if (i === 0) nowMs = Number(r[0]);
      untilMs = Number(r[1]);
      for (let j = 2; j < r.length; j++) {
        const lostGuild = part[Number(r[j]) - 1];
        if (lostGuild) lost.push(lostGuild.guildId);
      }
    }
    return { nowMs, untilMs, lost };
  }

  async handoff(guildId: string, from: { owner: string; epoch: number }, to: string, o: { floor: number; ttlMs: number }): Promise<HandoffResult> {
    const k = this.keys;
    const r = await this.scripts.run('handoff', [k.lease(guildId), k.epoch(guildId), k.until(guildId), k.events], [from.owner, from.epoch, to, o.floor, o.ttlMs, guildId, this.maxLen]);
    const code = Number(r[0]);
    if (code === 0) return { ok: true, epoch: Number(r[1]), untilMs: Number(r[2]), nowMs: Number(r[3]) };
    if (code === ScriptErrorCode.NotOwner) return { ok: false, code, owner: r[1] ? String(r[1]) : undefined, epoch: toInt(r[2]) };
    throw new ScriptError(code, 'handoff', r.slice(1));
  }

  /** The owner's release: the guild becomes claimable at once. Throws ScriptError(NotOwner) if not held. */
  async release(guildId: string, owner: string, epoch: number, reason: string): Promise<void> {
    const k = this.keys;
    await this.scripts.runOk('release', [k.lease(guildId), k.until(guildId), k.events], [owner, epoch, guildId, this.maxLen, reason]);
  }

  /** Operator's forced release (= `redis-cli DEL` of the lease, plus an event). */
  async forceRelease(guildId: string, reason: string): Promise<{ owner: string | undefined; epoch: number | undefined }> {
    const k = this.keys;
    const r = await this.scripts.runOk('release', [k.lease(guildId), k.until(guildId), k.events], ['', '', guildId, this.maxLen, reason]);
    return { owner: r[1] ? String(r[1]) : undefined, epoch: toInt(r[2]) };
  }

  async read(guildId: string): Promise<GuildLeaseState> {
    const k = this.keys;
    const r = await this.scripts.run('readGuild', [k.lease(guildId), k.epoch(guildId), k.until(guildId), k.pin(guildId)], []);
    const [now, leaseType, owner, epoch, since, pttl, epochRaw, untilRaw, pinRaw] = r.map((x) => (x === null ? '' : String(x)));
    const garbage: string[] = [];
    let lease: Lease | undefined;
    if (leaseType === 'hash') {
      lease = parseLease(guildId, owner, epoch, since);
      if (!lease) garbage.push(`lease: fields owner=${JSON.stringify(owner)} epoch=${JSON.stringify(epoch)}`);
    } else if (leaseType !== 'none') garbage.push(`lease: type ${leaseType}`);
    const epochIssued = toInt(epochRaw);
    if (epochRaw !== '' && epochIssued === undefined) garbage.push(`epoch: ${JSON.stringify(epochRaw)}`);
    const untilMs = toInt(untilRaw);
    if (untilRaw !== '' && untilMs === undefined) garbage.push(`until: ${JSON.stringify(untilRaw)}`);
    const pin = pinRaw === '' ? undefined : isPodId(pinRaw) ? pinRaw : undefined;
    if (pinRaw !== '' && pin === undefined) garbage.push(`pin: ${JSON.stringify(pinRaw)}`);
    return { guildId, nowMs: Number(now), lease, leasePttlMs: Number(pttl), epochIssued, untilMs, pin, garbage };
  }

  /** Every valid lease in Redis (SCAN + pipelined HMGET), and the keys holding garbage. */
  async scanAll(): Promise<{ leases: Lease[]; garbage: string[] }> {
    const leases: Lease[] = [];
    const garbage: string[] = [];
    for await (const batch of scanKeys(this.redis, this.keys.leasePattern)) {
      const pipe = this.redis.pipeline();
      for (const key of batch) pipe.hmget(key, 'owner', 'epoch', 'since');
      const replies = (await pipe.exec()) ?? [];
      batch.forEach((key, i) => {
        const guildId = this.keys.guildOf(key);
        const [err, v] = replies[i] ?? [];
        const fields = (v ?? []) as (string | null)[];
        // Released or expired between the SCAN and the read: simply absent, not garbage.
        if (!err && fields.every((f) => f === null)) return;
        const lease = guildId && !err ? parseLease(guildId, fields[0], fields[1], fields[2]) : undefined;
        if (lease) leases.push(lease);
        else garbage.push(key);
      });
    }
    return { leases, garbage };
  }
}

/** SCAN a pattern in batches (never KEYS: it blocks Redis). */
export async function* scanKeys(redis: Redis, pattern: string, count = 1000): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', count);
    cursor = next;
    if (keys.length > 0) yield keys;
  } while (cursor !== '0');
}

/** Delete every key under a prefix, in SCAN batches (a demo reset, test cleanup). */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<number> {
  let n = 0;
  for await (const batch of scanKeys(redis, `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`)) n += await redis.unlink(...batch);
  return n;
}
