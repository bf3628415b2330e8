// The scale run's result (DESIGN §12): JSON as measured, and a Markdown table with the targets.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Machine } from './report.js';

export interface ScaleSample {
  /** Seconds since the run started. */
  readonly t: number;
  readonly phase: string;
  readonly pods: number;
  readonly held: number;
  readonly redisCpuPct: number;
  readonly eventsPerSec: number;
}

export interface ScalePhase {
  readonly seconds: number;
  readonly guilds?: number;
  readonly redisCpuPct?: number;
  /** Redis time spent in scripts (INFO commandstats), ms per wall second. */
  readonly scriptMsPerSec?: number;
  readonly scriptCallsPerSec?: number;
  readonly eventsPerSec?: number;
  readonly renewMs?: { p50: number; p99: number; count: number };
}

export interface ScaleReport {
  readonly quick: boolean;
  readonly startedAt: string;
  finishedAt?: string;
  machine: Machine;
  readonly plan: { pods: number; guilds: number; ttlMs: number; steadySeconds: number };
  readonly phases: Record<string, ScalePhase>;
  samples?: ScaleSample[];
  readonly notes: string[];
}

const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '?' : x.toFixed(1));

export function scaleRows(r: ScaleReport): string[][] {
  const st = r.phases['steady'];
  const cpu = st?.redisCpuPct;
  const rows: string[][] = [
    [`Redis CPU, steady state (${r.plan.pods} pods renewing ${r.plan.guilds.toLocaleString('en')} leases every ${f1(r.plan.ttlMs / 3000)} s)`, `${f1(cpu)} % of a core`, '≤ 15 % of a core at 100,000 guilds', r.plan.guilds < 100_000 ? 'not comparable (fewer guilds)' : cpu !== undefined && cpu <= 15 ? 'met' : `MISSED${cpu !== undefined ? ` by ${f1(cpu - 15)} points` : ''}`],
    ['Redis time in scripts, steady state', `${f1(st?.scriptMsPerSec)} ms per s (${f1(st?.scriptCallsPerSec)} calls/s)`, '', ''],
    ['renew latency per pod (all its chunks), p50 / p99 (histogram bucket bounds)', `≤ ${f1(st?.renewMs?.p50)} ms / ≤ ${f1(st?.renewMs?.p99)} ms (${st?.renewMs?.count ?? 0} renews)`, '', ''],
    ['lh:events entries per second, steady state', f1(st?.eventsPerSec), '', ''],
    ['convergence from cold start (every guild on its ring owner)', `${f1(r.phases['start']?.seconds)} s`, '', ''],
    [`convergence after a pod dies (${r.phases['podDies']?.guilds ?? '?'} guilds; TTL ${r.plan.ttlMs / 1000} s)`, `${f1(r.phases['podDies']?.seconds)} s`, `≤ TTL + 2 s = ${r.plan.ttlMs / 1000 + 2} s`, (r.phases['podDies']?.seconds ?? Infinity) <= r.plan.ttlMs / 1000 + 2 ? 'met' : 'MISSED'],
    [`convergence after a pod joins (it takes ${r.phases['podJoins']?.guilds ?? '?'} guilds by lease-only handoff)`, `${f1(r.phases['podJoins']?.seconds)} s`, '', ''],
  ];
  return rows;
}

export function writeScaleResults(r: ScaleReport, dir: string): { md: string } {
  const rows = scaleRows(r);
  const header = ['measure', 'measured', 'target', 'result'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const m = r.machine;
  const md = [
    `## Scale run: ${r.plan.pods} ownership loops, ${r.plan.guilds.toLocaleString('en')} guilds, one Redis${r.quick ? ' (--quick: harness check, numbers mean nothing)' : ''}`,
    '',
    `Run ${r.startedAt} → ${r.finishedAt ?? '?'} on ${m.cores} cores (${m.cpuModel}), ${m.memGiB} GiB RAM; load average ${m.loadAtStart} at start, ${m.loadAtEnd ?? '?'} at the end. A private redis-server ${'(its CPU is the run\'s alone)'}; the ${r.plan.pods} loops share one Node process, so convergence times include that process's own CPU queue.`,
    '',
    line(header),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...rows.map(line),
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
  mkdirSync(dir, { recursive: true });
  const base = r.quick ? 'scale-quick' : 'scale';
  writeFileSync(join(dir, `${base}.json`), `${JSON.stringify({ ...r, rows }, null, 2)}\n`);
  writeFileSync(join(dir, `${base}.md`), md);
  return { md };
}
