// The history checker (DESIGN §10): joins what the Discord stand-in dispatched and received
// (events, side effects, interactions), what each gateway applied (guild, dedupe key, pod, epoch,
// time) and the lease lineage from Postgres, and reports every broken promise: events never
// applied, events applied twice without a restore in between, applications by two pods whose
// lease intervals overlap, writes under a stale (or uncommitted) epoch, epochs that went
// backwards, side effects missing, sent twice or sent for nothing, and interactions that failed.
// Pure: inputs in, report out.
import type { Application } from '../gateway/history-log.js';
import type { DispatchRecord, EffectRecord, InteractionRecord } from '../sim/records.js';
import { LeaseLineage, type EpochRegression, type LeaseLogRow } from './lineage.js';

export type { Application, DispatchRecord, EffectRecord, InteractionRecord, LeaseLogRow, EpochRegression };

/** Dispatch types the gateway applies (the features react to these only; see gateway/pipeline.ts). */
export const APPLIED_TYPES: ReadonlySet<string> = new Set(['MESSAGE_CREATE', 'GUILD_DELETE']);
/** The side-effect route whose calls carry the nonce an application derived. */
const MESSAGE_ROUTE = '/channels/:channel/messages';

export interface HistoryInput {
  readonly dispatches: readonly DispatchRecord[];
  readonly effects: readonly EffectRecord[];
  /** The latest state of each interaction. */
  readonly interactions: readonly InteractionRecord[];
  readonly applications: readonly Application[];
  /** The assignment log; undefined when Postgres was not read (lineage checks are then skipped). */
  readonly leaseLog?: readonly LeaseLogRow[];
}

export interface CheckOptions {
  /**
   * Only events dispatched, and interactions sent, in [from, to) (wall ms) count, and only
   * violations stamped in it; applications, effects and the lease log are read whole, since an
   * event's applications and effects may come later. Default: everything.
   */
  readonly window?: { readonly from: number; readonly to: number };
  /** Tolerated clock difference between the gateways and Postgres (default 0: one machine). */
  readonly clockSlackMs?: number;
}

export interface Span {
  readonly pod: string;
  readonly epoch: number;
  readonly first: number;
  readonly last: number;
}

export interface HistoryReport {
  readonly events: number;
  readonly applications: number;
  readonly lost: { guild: string; key: string; type: string; at: number }[];
  readonly appliedTwice: { guild: string; key: string; applications: string[] }[];
  /** Second applications across a restore: expected (DESIGN §10), counted, not violations. */
  readonly reappliedAfterRestore: number;
  readonly overlapping: { guild: string; a: Span; b: Span }[];
  readonly staleWrites: { guild: string; key: string; pod: string; epoch: number; at: number; reason: string }[];
  readonly epochRegressions: EpochRegression[];
  readonly effects: {
    readonly expected: number;
    readonly sent: number;
    /** Repeats the nonce absorbed (a resend after failover): harmless, counted for the record. */
    readonly resentDeduplicated: number;
    readonly missing: { guild: string; nonce: string; key: string }[];
    readonly sentTwice: { nonce: string; times: number }[];
    readonly unexpected: { nonce: string; guild: string | undefined; userAgent: string }[];
  };
  readonly interactions: {
    readonly sent: number;
    readonly forged: number;
    /** No valid first response within 3 s (Discord's view). */
    readonly failed: { id: string; guild: string | null; status: number; error: string | null }[];
    /** Mis-signed ones answered with anything but 401. */
    readonly forgedAccepted: { id: string; status: number }[];
    /** Deferred, and never edited or followed up. */
    readonly notCompleted: { id: string; guild: string | null }[];
    /** Still waiting for an answer when the log was read (not counted as violations). */
    readonly pending: number;
  };
  /** False when no lease log was given: overlap by lease interval, stale writes and the restore rule were not checked. */
  readonly lineageChecked: boolean;
  readonly violations: number;
}

const isFirst = (a: Application) => a.outcome !== 'duplicate';

