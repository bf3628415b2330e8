// Checks a run's history: every message the stand-in dispatched was applied by some owner, and no
// event was applied twice except across a restore (DESIGN §10): when an epoch after the first
// application began with a claim, that owner restored from a replica that may lack the earlier
// epoch's last writes, and replayed them. Across handoffs only, the copies carry everything, so
// a second application there is a bug.
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

/**
 * (guild, e1, e2) → true when some epoch in (e1, e2] began with a claim: the data of e2 was
 * restored from a replica somewhere after e1, so e1's unreplicated tail may be gone and a replay
 * applies it again. When every epoch in between came by handoff, the copies carried everything.
 */
export type Abandoned = (guildId: string, e1: number, e2: number) => boolean;

/** Build Abandoned from Postgres's assignment log rows (kind 'claim' | 'handoff' per epoch). */
export function abandonedFromLog(rows: readonly { guildId: string; kind: string; epoch: number | null }[]): Abandoned {
  const claims = new Map<string, number[]>();
  for (const r of rows) {
    if (r.kind !== 'claim' || r.epoch === null) continue;
    const list = claims.get(r.guildId) ?? [];
    list.push(r.epoch);
    claims.set(r.guildId, list);
  }
  return (guildId, e1, e2) => (claims.get(guildId) ?? []).some((e) => e > e1 && e <= e2);
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
      // Allowed only when each later application's data was restored after the earlier one's epoch.
      if (sorted.slice(1).every((later, i) => abandoned(later.guild, (sorted[i] as Application).epoch, later.epoch))) reappliedAfterKill++;
      else appliedTwice.push(`${d.key}: ${list.map((a) => `${a.pod}@${a.epoch}`).join(', ')}`);
    }
  }
  return { messages: seen.size, lost, appliedTwice, reappliedAfterKill };
}
