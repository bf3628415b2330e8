// The side-by-side result: what a run measured (JSON, as measured), and the one table built
// from it (Markdown, with ratios, targets and notes), written under bench/results/.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { EdgeLatency } from './baseline/edge.js';
import type { Footprint } from './cluster/footprint.js';
import type { Design } from './cluster/types.js';
import type { FailoverResult, MoveResult, RollingResult } from './scenarios.js';
import { percentile } from './table.js';

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memGiB: number;
  readonly loadAtStart: number;
  readonly loadAtEnd?: number;
  readonly node: string;
}

export interface DesignRun {
  readonly design: Design;
  readonly perPod: number;
  readonly guilds: number;
  readonly shards: number;
  readonly startMs: number;
  /** Ms from the start until its background work was done (BenchCluster.settled). */
  readonly settledMs?: number;
  readonly footprint: Footprint;
  readonly failover?: FailoverResult;
  readonly move?: MoveResult;
  readonly rolling?: RollingResult;
}

interface Balance {
  readonly maxOverMean: number;
  readonly joinMoved: number;
  readonly leaveMoved: number;
}

export interface BenchReport {
  readonly quick: boolean;
  readonly startedAt: string;
  finishedAt?: string;
  machine: Machine;
  readonly plan: unknown;
  readonly designs: DesignRun[];
  ring?: { pods: number; leasehold: Balance; baseline: Balance }[];
  renew?: { redisMs: number; stallMs: string; baselinePoll: { medianMs: number; bytes: number } };
  edge?: { leasehold: EdgeLatency; baseline: EdgeLatency; baselineCached: EdgeLatency };
  readonly notes: string[];
}

export function machine(): Machine {
  const model = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  return { cpuModel: model, cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), loadAtStart: Number((loadavg()[0] ?? 0).toFixed(2)), node: process.version };
}

const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const ms0 = (ms: number) => `${Math.round(ms)} ms`;
const ms2 = (ms: number) => `${ms.toFixed(2)} ms`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
/** baseline ÷ leasehold, where lower is better for both. */
function ratio(lh: number, base: number): string {
  if (!Number.isFinite(lh) || !Number.isFinite(base)) return '';
  if (lh === 0) return base === 0 ? 'equal' : '∞ (leasehold 0)';
  return `${(base / lh).toFixed(1)}×`;
}
const verdict = (ok: boolean, missBy?: string) => (ok ? 'met' : `MISSED${missBy ? ` by ${missBy}` : ''}`);

export interface Row {
  readonly measure: string;
  readonly leasehold: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly target: string;
  readonly verdict: string;
}

