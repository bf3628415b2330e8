// Membership in Redis: a pod's heartbeat (its member key), clean leave, the ring-parameter
// agreement, and reading the live member set. A second live process under one POD_ID is refused.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { Keys } from './keys.js';
import type { Member, RingParams } from './types.js';
import { ScriptError, ScriptErrorCode } from './errors.js';
import type { Scripts } from './scripts.js';
import { isPodId } from './ids.js';

export class PodIdTakenError extends Error {
  readonly code = 'POD_ID_TAKEN';
  constructor(readonly podId: string, readonly otherInstance: string) {
    super(`POD_ID ${podId} is in use by another live process (instance ${otherInstance}); give this process another POD_ID or stop the other one`);
    this.name = 'PodIdTakenError';
  }
}

export class RingMismatchError extends Error {
  readonly code = 'RING_MISMATCH';
  constructor(readonly ours: RingParams, readonly theirs: RingParams) {
    super(
      `ring parameters differ from the cluster's lh:ring: this pod has version=${ours.version} vnodes=${ours.vnodes} hash=${ours.hash}, ` +
        `the cluster has version=${theirs.version} vnodes=${theirs.vnodes} hash=${theirs.hash}. Set RING_VNODES to match, or change lh:ring only when every pod agrees`,
    );
    this.name = 'RingMismatchError';
  }
}

export interface MemberFields {
  addr: string;
  role: 'gateway' | 'http';
  version: string;
  ring: string;
  ready: boolean;
  draining: boolean;
}

export function newInstanceId(): string {
  return randomBytes(8).toString('hex');
}

/** Parse a member hash; undefined for garbage (a hand edit), which the caller reports. */
export function parseMember(podId: string, h: Record<string, string>): Member | undefined {
  if (!isPodId(podId) || !h['addr'] || (h['role'] !== 'gateway' && h['role'] !== 'http')) return undefined;
  return {
    podId,
    addr: h['addr'],
    role: h['role'],
    pid: Number(h['pid'] ?? 0) || 0,
    started: Number(h['started'] ?? 0) || 0,
    version: h['version'] ?? '',
    ring: h['ring'] ?? '',
    ready: h['ready'] === '1',
    draining: h['draining'] === '1',
  };
}

export class MemberClient {
  readonly instance = newInstanceId();
  private readonly started = Date.now();

  constructor(
    private readonly redis: Redis,
    private readonly scripts: Scripts,
    private readonly keys: Keys,
    private readonly podId: string,
    private readonly ttlMs: number,
    private readonly maxLen: number,
  ) {}

  /** Write the member key. Returns whether this was a join or a change of ready/draining/addr. */
  async heartbeat(f: MemberFields): Promise<{ joined: boolean; changed: boolean; nowMs: number }> {
    const fields = ['addr', f.addr, 'pid', String(process.pid), 'role', f.role, 'started', String(this.started), 'version', f.version, 'ring', f.ring, 'ready', f.ready ? '1' : '0', 'draining', f.draining ? '1' : '0'];
    const r = await this.scripts.run('memberHeartbeat', [this.keys.member(this.podId), this.keys.members, this.keys.events], [this.podId, this.instance, this.ttlMs, this.maxLen, ...fields]);
    const code = Number(r[0]);
    if (code === ScriptErrorCode.PodIdTaken) throw new PodIdTakenError(this.podId, String(r[1]));
    if (code !== 0) throw new ScriptError(code, 'memberHeartbeat', r.slice(1));
    return { nowMs: Number(r[1]), joined: Number(r[2]) === 1, changed: Number(r[3]) === 1 };
  }

  /**
   * First heartbeat at start-up. A member key of a crashed predecessor under the same POD_ID
   * (a restarted StatefulSet pod) blocks for at most one TTL; a key that keeps being renewed
   * belongs to a live process, and this one refuses to start.
   */
  async join(f: MemberFields, logger: Logger, sleep: (ms: number) => Promise<void>): Promise<void> {
    try {
      await this.heartbeat(f);
      return;
    } catch (err) {
      if (!(err instanceof PodIdTakenError)) throw err;
      const pttl = await this.redis.pttl(this.keys.member(this.podId));
      logger.warn({ otherInstance: err.otherInstance, waitMs: pttl }, 'member key of another instance under this POD_ID; waiting one TTL to see whether it is alive');
      await sleep(Math.min(Math.max(pttl, 0), this.ttlMs) + 50);
      await this.heartbeat(f);
    }
  }

  async leave(): Promise<void> {
    const r = await this.scripts.run('memberLeave', [this.keys.member(this.podId), this.keys.members, this.keys.events], [this.podId, this.instance, this.maxLen]);
    if (Number(r[0]) !== 0) throw new ScriptError(Number(r[0]), 'memberLeave', r.slice(1));
  }
}

/** Agree on ring parameters with the cluster, or throw RingMismatchError. */
export async function agreeRingParams(scripts: Scripts, keys: Keys, params: RingParams, maxLen: number): Promise<void> {
  const r = await scripts.run('ring', [keys.ring, keys.events], [params.version, params.vnodes, params.hash, maxLen]);
  if (Number(r[0]) === ScriptErrorCode.RingMismatch) {
    throw new RingMismatchError(params, { version: String(r[1]), vnodes: Number(r[2]), hash: String(r[3]) });
  }
  if (Number(r[0]) !== 0) throw new ScriptError(Number(r[0]), 'ring', r.slice(1));
}

/** The live members (score in the future and a parseable key), plus the ids whose key is garbage. */
export async function readMembers(redis: Redis, keys: Keys): Promise<{ members: Map<string, Member>; garbage: string[] }> {
  const members = new Map<string, Member>();
  const garbage: string[] = [];
  const type = await redis.type(keys.members);
  if (type !== 'zset') {
    if (type !== 'none') garbage.push(keys.members);
    return { members, garbage };
  }
  const [sec, micro] = await redis.time();
  const nowMs = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
  const ids = await redis.zrangebyscore(keys.members, nowMs, '+inf');
  if (ids.length === 0) return { members, garbage };
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hgetall(keys.member(id));
  const replies = (await pipe.exec()) ?? [];
  ids.forEach((id, i) => {
    const [err, h] = replies[i] ?? [];
    if (err) {
      garbage.push(keys.member(id));
      return;
    }
    const m = parseMember(id, (h ?? {}) as Record<string, string>);
    if (m) members.set(id, m);
    else if (h && Object.keys(h as object).length > 0) garbage.push(keys.member(id));
  });
  return { members, garbage };
}