export function checkHistory(input: HistoryInput, opts: CheckOptions = {}): HistoryReport {
  const slack = opts.clockSlackMs ?? 0;
  const inWindow = (at: number) => opts.window === undefined || (at >= opts.window.from && at < opts.window.to);
  const lineage = input.leaseLog ? new LeaseLineage(input.leaseLog) : undefined;

  const appsByKey = new Map<string, Application[]>();
  for (const a of input.applications) {
    const list = appsByKey.get(a.key) ?? [];
    list.push(a);
    appsByKey.set(a.key, list);
  }

  // Events: one per dedupe key (the same message sent to several sessions is one event).
  const events = new Map<string, DispatchRecord>();
  for (const d of input.dispatches) if (d.guildId !== null && APPLIED_TYPES.has(d.type) && inWindow(d.at) && !events.has(d.key)) events.set(d.key, d);
  const interactionKeys = new Set(input.interactions.filter((i) => inWindow(i.sentAt) && !i.badSignature && i.guildId !== null).map((i) => `int:${i.id}`));

  const lost: HistoryReport['lost'] = [];
  for (const [key, d] of events) if (!(appsByKey.get(key) ?? []).some(isFirst)) lost.push({ guild: d.guildId as string, key, type: d.type, at: d.at });

  const appliedTwice: HistoryReport['appliedTwice'] = [];
  let reappliedAfterRestore = 0;
  for (const key of [...events.keys(), ...interactionKeys]) {
    const firsts = (appsByKey.get(key) ?? []).filter(isFirst).sort((a, b) => a.epoch - b.epoch || a.at - b.at);
    if (firsts.length < 2) continue;
    // Each later application is allowed only when its epoch's data was restored after the earlier one's epoch.
    const justified = firsts.slice(1).every((later, i) => {
      const earlier = firsts[i] as Application;
      return later.epoch > earlier.epoch && lineage !== undefined && lineage.restoredBetween(later.guild, earlier.epoch, later.epoch);
    });
    if (justified) reappliedAfterRestore++;
    else appliedTwice.push({ guild: (firsts[0] as Application).guild, key, applications: firsts.map((a) => `${a.pod}@${a.epoch} ${a.outcome}`) });
  }

  const overlapping = findOverlaps(input.applications, inWindow);
  const staleWrites = lineage ? findStaleWrites(input.applications, lineage, slack, inWindow) : [];
  const epochRegressions = [...(lineage?.regressions.filter((r) => inWindow(r.at)) ?? []), ...findApplicationRegressions(input.applications, inWindow)];
  const effects = checkEffects(input, events, interactionKeys, appsByKey, inWindow);
  const interactions = checkInteractions(input.interactions.filter((i) => inWindow(i.sentAt)));

  const violations =
    lost.length +
    appliedTwice.length +
    overlapping.length +
    staleWrites.length +
    epochRegressions.length +
    effects.missing.length +
    effects.sentTwice.length +
    effects.unexpected.length +
    interactions.failed.length +
    interactions.forgedAccepted.length +
    interactions.notCompleted.length;
  return {
    events: events.size,
    applications: input.applications.length,
    lost,
    appliedTwice,
    reappliedAfterRestore,
    overlapping,
    staleWrites,
    epochRegressions,
    effects,
    interactions,
    lineageChecked: lineage !== undefined,
    violations,
  };
}

/**
 * The interval in which a pod acted for a guild under one epoch is the span of its applications
 * (duplicates included: it was processing under that lease). Two pods' spans for one guild must
 * not overlap — whichever epochs they hold.
 */
function findOverlaps(apps: readonly Application[], inWindow: (at: number) => boolean): HistoryReport['overlapping'] {
  const spans = new Map<string, Map<string, Span>>();
  for (const a of apps) {
    const byLease = spans.get(a.guild) ?? new Map<string, Span>();
    spans.set(a.guild, byLease);
    const id = `${a.pod}@${a.epoch}`;
    const s = byLease.get(id);
    byLease.set(id, s ? { ...s, first: Math.min(s.first, a.at), last: Math.max(s.last, a.at) } : { pod: a.pod, epoch: a.epoch, first: a.at, last: a.at });
  }
  const out: HistoryReport['overlapping'] = [];
  for (const [guild, byLease] of spans) {
    const list = [...byLease.values()].sort((x, y) => x.first - y.first);
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i] as Span;
        const b = list[j] as Span;
        if (b.first > a.last) break; // sorted by first: no later span can overlap a either
        if (a.pod !== b.pod && inWindow(b.first)) out.push({ guild, a, b });
      }
    }
  }
  return out;
}

/**
 * Every first application under epoch e must fall inside e's lease interval: after e was
 * committed (the gateway commits before it applies) and before the next epoch was committed
 * (by then the old owner's deadline had passed or it had handed off). Duplicates write nothing.
 */
function findStaleWrites(apps: readonly Application[], lineage: LeaseLineage, slackMs: number, inWindow: (at: number) => boolean): HistoryReport['staleWrites'] {
  const out: HistoryReport['staleWrites'] = [];
  for (const a of apps) {
    if (!isFirst(a) || !inWindow(a.at)) continue;
    const start = lineage.start(a.guild, a.epoch);
    const next = lineage.next(a.guild, a.epoch);
    let reason: string | undefined;
    if (start === undefined) reason = `epoch ${a.epoch} was never committed to Postgres`;
    else if (start.owner !== a.pod) reason = `epoch ${a.epoch} belongs to ${start.owner}`;
    else if (a.at < start.at - slackMs) reason = `applied ${start.at - a.at} ms before epoch ${a.epoch} was committed`;
    else if (next !== undefined && a.at > next.at + slackMs) reason = `applied ${a.at - next.at} ms after epoch ${next.epoch} (${next.owner}) was committed`;
    if (reason !== undefined) out.push({ guild: a.guild, key: a.key, pod: a.pod, epoch: a.epoch, at: a.at, reason });
  }
  return out;
}