export function buildRows(r: BenchReport): Row[] {
  const rows: Row[] = [];
  const add = (measure: string, leasehold: string, baseline: string, rt = '', target = '', v = '') => rows.push({ measure, leasehold, baseline, ratio: rt, target, verdict: v });
  const sizes = [...new Set(r.designs.map((d) => d.perPod))];
  const ttl = (r.plan as { ttlMs?: number }).ttlMs ?? 10_000;
  for (const size of sizes) {
    const lh = r.designs.find((d) => d.design === 'leasehold' && d.perPod === size);
    const b = r.designs.find((d) => d.design === 'baseline' && d.perPod === size);
    if (b && !lh) {
      // leasehold did not complete at this size: the baseline's numbers stay, and the row says so.
      const fb = b.failover;
      const miss = 'not measured (see the notes)';
      if (fb) {
        add(`crash failover, ${size.toLocaleString('en')} guilds per gateway (all of the killed gateway's guilds serving again)`, miss, `${s1(fb.failoverMs)} (${fb.guilds} guilds)`, '', `≤ TTL + 2 s = ${s1(ttl + 2000)}`, 'MISSED');
        add(`events lost in that failover (of messages sent)`, miss, `${fb.lost} of ${fb.messages}`, '', '0', 'MISSED');
      }
      add(`gateway RSS at ${size.toLocaleString('en')} guilds (Litestream children included)`, miss, mib(b.footprint.rssBytes), '', size >= 5000 ? '≤ 2 GiB' : '', size >= 5000 ? 'MISSED' : '');
      continue;
    }
    if (!lh) continue;
    rowsFor(lh, b, size);
  }
  // `b` is missing when only leasehold ran (--designs leasehold): its rows stand alone.
  function rowsFor(lh: DesignRun, b: DesignRun | undefined, size: number): void {
    const NOT_RUN = 'not run';
    const fl = lh.failover;
    const fb = b?.failover;
    const bound = ttl + 2000;
    const lostOf = (x: { lost: number; messages: number; appliedTwice?: number }) => `${x.lost} of ${x.messages}${x.appliedTwice ? `, ${x.appliedTwice} doubled` : ''}`;
    if (fl) {
      add(`crash failover, ${size.toLocaleString('en')} guilds per gateway (all of the killed gateway's guilds serving again)`, `${s1(fl.failoverMs)} (${fl.guilds} guilds; first after ${s1(fl.firstLiveMs)})`, fb ? `${s1(fb.failoverMs)} (${fb.guilds} guilds)` : NOT_RUN, fb ? ratio(fl.failoverMs, fb.failoverMs) : '', `≤ TTL + 2 s = ${s1(bound)}`, verdict(fl.failoverMs <= bound, s1(fl.failoverMs - bound)));
      add(`events lost in that failover (of messages sent)`, lostOf(fl), fb ? lostOf(fb) : NOT_RUN, fb ? ratio(fl.lost, fb.lost) : '', '0', verdict(fl.lost === 0, `${fl.lost} events`));
    }
    add(`gateway RSS at ${size.toLocaleString('en')} guilds (Litestream children included)`, mib(lh.footprint.rssBytes), b ? mib(b.footprint.rssBytes) : NOT_RUN, '', size >= 5000 ? '≤ 2 GiB' : '', size >= 5000 ? verdict(lh.footprint.rssBytes <= 2 * 2 ** 30) : '');
    add(`gateway open file descriptors at ${size.toLocaleString('en')} guilds`, `${lh.footprint.fds} (${lh.footprint.processes} processes)`, b ? `${b.footprint.fds} (${b.footprint.processes} process)` : NOT_RUN, '', '', '');
    if (lh.move) {
      const pl = lh.move.pausesMs;
      const pb = b?.move?.pausesMs;
      const p99 = percentile(pl, 99);
      add(`planned move of ${lh.move.guilds} guilds: pause p50 / p99`, `${ms0(percentile(pl, 50))} / ${ms0(p99)}`, pb ? `${ms0(percentile(pb, 50))} / ${ms0(percentile(pb, 99))}` : NOT_RUN, pb ? ratio(p99, percentile(pb, 99)) : '', 'p99 ≤ 250 ms', verdict(p99 <= 250, ms0(p99 - 250)));
      add('events lost in that move', lostOf(lh.move), b?.move ? lostOf(b.move) : NOT_RUN, b?.move ? ratio(lh.move.lost, b.move.lost) : '', '0', verdict(lh.move.lost === 0));
    }
    if (lh.rolling) {
      const br = b?.rolling;
      add(`rolling restart of ${lh.rolling.restarts} gateways: events lost`, lostOf(lh.rolling), br ? lostOf(br) : NOT_RUN, br ? ratio(lh.rolling.lost, br.lost) : '', '0', verdict(lh.rolling.lost === 0));
      add('rolling restart: interactions failed', `${lh.rolling.interactionsFailed} of ${lh.rolling.interactions}`, br ? `${br.interactionsFailed} of ${br.interactions}` : NOT_RUN, br ? ratio(lh.rolling.interactionsFailed, br.interactionsFailed) : '', '0', verdict(lh.rolling.interactionsFailed === 0));
    }
  }
  if (r.edge) {
    const { leasehold: l, baseline: b, baselineCached: c } = r.edge;
    add(`edge forwarding at ${l.rate} req/s, end to end p50 / p95 / p99`, `${ms2(l.p50)} / ${ms2(l.p95)} / ${ms2(l.p99)}`, `${ms2(b.p50)} / ${ms2(b.p95)} / ${ms2(b.p99)} (5-min cache: ${ms2(c.p50)} / ${ms2(c.p95)} / ${ms2(c.p99)})`, ratio(l.p99, b.p99), '', '');
    const carried = (x: EdgeLatency) => (x.achievedRate !== undefined ? `${Math.round(x.achievedRate)}/s` : '?');
    add(`edge forwarding: requests a second carried (offered ${l.rate}/s)`, carried(l), `${carried(b)}; 5-min cache ${carried(c)}`, '', '', '');
    add(`edge forwarding overhead over a direct call, p99 (errors)`, `${ms2(l.overheadP99)} (${l.errors})`, `${ms2(b.overheadP99)} (${b.errors}); 5-min cache ${ms2(c.overheadP99)} (${c.errors})`, ratio(l.overheadP99, b.overheadP99), '≤ 5 ms', verdict(l.overheadP99 <= 5, ms2(l.overheadP99 - 5)));
  }
  for (const g of r.ring ?? []) {
    add(`ring balance at ${g.pods} pods: max/mean`, g.leasehold.maxOverMean.toFixed(3), g.baseline.maxOverMean.toFixed(3), '', g.pods === 32 ? '≤ 1.10' : '', g.pods === 32 ? verdict(g.leasehold.maxOverMean <= 1.1) : '');
    add(`guilds moved when a pod joins ${g.pods} / leaves`, `${pct(g.leasehold.joinMoved)} / ${pct(g.leasehold.leaveMoved)}`, `${pct(g.baseline.joinMoved)} / ${pct(g.baseline.leaveMoved)}`, '', `join ≤ ${pct(1 / (g.pods + 1) + 0.01)}`, verdict(g.leasehold.joinMoved <= 1 / (g.pods + 1) + 0.01));
  }
  if (r.renew) {
    add('keeping 10k guilds owned: leasehold renews 10k leases (Redis time, every TTL/3); the baseline reads 10k assignments (every 30 s per gateway)', ms2(r.renew.redisMs), `${ms2(r.renew.baselinePoll.medianMs)} per gateway poll (${(r.renew.baselinePoll.bytes / 1024).toFixed(0)} KiB)`, '', '≤ 25 ms', verdict(r.renew.redisMs <= 25, ms2(r.renew.redisMs - 25)));
  }
  return rows;
}

