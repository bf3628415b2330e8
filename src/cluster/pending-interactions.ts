// The deferral handshake's Redis side (lua/interaction-*.lua; docs/internal-api.md): the edge
// records a deferred response, the pod with the answer resolves it, whoever edits completes it.
// Used by the http edge and the gateways alike.
import type { Redis } from 'ioredis';
import { ScriptError, type ScriptErrorCode } from './errors.js';
import type { Scripts } from './scripts.js';

/** An interaction token works for 15 minutes; the record lives as long, then nobody can use it. */
export const INTERACTION_TTL_MS = 15 * 60_000;
/** A completion claim older than this belongs to a pod that died mid-edit: it may be taken over. */
export const COMPLETION_STALE_MS = 30_000;

export interface InteractionKeys {
  record(interactionId: string): string;
  readonly deferredIndex: string;
}

/**
 * Key builders (keys.ts is the cluster core's; these follow its prefix). The record's hash tag is
 * the interaction id. NOTE for Redis Cluster: the index is another slot, so the scripts that
 * touch both would have to be split there (the index is only a hint; see leftovers()).
 */
export function interactionKeys(prefix: string): InteractionKeys {
  return {
    record: (id) => `${prefix}interaction:{${id}}`,
    deferredIndex: `${prefix}interactions:deferred`,
  };
}

export type InteractionState = 'answered' | 'deferred' | 'deferred_late' | 'completing' | 'completed';

export interface DeferRequest {
  readonly interactionId: string;
  /** undefined for a DM interaction. */
  readonly guildId: string | undefined;
  readonly applicationId: string;
  readonly token: string;
  /** The deferred response sent to Discord: 5 (message) or 6 (update, components). */
  readonly responseType: number;
  /** Flags of that response (64 = ephemeral). */
  readonly flags: number;
  /** Wall ms by which the edge answered Discord. */
  readonly deadlineAt: number;
  /** Pod id of the edge. */
  readonly edge: string;
  /** The interaction JSON as Discord sent it (≤ 64 KiB), for a next owner to re-run. */
  readonly payload: string;
}

export interface DeferResult {
  /** The record's state after the call: `deferred`/`deferred_late` when recorded, else unchanged. */
  readonly state: string;
  readonly previous: string | undefined;
  /** True when this call wrote the deferral (false: the owner's answer came first, or a repeat). */
  readonly recorded: boolean;
}

/** What the token holder needs to edit the original response. */
export interface CompletionTicket {
  readonly interactionId: string;
  readonly guildId: string | undefined;
  readonly applicationId: string;
  readonly token: string;
  readonly responseType: number;
  readonly flags: number;
  readonly deadlineAt: number;
  /** The state the record was taken from. */
  readonly from: string;
}

export type ResolveResult =
  /** Nobody deferred: return the answer in the HTTP reply. */
  | { readonly kind: 'answered' }
  /** The edge deferred: edit the original response with the ticket's token, then complete(). */
  | { readonly kind: 'complete'; readonly ticket: CompletionTicket }
  /** Another pod is editing it right now. */
  | { readonly kind: 'busy'; readonly state: string }
  | { readonly kind: 'completed' }
  /** take() only: there is nothing deferred to complete. */
  | { readonly kind: 'missing' };

export interface PendingInteraction {
  readonly interactionId: string;
  readonly state: string;
  readonly guildId: string | undefined;
  readonly applicationId: string;
  readonly responseType: number;
  readonly flags: number;
  readonly deadlineAt: number;
  /** Redis ms the deferral was recorded. */
  readonly deferredAt: number;
  readonly edge: string;
  /** Redis ms of the current completion claim, if any. */
  readonly claimedAt: number | undefined;
  readonly by: string | undefined;
  /** The interaction JSON the edge received ('' when not recorded). */
  readonly payload: string;
}

const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const int = (v: unknown): number => (/^\d{1,15}$/.test(str(v)) ? Number(v) : 0);

export class PendingInteractions {
  readonly keys: InteractionKeys;

  constructor(
    private readonly redis: Redis,
    private readonly scripts: Scripts,
    prefix: string,
    private readonly opts: { readonly ttlMs: number; readonly staleMs: number } = { ttlMs: INTERACTION_TTL_MS, staleMs: COMPLETION_STALE_MS },
  ) {
    this.keys = interactionKeys(prefix);
  }

