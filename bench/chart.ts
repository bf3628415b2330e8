// The scale run's timeline as a chart: an SVG built here (guilds held, Redis CPU, lh:events per
// second, phases shaded), rendered to PNG offline by the system's Chromium through
// playwright-core. No network, no chart library.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ScaleReport, ScaleSample } from './scale-report.js';

const W = 1000;
const PANEL_H = 150;
const LEFT = 70;
const RIGHT = 20;
const TOP = 64;
const GAP = 40;

interface Series {
  readonly title: string;
  readonly value: (s: ScaleSample) => number;
  readonly color: string;
  readonly unit: string;
  readonly limit?: { value: number; label: string };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function niceMax(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= x) as number;
}

export function scaleChartSvg(r: ScaleReport): string {
  const samples = r.samples ?? [];
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const x = (t: number) => LEFT + ((W - LEFT - RIGHT) * t) / tMax;
  const series: Series[] = [
    { title: 'guilds held (all pods)', value: (s) => s.held, color: '#2563eb', unit: '' },
    { title: 'Redis CPU, % of one core', value: (s) => s.redisCpuPct, color: '#dc2626', unit: '%', limit: { value: 15, label: 'target 15 %' } },
    { title: 'lh:events entries per second', value: (s) => s.eventsPerSec, color: '#059669', unit: '/s' },
  ];
  const H = TOP + series.length * (PANEL_H + GAP) + 30;
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  out.push(`<text x="${LEFT}" y="24" font-size="16" font-weight="bold">${esc(`Scale run: ${r.plan.pods} ownership loops, ${r.plan.guilds.toLocaleString('en')} guilds, one Redis (TTL ${r.plan.ttlMs / 1000} s)`)}</text>`);
  out.push(`<text x="${LEFT}" y="40" fill="#555">${esc(`${r.machine.cores} cores, ${r.machine.cpuModel}; load average ${r.machine.loadAtStart} at start (shared machine)`)}</text>`);
  // Phase bands across all panels.
  const phases: { name: string; from: number; to: number }[] = [];
  for (const s of samples) {
    const last = phases[phases.length - 1];
    if (last && last.name === s.phase) last.to = s.t;
    else phases.push({ name: s.phase, from: last ? last.to : 0, to: s.t });
  }
  const shades = ['#f3f4f6', '#ffffff'];
  series.forEach((se, i) => {
    const y0 = TOP + i * (PANEL_H + GAP) + 10;
    const vMax = niceMax(Math.max(...samples.map(se.value), se.limit?.value ?? 0));
    const y = (v: number) => y0 + PANEL_H - (PANEL_H * Math.max(0, v)) / vMax;
    phases.forEach((p, k) => {
      out.push(`<rect x="${x(p.from)}" y="${y0}" width="${Math.max(0, x(p.to) - x(p.from))}" height="${PANEL_H}" fill="${shades[k % 2]}"/>`);
      if (i === 0) out.push(`<text x="${x(p.from) + 3}" y="${y0 + 12}" fill="#6b7280" font-size="11">${esc(p.name)}</text>`);
    });
    out.push(`<rect x="${LEFT}" y="${y0}" width="${W - LEFT - RIGHT}" height="${PANEL_H}" fill="none" stroke="#9ca3af"/>`);
    for (const frac of [0, 0.5, 1]) {
      const v = vMax * frac;
      out.push(`<text x="${LEFT - 6}" y="${y(v) + 4}" text-anchor="end" fill="#374151">${esc(v >= 1000 ? `${(v / 1000).toFixed(v % 1000 ? 1 : 0)}k` : String(Number(v.toFixed(1))))}${se.unit === '%' ? ' %' : ''}</text>`);
    }
    if (se.limit) out.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(se.limit.value)}" y2="${y(se.limit.value)}" stroke="${se.color}" stroke-dasharray="5,4"/><text x="${W - RIGHT - 4}" y="${y(se.limit.value) - 4}" text-anchor="end" fill="${se.color}">${esc(se.limit.label)}</text>`);
    const pts = samples.map((s) => `${x(s.t).toFixed(1)},${y(se.value(s)).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${se.color}" stroke-width="2"/>`);
    out.push(`<text x="${LEFT}" y="${y0 - 4}" font-weight="bold" fill="${se.color}">${esc(se.title)}</text>`);
  });
  const axisY = TOP + series.length * (PANEL_H + GAP) - GAP + 26;
  for (let k = 0; k <= 10; k++) {
    const t = (tMax * k) / 10;
    out.push(`<text x="${x(t)}" y="${axisY}" text-anchor="middle" fill="#374151">${t.toFixed(0)} s</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

/** Debian's Chromium, headless, no network, no sandbox (CI runs as root). */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

export async function renderScaleChart(r: ScaleReport, pngPath: string, executablePath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'): Promise<void> {
  if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath}: apt-get install chromium, or set CHROMIUM_PATH`);
  const { chromium } = await import('playwright-core');
  const svg = scaleChartSvg(r);
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: W, height: 800 }, deviceScaleFactor: 1 });
    await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`);
    mkdirSync(dirname(pngPath), { recursive: true });
    await page.locator('svg').screenshot({ path: pngPath });
  } finally {
    await browser.close();
  }
}