export function toMarkdown(r: BenchReport, rows: Row[]): string {
  const header = ['measure', 'leasehold', 'baseline (seeds)', 'baseline ÷ leasehold', 'target (leasehold)', 'result'];
  const cells = rows.map((x) => [x.measure, x.leasehold, x.baseline, x.ratio, x.target, x.verdict].map((c) => c.replace(/\|/g, '\\|')));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const m = r.machine;
  const plan = r.plan as { pods: number; ratePerSec: number; ttlMs: number; baseline: { heartbeatEveryMs: number; pollEveryMs: number; deadAfterMs: number; cacheTtlMs: number } };
  return [
    `## leasehold vs the seeds' design${r.quick ? ' (--quick: harness check, numbers mean nothing)' : ''}`,
    '',
    `Run ${r.startedAt} → ${r.finishedAt ?? '?'} on ${m.cores} cores (${m.cpuModel}), ${m.memGiB} GiB RAM, Node ${m.node}; load average ${m.loadAtStart} at start, ${m.loadAtEnd ?? '?'} at the end (the stand-in, both designs' pods and the load generator share these cores).`,
    `Workload: the stand-in (\`leasehold sim\`), ${plan.pods} gateways per cluster, seeded message traffic at ${plan.ratePerSec}/s, the same guild ids for both designs. leasehold: lease TTL ${plan.ttlMs / 1000} s. Baseline: heartbeat ${plan.baseline.heartbeatEveryMs / 1000} s, poll ${plan.baseline.pollEveryMs / 1000} s, dead after ${plan.baseline.deadAfterMs / 1000} s, HTTP pod cache ${plan.baseline.cacheTtlMs / 1000} s.`,
    '',
    line(header),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...cells.map(line),
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

export function writeResults(r: BenchReport, dir: string): { md: string; rows: Row[] } {
  const rows = buildRows(r);
  const md = toMarkdown(r, rows);
  mkdirSync(dir, { recursive: true });
  const base = r.quick ? 'bench-quick' : 'bench';
  writeFileSync(join(dir, `${base}.json`), `${JSON.stringify({ ...r, rows }, null, 2)}\n`);
  writeFileSync(join(dir, `${base}.md`), md);
  return { md, rows };
}
