// Discord's REST rate limits, decided in pure code: per-route buckets keyed by the major
// parameter (channel, guild, webhook), and the global per-bot requests-per-second limit.
import { createHash } from 'node:crypto';
import type { Clock } from '../../clock.js';

export type RouteName =
  | 'getGateway'
  | 'getGatewayBot'
  | 'getCurrentUser'
  | 'getCurrentApplication'
  | 'getGlobalCommands'
  | 'putGlobalCommands'
  | 'getGuildCommands'
  | 'putGuildCommands'
  | 'getChannel'
  | 'getMessage'
  | 'createMessage'
  | 'deleteMessage'
  | 'getMember'
  | 'editMember'
  | 'interactionCallback'
  | 'getOriginal'
  | 'editOriginal'
  | 'deleteOriginal'
  | 'createFollowup'
  | 'editFollowup';

export interface RouteLimit {
  readonly limit: number;
  readonly windowMs: number;
}

/** Close to what Discord answers today; a benchmark may raise any of them (SimOptions.routeLimits). */
export const DEFAULT_ROUTE_LIMITS: Readonly<Record<RouteName, RouteLimit>> = {
  getGateway: { limit: 20, windowMs: 5000 },
  getGatewayBot: { limit: 20, windowMs: 5000 },
  getCurrentUser: { limit: 5, windowMs: 1000 },
  getCurrentApplication: { limit: 5, windowMs: 1000 },
  getGlobalCommands: { limit: 5, windowMs: 1000 },
  putGlobalCommands: { limit: 10, windowMs: 20_000 },
  getGuildCommands: { limit: 5, windowMs: 1000 },
  putGuildCommands: { limit: 10, windowMs: 20_000 },
  getChannel: { limit: 5, windowMs: 1000 },
  getMessage: { limit: 5, windowMs: 1000 },
  createMessage: { limit: 5, windowMs: 5000 },
  deleteMessage: { limit: 5, windowMs: 1000 },
  getMember: { limit: 5, windowMs: 1000 },
  editMember: { limit: 10, windowMs: 10_000 },
  interactionCallback: { limit: 5, windowMs: 1000 },
  getOriginal: { limit: 5, windowMs: 1000 },
  editOriginal: { limit: 5, windowMs: 1000 },
  deleteOriginal: { limit: 5, windowMs: 1000 },
  createFollowup: { limit: 5, windowMs: 1000 },
  editFollowup: { limit: 5, windowMs: 1000 },
};

export interface BucketStatus {
  readonly limit: number;
  readonly remaining: number;
  readonly resetAfterMs: number;
  /** Opaque bucket id (X-RateLimit-Bucket); routes sharing a limit share it. */
  readonly hash: string;
}

export type RateDecision =
  | { readonly ok: true; readonly bucket: BucketStatus }
  | { readonly ok: false; readonly scope: 'global'; readonly retryAfterMs: number }
  | { readonly ok: false; readonly scope: 'user'; readonly retryAfterMs: number; readonly bucket: BucketStatus };

interface Window {
  resetAt: number;
  remaining: number;
}

const GLOBAL_WINDOW_MS = 1000;
const SWEEP_AT = 10_000;

export class RestRateLimiter {
  private readonly buckets = new Map<string, Window>();
  private readonly globals = new Map<string, Window>();
  private readonly hashes = new Map<RouteName, string>();
  private nextSweepAt = 0;
  private readonly limits: Record<RouteName, RouteLimit>;

  constructor(
    private readonly clock: Clock,
    private readonly globalPerSecond: number,
    overrides: Partial<Record<RouteName, RouteLimit>> = {},
  ) {
    this.limits = { ...DEFAULT_ROUTE_LIMITS, ...overrides };
  }

  limitOf(route: RouteName): RouteLimit {
    return this.limits[route];
  }

  /**
   * Take one request of `route` for the major parameter `major`. `token` is the bot whose global
   * limit it counts against; undefined for routes exempt from it (interaction callbacks and
   * webhooks, as on Discord).
   */
  take(route: RouteName, major: string, token: string | undefined): RateDecision {
    const now = this.clock.now();
    if (token !== undefined) {
      const g = this.window(this.globals, token, now, this.globalPerSecond, GLOBAL_WINDOW_MS);
      if (g.remaining <= 0) return { ok: false, scope: 'global', retryAfterMs: Math.max(1, g.resetAt - now) };
      g.remaining -= 1;
    }
    const limit = this.limits[route];
    const w = this.window(this.buckets, `${route}:${major}`, now, limit.limit, limit.windowMs);
    const hash = this.hashOf(route);
    if (w.remaining <= 0) return { ok: false, scope: 'user', retryAfterMs: Math.max(1, w.resetAt - now), bucket: { limit: limit.limit, remaining: 0, resetAfterMs: w.resetAt - now, hash } };
    w.remaining -= 1;
    return { ok: true, bucket: { limit: limit.limit, remaining: w.remaining, resetAfterMs: w.resetAt - now, hash } };
  }

  private window(map: Map<string, Window>, key: string, now: number, limit: number, windowMs: number): Window {
    let w = map.get(key);
    if (w === undefined || now >= w.resetAt) {
      // Expired buckets are dropped in a full pass, at most once a second, once there are many.
      if (w === undefined && map.size >= SWEEP_AT && now >= this.nextSweepAt) {
        this.nextSweepAt = now + 1000;
        this.sweep(map, now);
      }
      w = { resetAt: now + windowMs, remaining: limit };
      map.set(key, w);
    }
    return w;
  }

  private sweep(map: Map<string, Window>, now: number): void {
    for (const [k, w] of map) if (now >= w.resetAt) map.delete(k);
  }

  private hashOf(route: RouteName): string {
    let h = this.hashes.get(route);
    if (h === undefined) {
      h = createHash('md5').update(`leasehold-sim:${route}`).digest('hex');
      this.hashes.set(route, h);
    }
    return h;
  }
}
