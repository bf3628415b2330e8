// The pure parts of the side-by-side benchmark: the seeds' placement, the table built from a
// run's measurements (ratios, targets met or missed), and the scale chart's SVG.
import { describe, expect, it } from 'vitest';
import { seedsPlacement } from '../../../bench/baseline/placement.js';
import { buildRows, toMarkdown, type BenchReport, type DesignRun } from '../../../bench/report.js';
import { scaleChartSvg } from '../../../bench/chart.js';
import type { ScaleReport } from '../../../bench/scale-report.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => String(400000000000000000n + BigInt(i)));
const machine = { cpuModel: 'test cpu', cores: 2, memGiB: 24, loadAtStart: 1, loadAtEnd: 2, node: 'v20' };

function design(d: 'leasehold' | 'baseline', failoverMs: number, lost: number): DesignRun {
  return {
    design: d,
    perPod: 1000,
    guilds: 2000,
    shards: 2,
    startMs: 1,
    footprint: { rssBytes: 300 * 2 ** 20, fds: 100, processes: 2 },
    failover: { guilds: 1000, failoverMs, firstLiveMs: failoverMs / 2, messages: 5000, lost, appliedTwice: 0 },
  };
}

describe("the seeds' least-loaded placement", () => {
  it('balances perfectly and moves exactly the joiner share or the leaver share', () => {
    const p = seedsPlacement(ids(3000), 3);
    expect(p.maxOverMean).toBe(1);
    expect(p.joinMoved).toBe(750 / 3000);
    expect(p.leaveMoved).toBe(1000 / 3000);
  });
});

describe('the side-by-side table', () => {
  const report: BenchReport = { quick: false, startedAt: 'a', finishedAt: 'b', machine, plan: { ttlMs: 10_000, pods: 2, ratePerSec: 100, baseline: { heartbeatEveryMs: 30_000, pollEveryMs: 30_000, deadAfterMs: 120_000, cacheTtlMs: 300_000 } }, designs: [design('leasehold', 14_000, 0), design('baseline', 150_000, 3000)], notes: ['a note'] };

  it('gives the ratio to the baseline and says by how much a target was missed', () => {
    const rows = buildRows(report);
    const fo = rows.find((r) => r.measure.startsWith('crash failover, 1,000 guilds'));
    expect(fo).toMatchObject({ leasehold: expect.stringMatching(/^14\.0 s/), baseline: expect.stringMatching(/^150\.0 s/), ratio: '10.7×', target: '≤ TTL + 2 s = 12.0 s', verdict: 'MISSED by 2.0 s' });
    const lost = rows.find((r) => r.measure.startsWith('events lost in that failover'));
    expect(lost).toMatchObject({ leasehold: '0 of 5000', baseline: '3000 of 5000', ratio: '∞ (leasehold 0)', verdict: 'met' });
  });

  it('with only leasehold run (--designs leasehold), still gives its rows, the baseline marked not run', () => {
    const rows = buildRows({ ...report, designs: [design('leasehold', 11_000, 0)] });
    const fo = rows.find((r) => r.measure.startsWith('crash failover, 1,000 guilds'));
    expect(fo).toMatchObject({ leasehold: expect.stringMatching(/^11\.0 s/), baseline: 'not run', ratio: '', verdict: 'met' });
    expect(rows.find((r) => r.measure.startsWith('events lost in that failover'))).toMatchObject({ leasehold: '0 of 5000', baseline: 'not run' });
  });

  it('prints the machine, the workload and every row in Markdown', () => {
    const rows = buildRows(report);
    const md = toMarkdown(report, rows);
    expect(md).toContain('2 cores (test cpu), 24 GiB RAM');
    expect(md).toContain('dead after 120 s');
    expect(md.split('\n').filter((l) => l.startsWith('| ')).length).toBe(rows.length + 2);
    expect(md).toContain('- a note');
  });
});

describe('the scale chart', () => {
  it('draws one line per measure over the samples, with the 15 % target', () => {
    const r: ScaleReport = { quick: false, startedAt: 'a', machine, plan: { pods: 32, guilds: 100_000, ttlMs: 10_000, steadySeconds: 30 }, phases: {}, notes: [], samples: [0, 1, 2].map((t) => ({ t, phase: t < 2 ? 'start' : 'steady', pods: 32, held: t * 50_000, redisCpuPct: 5 + t, eventsPerSec: 100 })) };
    const svg = scaleChartSvg(r);
    expect(svg.match(/<polyline /g)?.length).toBe(3);
    expect(svg).toContain('target 15 %');
    expect(svg).toContain('steady');
  });
});
