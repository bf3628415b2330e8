// Planned handoff between two gateways (DESIGN §4). Source: ask the target to prepare (it keeps
// the guild's dispatches), pause the guild and let in-flight work finish, send a consistent copy
// of its database, move the lease by compare-and-set, and tell the target. Target: a pure state
// machine (handoff-machine.ts) over those calls and lh:events; it goes live by adopting the lease,
// installing the copy and replaying what it kept. Replicas are for failover, not for this.
import { request } from 'undici';
import { AppError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { metrics } from '../metrics.js';
import type { LeaseClient } from '../cluster/leases.js';
import type { GuildData } from '../guild-data/index.js';
import type { GuildCopy } from '../guild-data/handoff-copy.js';
import { signInternal } from '../runtime/internal-auth.js';
import type { EventPipeline } from './pipeline.js';
import { NONE, stepTarget, type TargetAction, type TargetState } from './handoff-machine.js';

export class HandoffError extends AppError {
  constructor(message: string) {
    super(409, 'HANDOFF_FAILED', message);
  }
}

export interface HandoffSourceDeps {
  readonly podId: string;
  readonly secret: string;
  readonly ttlMs: number;
  readonly leases: LeaseClient;
  readonly guildData: GuildData;
  readonly pipeline: EventPipeline;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly addrOf: (podId: string) => string | undefined;
  /** The lease moved: forget it locally (stop + release the file) before the target goes live. */
  readonly onMoved: (guildId: string, epoch: number) => void;
}

async function call(d: HandoffSourceDeps, to: string, path: string, body: Buffer | string, timeoutMs: number): Promise<void> {
  const addr = d.addrOf(to);
  if (!addr) throw new HandoffError(`target ${to} has no address (not a live member)`);
  const headers = signInternal(d.secret, { method: 'POST', pathWithQuery: path, owner: to, epoch: undefined, body }, Date.now());
  const res = await request(`http://${addr}${path}`, { method: 'POST', body, headers: { ...headers, 'content-type': 'application/octet-stream' }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new HandoffError(`${to} answered ${res.statusCode} to ${path.split('?')[0]}: ${text.slice(0, 200)}`);
}

/** Source side: move `guildId` (held at `epoch`) to `to`. Resolves once the lease has moved. */
export async function handOff(d: HandoffSourceDeps, guildId: string, epoch: number, to: string, floor: number): Promise<void> {
  const q = `from=${encodeURIComponent(d.podId)}&epoch=${epoch}`;
  const log = d.logger.child({ guild: guildId, epoch, to });
  await call(d, to, `/internal/handoff/${guildId}/prepare?${q}`, '', 2000);
  const pausedAt = d.clock.now();
  const phases: Record<string, number> = {};
  const mark = (name: string) => (phases[name] = Math.round(d.clock.now() - pausedAt));
  await d.pipeline.pause(guildId);
  mark('paused');
  let moved = false;
  try {
    const copy: GuildCopy = await d.guildData.exportGuild(guildId, d.pipeline.fence(guildId, epoch));
    mark('exported');
    await call(d, to, `/internal/handoff/${guildId}/data?${q}&sha256=${copy.sha256}`, copy.bytes, 30_000);
    mark('sent');
    const r = await d.leases.handoff(guildId, { owner: d.podId, epoch }, to, { floor, ttlMs: d.ttlMs });
    mark('moved');
    if (!r.ok) throw new HandoffError(`lease is no longer ${d.podId}@${epoch} (now ${r.owner ?? 'none'}@${r.epoch ?? '-'})`);
    moved = true;
    d.onMoved(guildId, epoch);
    // The target also learns it from lh:events; this call just makes it immediate and lets us
    // measure the pause (the target answers once the guild is live there).
    await call(d, to, `/internal/handoff/${guildId}/moved?from=${encodeURIComponent(d.podId)}&epoch=${r.epoch}`, '', 30_000).catch((err: unknown) =>
      log.warn({ err }, 'target did not confirm going live; it will pick the lease up from lh:events'),
    );
    metrics.handoffPauseSeconds.observe((d.clock.now() - pausedAt) / 1000);
    mark('live');
    log.info({ newEpoch: r.epoch, pauseMs: Math.round(d.clock.now() - pausedAt), phases, bytes: copy.size }, 'guild handed off');
  } catch (err) {
    if (!moved) {
      d.pipeline.resume(guildId);
      await call(d, to, `/internal/handoff/${guildId}/abort?${q}`, '', 2000).catch(() => undefined);
    }
    throw err;
  }
}

export interface HandoffTargetDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly timeoutMs: number;
  /** Adopt the lease at `epoch` (commit to Postgres); the acquired hook then installs and goes live. */
  readonly adopt: (guildId: string, epoch: number, from: string | undefined) => Promise<void>;
  /** Resolves once the guild is live here at `epoch`. */
  readonly whenLive: (guildId: string, epoch: number) => Promise<void>;
}

/** Target side: keeps each incoming guild's state and the copy it was sent. */
export class HandoffTarget {
  private readonly states = new Map<string, TargetState>();
  private readonly copies = new Map<string, GuildCopy>();

  constructor(private readonly d: HandoffTargetDeps) {}

  prepare(guildId: string, from: string, fromEpoch: number): void {
    this.step(guildId, { kind: 'prepare', from, fromEpoch });
  }

  data(guildId: string, from: string, fromEpoch: number, bytes: Buffer, sha256: string): void {
    const copyId = sha256;
    const actions = this.step(guildId, { kind: 'data', from, fromEpoch, copyId });
    if (!actions.some((a) => a.kind === 'reject')) this.copies.set(guildId, { guildId, sourceEpoch: fromEpoch, size: bytes.length, sha256, bytes });
  }

  async moved(guildId: string, from: string | undefined, epoch: number): Promise<void> {
    this.step(guildId, { kind: 'moved', from, epoch });
    await this.d.adopt(guildId, epoch, from);
    await this.d.whenLive(guildId, epoch);
  }

  abort(guildId: string, from: string, fromEpoch: number): void {
    this.step(guildId, { kind: 'abort', from, fromEpoch });
  }

  /** The copy to install when this guild's lease arrives (consumed). */
  takeCopy(guildId: string): GuildCopy | undefined {
    const c = this.copies.get(guildId);
    this.copies.delete(guildId);
    this.states.delete(guildId);
    return c;
  }

  /** Drop handoffs that stalled (call periodically). */
  tick(): void {
    for (const g of [...this.states.keys()]) this.step(g, { kind: 'tick' });
  }

  private step(guildId: string, input: Parameters<typeof stepTarget>[1]): readonly TargetAction[] {
    const r = stepTarget(this.states.get(guildId) ?? NONE, input, this.d.clock.now(), this.d.timeoutMs);
    if (r.state.kind === 'none') this.states.delete(guildId);
    else this.states.set(guildId, r.state);
    for (const a of r.actions) {
      if (a.kind === 'reject') throw new HandoffError(`handoff of ${guildId} refused: ${a.reason}`);
      if (a.kind === 'discard') {
        this.copies.delete(guildId);
        this.d.logger.info({ guild: guildId, reason: a.reason }, 'incoming handoff dropped');
      }
    }
    return r.actions;
  }
}
