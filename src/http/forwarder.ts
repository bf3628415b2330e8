// Edge → gateway forwarding (DESIGN §6): keep-alive undici pools per gateway, every request
// signed and naming the owner and epoch the edge expects. A 421 is retried once at the owner it
// names; an unreachable owner sends the edge to Redis for the lease, retrying within the budget.
import { Pool } from 'undici';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { metrics } from '../metrics.js';
import { signInternal } from '../runtime/internal-auth.js';
import { isPodId } from '../cluster/ids.js';

/** Where a request for a guild should go, as the local mirror (or Redis) says. */
export interface ForwardTarget {
  readonly owner: string;
  readonly epoch: number | undefined;
  readonly addr: string | undefined;
}

/** What the forwarder needs from the routing view (no I/O except `readLease`). */
export interface RouteSource {
  route(guildId: string): ForwardTarget | undefined;
  addrOf(podId: string): string | undefined;
  /** The mirror learns an owner from a 421 (called only with a higher epoch than it has). */
  noteOwner(guildId: string, owner: string, epoch: number): void;
  /** Live, ready gateways (for DM interactions, which any gateway may answer). */
  readyGateways(): readonly { readonly podId: string; readonly addr: string }[];
  /** The lease as Redis has it now (one round trip), or undefined when there is none. */
  readLease(guildId: string): Promise<ForwardTarget | undefined>;
}

export interface ForwardRequest {
  readonly method: 'GET' | 'POST';
  /** Path with query on the gateway, e.g. `/internal/guilds/1/stats`. */
  readonly path: string;
  readonly body?: Buffer;
  /** Wall ms sent as X-Leasehold-Deadline. */
  readonly deadlineAt?: number;
  /** How long to keep trying in all (monotonic ms). */
  readonly budgetMs: number;
  /** Longest wait for one attempt's reply. */
  readonly attemptTimeoutMs: number;
  /** Bound on attempts (default: the forwarder's maxAttempts). */
  readonly maxAttempts?: number;
}

export type ForwardResult =
  | { readonly ok: true; readonly status: number; readonly body: Buffer; readonly contentType: string; readonly pod: string; readonly attempts: number }
  | { readonly ok: false; readonly code: 'NO_OWNER' | 'OWNER_UNREACHABLE' | 'NOT_OWNER'; readonly message: string; readonly attempts: number; readonly pod: string | undefined };

export interface ForwarderOptions {
  readonly secret: string;
  /** Connections per gateway (default 64; opened lazily, kept alive). */
  readonly connections?: number;
  readonly keepAliveTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Hard bound on attempts per forward, whatever the budget (default 20). */
  readonly maxAttempts?: number;
}

type Attempt = { kind: 'reply'; status: number; body: Buffer; contentType: string } | { kind: 'unreachable'; error: string };

const MAX_REPLY_BYTES = 4 * 1024 * 1024;

export class Forwarder {
  private readonly pools = new Map<string, Pool>();
  private readonly opts: Required<ForwarderOptions>;
  private closed = false;

  constructor(
    private readonly routes: RouteSource,
    private readonly clock: Clock,
    private readonly logger: Logger,
    opts: ForwarderOptions,
  ) {
    this.opts = { connections: 64, keepAliveTimeoutMs: 30_000, connectTimeoutMs: 1000, maxAttempts: 20, ...opts };
  }

  /** Forward a guild's request to its owner, following 421s and lease changes within the budget. */
  async forwardGuild(guildId: string, req: ForwardRequest): Promise<ForwardResult> {
    const started = performance.now();
    const r = await this.guild(guildId, req);
    observe(r, started);
    return r;
  }

  /** Forward to any ready gateway (DM interactions), trying the others when one is unreachable. */
  async forwardAny(req: ForwardRequest): Promise<ForwardResult> {
    const started = performance.now();
    const r = await this.any(req);
    observe(r, started);
    return r;
  }

  /** One signed request to one pod, no retries (the portal's per-pod status calls). */
  async requestPod(podId: string, addr: string, req: Omit<ForwardRequest, 'budgetMs'>): Promise<ForwardResult> {
    const a = await this.attempt({ owner: podId, epoch: undefined, addr }, req, req.attemptTimeoutMs);
    if (a.kind === 'reply') return { ok: true, status: a.status, body: a.body, contentType: a.contentType, pod: podId, attempts: 1 };
    return { ok: false, code: 'OWNER_UNREACHABLE', message: `${podId} at ${addr}: ${a.error}`, attempts: 1, pod: podId };
  }

