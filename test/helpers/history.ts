// Checks a run's history: every message the stand-in dispatched was applied by some owner, and no
// event was applied twice except when its first application died with a killed pod (DESIGN §10).
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

export function checkHistory(dispatches: readonly DispatchRecord[], apps: readonly Application[], killed: ReadonlySet<string> = new Set()): HistoryReport {
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
      // Allowed only when every earlier application was by a pod that was killed.
      if (sorted.slice(0, -1).every((a) => killed.has(a.pod) && a.pod !== sorted[sorted.length - 1]?.pod)) reappliedAfterKill++;
      else appliedTwice.push(`${d.key}: ${list.map((a) => `${a.pod}@${a.epoch}`).join(', ')}`);
    }
  }
  return { messages: seen.size, lost, appliedTwice, reappliedAfterKill };
}