/** In time order, no guild's first applications may step back to a lower epoch. */
function findApplicationRegressions(apps: readonly Application[], inWindow: (at: number) => boolean): EpochRegression[] {
  const byGuild = new Map<string, Application[]>();
  for (const a of apps) {
    if (!isFirst(a)) continue;
    const list = byGuild.get(a.guild) ?? [];
    list.push(a);
    byGuild.set(a.guild, list);
  }
  const out: EpochRegression[] = [];
  for (const [guild, list] of byGuild) {
    list.sort((x, y) => x.at - y.at);
    let top: Application | undefined;
    for (const a of list) {
      if (top !== undefined && a.epoch < top.epoch && a.at > top.at) {
        if (inWindow(a.at)) out.push({ guild, source: 'applications', epoch: a.epoch, after: top.epoch, at: a.at, detail: `${a.pod} applied ${a.key} at epoch ${a.epoch} after ${top.pod} had applied at epoch ${top.epoch}` });
      } else if (top === undefined || a.epoch > top.epoch) top = a;
    }
  }
  return out;
}

function checkEffects(input: HistoryInput, events: ReadonlyMap<string, DispatchRecord>, interactionKeys: ReadonlySet<string>, appsByKey: ReadonlyMap<string, Application[]>, inWindow: (at: number) => boolean): HistoryReport['effects'] {
  // Expected: every nonce an application of an in-scope event put in the outbox.
  const expected = new Map<string, { guild: string; key: string }>();
  for (const key of [...events.keys(), ...interactionKeys]) {
    for (const a of appsByKey.get(key) ?? []) for (const nonce of a.effects ?? []) expected.set(nonce, { guild: a.guild, key });
  }
  // Every nonce any application produced (a nonce outside the scope is not "unexpected").
  const known = new Set<string>();
  for (const a of input.applications) for (const nonce of a.effects ?? []) known.add(nonce);
  const posted = new Map<string, EffectRecord[]>();
  let resentDeduplicated = 0;
  for (const e of input.effects) {
    if (e.method !== 'POST' || e.route !== MESSAGE_ROUTE || e.nonce === undefined || e.status < 200 || e.status >= 300) continue;
    if (e.deduplicated) {
      if (expected.has(e.nonce)) resentDeduplicated++;
      continue;
    }
    const list = posted.get(e.nonce) ?? [];
    list.push(e);
    posted.set(e.nonce, list);
  }
  const missing: HistoryReport['effects']['missing'] = [];
  const sentTwice: HistoryReport['effects']['sentTwice'] = [];
  let sent = 0;
  for (const [nonce, from] of expected) {
    const times = posted.get(nonce)?.length ?? 0;
    if (times === 0) missing.push({ guild: from.guild, nonce, key: from.key });
    else sent++;
    if (times > 1) sentTwice.push({ nonce, times });
  }
  // Application logs written before effects were recorded carry no nonces: nothing to hold against them.
  const recordsEffects = input.applications.some((a) => a.effects !== undefined);
  const unexpected: HistoryReport['effects']['unexpected'] = [];
  if (recordsEffects) for (const [nonce, list] of posted) if (!known.has(nonce)) for (const e of list.filter((x) => inWindow(x.at))) unexpected.push({ nonce, guild: e.guildId, userAgent: e.userAgent });
  return { expected: expected.size, sent, resentDeduplicated, missing, sentTwice, unexpected };
}

function checkInteractions(list: readonly InteractionRecord[]): HistoryReport['interactions'] {
  const settled = list.filter((i) => !i.pending);
  return {
    sent: list.length,
    forged: list.filter((i) => i.badSignature).length,
    failed: settled.filter((i) => !i.badSignature && i.failed).map((i) => ({ id: i.id, guild: i.guildId, status: i.status, error: i.error })),
    forgedAccepted: settled.filter((i) => i.badSignature && i.failed).map((i) => ({ id: i.id, status: i.status })),
    notCompleted: settled.filter((i) => !i.badSignature && !i.failed && i.deferred && !i.followedUp).map((i) => ({ id: i.id, guild: i.guildId })),
    pending: list.length - settled.length,
  };
}