  /**
   * The edge answered (or is about to answer) Discord with a deferred response. In time (~2.5 s)
   * this loses to an owner that already resolved; `late` (~2.9 s) turns an `answered` record
   * into `deferred_late`, whose answer the edge then edits in itself when it arrives.
   */
  async defer(req: DeferRequest, o: { late: boolean }): Promise<DeferResult> {
    const r = await this.scripts.run(
      'interactionDefer',
      [this.keys.record(req.interactionId), this.keys.deferredIndex],
      [o.late ? '1' : '0', req.interactionId, req.guildId ?? '', req.applicationId, req.token, req.responseType, req.flags, Math.floor(req.deadlineAt), this.opts.ttlMs, req.edge, req.payload],
    );
    check(r, 'interactionDefer');
    const state = str(r[1]);
    const previous = str(r[2]) || undefined;
    return { state, previous, recorded: state !== previous && (state === 'deferred' || state === 'deferred_late') };
  }

  /** The owner has its answer: reply over HTTP, or edit the original if the edge deferred. */
  resolve(interactionId: string, by: string, guildId: string | undefined): Promise<ResolveResult> {
    return this.call('resolve', interactionId, by, guildId);
  }

  /** Claim a deferred interaction for completion without answering anything new. */
  take(interactionId: string, by: string): Promise<ResolveResult> {
    return this.call('take', interactionId, by, undefined);
  }

  /** The original response has been edited. Returns the state it was in. */
  async complete(interactionId: string, by: string): Promise<string | undefined> {
    const r = await this.scripts.run('interactionComplete', [this.keys.record(interactionId), this.keys.deferredIndex], [interactionId, by]);
    check(r, 'interactionComplete');
    return str(r[1]) || undefined;
  }

  /** The record as stored (without the token), or undefined. */
  async get(interactionId: string): Promise<PendingInteraction | undefined> {
    const key = this.keys.record(interactionId);
    if ((await this.redis.type(key)) !== 'hash') return undefined;
    return toPending(interactionId, await this.redis.hgetall(key));
  }

  /**
   * Deferred interactions nobody completed, for a guild's next owner (after a failover) to take
   * and complete: `deferred` or `deferred_late` records older than `olderThanMs` (younger ones are
   * normally in hand), and completion claims gone stale. `guild` filters (undefined = DM).
   */
  async leftovers(o: { guild: (guildId: string | undefined) => boolean; olderThanMs?: number; limit?: number }): Promise<PendingInteraction[]> {
    const [sec, micro] = await this.redis.time();
    const nowMs = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
    const olderThan = o.olderThanMs ?? 5_000;
    const ids = await this.redis.zrangebyscore(this.keys.deferredIndex, nowMs, '+inf', 'LIMIT', 0, o.limit ?? 1000);
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.keys.record(id));
    const replies = (await pipe.exec()) ?? [];
    const out: PendingInteraction[] = [];
    ids.forEach((id, i) => {
      const [err, h] = replies[i] ?? [];
      if (err || !h || Object.keys(h as object).length === 0) return;
      const p = toPending(id, h as Record<string, string>);
      if (!o.guild(p.guildId)) return;
      const open = (p.state === 'deferred' || p.state === 'deferred_late') && nowMs - p.deferredAt >= olderThan;
      const stale = p.state === 'completing' && nowMs - (p.claimedAt ?? 0) >= this.opts.staleMs;
      if (open || stale) out.push(p);
    });
    return out;
  }

  private async call(mode: 'resolve' | 'take', interactionId: string, by: string, guildId: string | undefined): Promise<ResolveResult> {
    const r = await this.scripts.run('interactionResolve', [this.keys.record(interactionId), this.keys.deferredIndex], [mode, by, this.opts.ttlMs, this.opts.staleMs, guildId ?? '']);
    check(r, 'interactionResolve');
    const outcome = str(r[1]);
    switch (outcome) {
      case 'answered':
        return { kind: 'answered' };
      case 'completed':
        return { kind: 'completed' };
      case 'missing':
        return { kind: 'missing' };
      case 'complete':
        return {
          kind: 'complete',
          ticket: { interactionId, guildId: str(r[2]) || undefined, applicationId: str(r[3]), token: str(r[4]), responseType: int(r[5]), flags: int(r[6]), deadlineAt: int(r[7]), from: str(r[8]) },
        };
      default:
        return { kind: 'busy', state: str(r[8]) };
    }
  }
}

function check(r: (string | number | null)[], script: string): void {
  const code = Number(r[0]);
  if (code !== 0) throw new ScriptError(code as ScriptErrorCode, script, r.slice(1));
}

function toPending(interactionId: string, h: Record<string, string>): PendingInteraction {
  return {
    interactionId,
    state: h['state'] ?? '',
    guildId: h['guild'] || undefined,
    applicationId: h['app'] ?? '',
    responseType: int(h['type']),
    flags: int(h['flags']),
    deadlineAt: int(h['deadline']),
    deferredAt: int(h['deferredAt']),
    edge: h['edge'] ?? '',
    claimedAt: h['claimedAt'] ? int(h['claimedAt']) : undefined,
    by: h['by'] || undefined,
    payload: h['payload'] ?? '',
  };
}
