// The end-to-end tests' view of the history checker (src/history): every message the stand-in
// dispatched was applied by some owner, and no event was applied twice except across a restore
// (DESIGN §10). A thin adapter that keeps the shape those tests use; the logic is the product's.
import { readFileSync, existsSync } from 'node:fs';
import type { DispatchRecord } from '../../src/sim/index.js';
import { checkHistory as check, type LeaseLogRow } from '../../src/history/index.js';
import type { Application } from '../../src/gateway/history-log.js';

export type { Application };

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
  /** `guild:key` of each event never applied. */
  readonly lost: string[];
  /** `key: pod@epoch outcome, …` of each event applied twice without a restore between. */
  readonly appliedTwice: string[];
  readonly reappliedAfterKill: number;
}

/**
 * The lease lineage the restore rule needs: `abandonedFromLog(rows)` carries Postgres's
 * assignment log; `() => false` (no lineage) counts every second application as a violation.
 */
export type Abandoned = ((guildId: string, e1: number, e2: number) => boolean) & { readonly leaseLog?: readonly LeaseLogRow[] };

export function abandonedFromLog(rows: readonly { id: number; guildId: string; kind: string; owner: string | null; epoch: number | null; dataEpoch: number | null; at: Date }[]): Abandoned {
  const leaseLog = rows.map((r) => ({ id: r.id, guildId: r.guildId, kind: r.kind, owner: r.owner, epoch: r.epoch, dataEpoch: r.dataEpoch, at: r.at.getTime() }));
  return Object.assign(() => false, { leaseLog });
}

export function checkHistory(dispatches: readonly DispatchRecord[], apps: readonly Application[], abandoned: Abandoned = () => false): HistoryReport {
  const r = check({ dispatches, applications: apps, effects: [], interactions: [], ...(abandoned.leaseLog ? { leaseLog: abandoned.leaseLog } : {}) });
  return {
    messages: r.events,
    lost: r.lost.map((l) => `${l.guild}:${l.key}`),
    appliedTwice: r.appliedTwice.map((t) => `${t.key}: ${t.applications.join(', ')}`),
    reappliedAfterKill: r.reappliedAfterRestore,
  };
}