  /** Close pools of gateways that are gone. */
  retain(addrs: ReadonlySet<string>): void {
    for (const [addr, pool] of this.pools) {
      if (addrs.has(addr)) continue;
      this.pools.delete(addr);
      void pool.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }

  private async guild(guildId: string, req: ForwardRequest): Promise<ForwardResult> {
    const stopAt = this.clock.now() + req.budgetMs;
    const tried = new Set<string>();
    let target: ForwardTarget | undefined = this.routes.route(guildId);
    if (!target?.addr) target = (await this.safeReadLease(guildId)) ?? target;
    let followed421 = false;
    let backoffMs = 50;
    let last: { pod: string | undefined; message: string; code: 'NO_OWNER' | 'OWNER_UNREACHABLE' | 'NOT_OWNER' } = { pod: undefined, code: 'NO_OWNER', message: `guild ${guildId} has no owner` };
    let attempts = 0;
    const maxAttempts = req.maxAttempts ?? this.opts.maxAttempts;
    while (attempts < maxAttempts && !this.closed) {
      const left = stopAt - this.clock.now();
      if (left <= 0) break;
      if (!target?.addr) {
        // Nobody owns it (yet), or its owner's address is unknown: wait for a claim.
        last = target ? { pod: target.owner, code: 'OWNER_UNREACHABLE', message: `owner ${target.owner} of guild ${guildId} has no known address` } : { pod: undefined, code: 'NO_OWNER', message: `guild ${guildId} has no owner` };
        await sleep(Math.min(backoffMs, left));
        backoffMs = Math.min(backoffMs * 2, 500);
        target = (await this.safeReadLease(guildId)) ?? this.routes.route(guildId);
        continue;
      }
      attempts++;
      tried.add(key(target));
      const a = await this.attempt(target, req, Math.min(req.attemptTimeoutMs, left));
      if (a.kind === 'reply' && a.status !== 421) return { ok: true, status: a.status, body: a.body, contentType: a.contentType, pod: target.owner, attempts };
      if (a.kind === 'reply') {
        const named = parseNotOwner(a.body);
        last = { pod: target.owner, code: 'NOT_OWNER', message: `${target.owner} does not own guild ${guildId}${named.owner ? ` (it names ${named.owner} at epoch ${named.epoch ?? '?'})` : ''}` };
        if (named.owner && named.epoch !== undefined && named.epoch > (this.routes.route(guildId)?.epoch ?? 0)) this.routes.noteOwner(guildId, named.owner, named.epoch);
        if (!followed421 && named.owner) {
          followed421 = true;
          const next = { owner: named.owner, epoch: named.epoch, addr: this.routes.addrOf(named.owner) };
          if (!tried.has(key(next))) {
            target = next;
            continue;
          }
        }
        // The named owner did not take it either (or none was named): one look at Redis.
        const lease = await this.safeReadLease(guildId);
        if (lease && !tried.has(key(lease))) {
          target = lease;
          continue;
        }
        // Ownership is moving right now (a handoff between its two steps): ask again shortly.
        await sleep(Math.min(backoffMs, Math.max(0, stopAt - this.clock.now())));
        backoffMs = Math.min(backoffMs * 2, 500);
        tried.clear();
        followed421 = false;
        target = (await this.safeReadLease(guildId)) ?? this.routes.route(guildId);
        continue;
      }
      last = { pod: target.owner, code: 'OWNER_UNREACHABLE', message: `owner ${target.owner} of guild ${guildId} at ${target.addr} is unreachable: ${a.error}` };
      this.logger.debug({ guild: guildId, pod: target.owner, epoch: target.epoch, err: a.error }, 'forward attempt failed');
      // The owner may be dead: the lease in Redis says whether someone else holds it by now.
      const failed = key(target);
      const next = (await this.safeReadLease(guildId)) ?? this.routes.route(guildId);
      if (!next || key(next) === failed) {
        await sleep(Math.min(backoffMs, Math.max(0, stopAt - this.clock.now())));
        backoffMs = Math.min(backoffMs * 2, 500);
      }
      target = next ?? target;
    }
    return { ok: false, ...last, attempts };
  }

  private async any(req: ForwardRequest): Promise<ForwardResult> {
    const stopAt = this.clock.now() + req.budgetMs;
    let attempts = 0;
    let lastError = 'no ready gateway';
    const start = Math.floor(Math.random() * 1e9);
    while (attempts < this.opts.maxAttempts && !this.closed) {
      const gateways = this.routes.readyGateways();
      const left = stopAt - this.clock.now();
      if (left <= 0) break;
      if (gateways.length === 0) {
        await sleep(Math.min(100, left));
        continue;
      }
      // Spread DMs over the gateways; on failure move on to the next one.
      const g = gateways[(start + attempts) % gateways.length] as { podId: string; addr: string };
      attempts++;
      const a = await this.attempt({ owner: g.podId, epoch: undefined, addr: g.addr }, req, Math.min(req.attemptTimeoutMs, left));
      if (a.kind === 'reply' && a.status !== 421) return { ok: true, status: a.status, body: a.body, contentType: a.contentType, pod: g.podId, attempts };
      lastError = a.kind === 'reply' ? `${g.podId} answered 421` : `${g.podId}: ${a.error}`;
      // Every gateway refused once: pause before the next round instead of spinning.
      if (attempts % gateways.length === 0) await sleep(Math.min(100 * (attempts / gateways.length), 500, Math.max(0, stopAt - this.clock.now())));
    }
    return { ok: false, code: attempts === 0 ? 'NO_OWNER' : 'OWNER_UNREACHABLE', message: lastError, attempts, pod: undefined };
  }

  private async safeReadLease(guildId: string): Promise<ForwardTarget | undefined> {
    try {
      return await this.routes.readLease(guildId);
    } catch (err) {
      this.logger.warn({ err, guild: guildId }, 'reading the lease from Redis failed; routing from the mirror');
      return undefined;
    }
  }

  private pool(addr: string): Pool {
    let p = this.pools.get(addr);
    if (!p) {
      p = new Pool(`http://${addr}`, {
        connections: this.opts.connections,
        keepAliveTimeout: this.opts.keepAliveTimeoutMs,
        connect: { timeout: this.opts.connectTimeoutMs },
      });
      this.pools.set(addr, p);
    }
    return p;
  }

  private async attempt(target: ForwardTarget, req: Omit<ForwardRequest, 'budgetMs'>, timeoutMs: number): Promise<Attempt> {
    const addr = target.addr as string;
    const body = req.body ?? Buffer.alloc(0);
    const headers: Record<string, string> = {
      ...signInternal(this.opts.secret, { method: req.method, pathWithQuery: req.path, owner: target.owner, epoch: target.epoch, body }, this.clock.wallNow(), req.deadlineAt),
      accept: 'application/json',
    };
    if (req.method === 'POST') headers['content-type'] = 'application/json';
    try {
      const res = await this.pool(addr).request({
        path: req.path,
        method: req.method,
        headers,
        body: req.method === 'POST' ? body : null,
        headersTimeout: Math.max(1, Math.floor(timeoutMs)),
        bodyTimeout: Math.max(1, Math.floor(timeoutMs)),
      });
      const declared = Number(res.headers['content-length']);
      if (declared > MAX_REPLY_BYTES) {
        res.body.destroy();
        return { kind: 'unreachable', error: `reply larger than ${MAX_REPLY_BYTES} bytes` };
      }
      const replyBody = Buffer.from(await res.body.arrayBuffer());
      const ct = res.headers['content-type'];
      return { kind: 'reply', status: res.statusCode, body: replyBody, contentType: Array.isArray(ct) ? (ct[0] ?? '') : (ct ?? '') };
    } catch (err) {
      const e = err as { code?: string; message?: string };
      return { kind: 'unreachable', error: e.code ? `${e.code}: ${e.message ?? ''}` : String(err) };
    }
  }
}

/** A 421 body: `{"error":{…},"owner":"<pod or null>","epoch":<n or null>}`; anything else names nobody. */
export function parseNotOwner(body: Buffer): { owner: string | undefined; epoch: number | undefined } {
  try {
    const b = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    const owner = isPodId(b['owner']) ? b['owner'] : undefined;
    const epoch = typeof b['epoch'] === 'number' && Number.isSafeInteger(b['epoch']) && b['epoch'] > 0 ? b['epoch'] : undefined;
    return { owner, epoch };
  } catch {
    return { owner: undefined, epoch: undefined };
  }
}

const key = (t: ForwardTarget): string => `${t.owner}@${t.epoch ?? ''}@${t.addr ?? ''}`;

function outcomeLabel(r: ForwardResult): string {
  if (r.ok) return r.attempts > 1 ? 'retried' : 'ok';
  return r.code === 'NO_OWNER' ? 'no_owner' : r.code === 'NOT_OWNER' ? 'not_owner' : 'unreachable';
}

// One labelled child per outcome, made once: resolving labels on every observation is a
// measurable part of the per-request cost at thousands of requests a second.
const forwardHistograms = new Map<string, { observe(v: number): void }>();
function observe(r: ForwardResult, startedMs: number): void {
  const label = outcomeLabel(r);
  let h = forwardHistograms.get(label);
  if (!h) {
    h = metrics.forwardSeconds.labels({ outcome: label });
    forwardHistograms.set(label, h);
  }
  h.observe((performance.now() - startedMs) / 1000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
