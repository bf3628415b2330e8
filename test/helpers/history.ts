// Checks a run's history: every message the stand-in dispatched was applied by some owner, and no
// event was applied twice except when its first application was abandoned (DESIGN §10): the
// epoch it was applied under ended without a handoff (the pod died, froze or lost its lease),
// so the next owner restored from the replica, which may lack that epoch's last writes, and
// replayed them. After a handoff the copy carries everything, so a re-application is a bug.
import { readFileSync, existsSync } from 'node:fs';
import type { DispatchRecord } from '../../src/sim/index.js';

export interface Application {
  guild: string;
  key: string;
  pod: string;
  epoch: number;
  at: number;
  t: string;
  outcome: 'applied' | 'duplicate' | 'replayed';
}

export function readApplications(files: string[]): Application[] {
  const out: Application[] = [];
  for (const f of files) {
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n')) if (line) out.push(JSON.parse(line) as Application);
  }
  return out;
}

export interface HistoryReport {
  readonly messages: number;
  readonly lost: string[];
  readonly appliedTwice: string[];
  readonly reappliedAfterKill: number;
}

/** (guild, epoch) → true when the guild's next epoch after it began with a claim, not a handoff. */
export type Abandoned = (guildId: string, epoch: number) => boolean;

/** Build Abandoned from Postgres's assignment log rows (kind 'claim' | 'handoff' per epoch). */
export function abandonedFromLog(rows: readonly { guildId: string; kind: string; epoch: number | null }[]): Abandoned {
  const byGuild = new Map<string, { epoch: number; kind: string }[]>();
  for (const r of rows) {
    if ((r.kind !== 'claim' && r.kind !== 'handoff') || r.epoch === null) continue;
    const list = byGuild.get(r.guildId) ?? [];
    list.push({ epoch: r.epoch, kind: r.kind });
    byGuild.set(r.guildId, list);
  }
  for (const l of byGuild.values()) l.sort((a, b) => a.epoch - b.epoch);
  return (guildId, epoch) => {
    const next = byGuild.get(guildId)?.find((e) => e.epoch > epoch);
    return next !== undefined && next.kind === 'claim';
  };
}

export function checkHistory(dispatches: readonly DispatchRecord[], apps: readonly Application[], abandoned: Abandoned = () => false): HistoryReport {
  const firstApps = new Map<string, Application[]>();
  for (const a of apps) {
    if (a.outcome === 'duplicate') continue;
    const list = firstApps.get(a.key) ?? [];
    list.push(a);
    firstApps.set(a.key, list);
  }
  const lost: string[] = [];
  const appliedTwice: string[] = [];
  let reappliedAfterKill = 0;
  const messages = dispatches.filter((d) => d.type === 'MESSAGE_CREATE');
  const seen = new Set<string>();
  for (const d of messages) {
    if (seen.has(d.key)) continue; // the same message sent to several sessions is one event
    seen.add(d.key);
    const list = firstApps.get(d.key) ?? [];
    if (list.length === 0) lost.push(`${d.guildId}:${d.key}`);
    else if (list.length > 1) {
      const sorted = [...list].sort((a, b) => a.epoch - b.epoch);
      // Allowed only when every earlier application was abandoned (see the header).
      if (sorted.slice(0, -1).every((a) => abandoned(a.guild, a.epoch))) reappliedAfterKill++;
      else appliedTwice.push(`${d.key}: ${list.map((a) => `${a.pod}@${a.epoch}`).join(', ')}`);
    }
  }
  return { messages: seen.size, lost, appliedTwice, reappliedAfterKill };
}
