// Renders one row of a Grafana dashboard as a static HTML page (inline SVG), laid out by the
// panels' gridPos, from series already evaluated per scrape: bar gauge, stat and time series, the
// three panel types the "Guild distribution" row uses. Pure: data in, HTML out.

export interface RenderedSeries {
  readonly legend: string;
  /** One value per frame; null where the series did not exist (a killed pod). */
  readonly values: readonly (number | null)[];
}

export interface PanelInput {
  readonly type: 'bargauge' | 'stat' | 'timeseries';
  readonly title: string;
  readonly gridPos: { x: number; y: number; w: number; h: number };
  readonly unit: string;
  /** Threshold steps (first has value null = base); colors as Grafana names or hex. */
  readonly thresholds: readonly { color: string; value: number | null }[];
  readonly series: readonly RenderedSeries[];
}

export interface RowPage {
  readonly dashboardTitle: string;
  readonly rowTitle: string;
  readonly caption: string;
  /** Frame times (ms since epoch), one per scrape. */
  readonly times: readonly number[];
  readonly panels: readonly PanelInput[];
  readonly annotations: readonly { at: number; text: string }[];
  /** Color per legend (pods keep their color across panels). */
  readonly colorOf: (legend: string, index: number) => string;
}

const PAGE_W = 1500;
const PAD = 16;
const ROW_H = 30;
const GAP = 8;
const COL_W = (PAGE_W - 2 * PAD + GAP) / 24;
const NAMED: Record<string, string> = { green: '#73BF69', red: '#F2495C', orange: '#FF9830', yellow: '#FADE2A', blue: '#5794F2', purple: '#B877D9', text: '#ccccdc' };
/** Grafana's classic palette, in its order. */
export const PALETTE = ['#73BF69', '#F2CC0C', '#8AB8FF', '#FF780A', '#F2495C', '#5794F2', '#B877D9', '#705DA0', '#37872D', '#FADE2A'];

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
const color = (c: string): string => NAMED[c] ?? c;

export function formatValue(v: number | null | undefined, unit: string): string {
  if (v === null || v === undefined) return 'No data';
  if (Number.isNaN(v)) return 'NaN';
  if (unit === 'percentunit') return `${(v * 100).toFixed(1)}%`;
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(Math.abs(v) >= 10 ? 1 : 2);
}

const lastOf = (values: readonly (number | null)[]): number | null => {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i] as number;
  return null;
};

function thresholdColor(v: number | null, steps: PanelInput['thresholds']): string {
  let c = steps[0]?.color ?? 'green';
  for (const s of steps) if (s.value === null || (v !== null && v >= s.value)) c = s.color;
  return color(c);
}

const clock = (t: number): string => new Date(t).toISOString().slice(11, 19);

/** A "nice" upper bound for an axis: 1, 2, 2.5 or 5 × 10^n at or above `max`. */
function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return ([1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= max) ?? 10 * p);
}

function pathOf(values: readonly (number | null)[], x: (i: number) => number, y: (v: number) => number): string[] {
  const runs: string[] = [];
  let cur = '';
  values.forEach((v, i) => {
    if (v === null) {
      if (cur) runs.push(cur);
      cur = '';
      return;
    }
    cur += `${cur ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
  });
  if (cur) runs.push(cur);
  return runs;
}

function box(p: PanelInput): { left: number; top: number; width: number; height: number } {
  return { left: PAD + p.gridPos.x * COL_W, top: p.gridPos.y * (ROW_H + GAP), width: p.gridPos.w * COL_W - GAP, height: p.gridPos.h * (ROW_H + GAP) - GAP };
}

/** Stats and bar gauges show the last scrape (what an operator sees now), as an instant query does. */
const current = (values: readonly (number | null)[]): number | null => values.at(-1) ?? null;

function stat(p: PanelInput, w: number, h: number): { bg: string; body: string } {
  const s = p.series[0];
  const v = s ? current(s.values) : null;
  const bg = s ? thresholdColor(v, p.thresholds) : '#181b1f';
  let spark = '';
  if (s && s.values.some((x) => x !== null)) {
    const nums = s.values.filter((x): x is number => x !== null);
    const lo = Math.min(0, ...nums);
    const hi = Math.max(...nums);
    const top = h * 0.55;
    const y = (x: number) => h - 2 - ((x - lo) / (hi - lo || 1)) * (h - top - 4);
    const xs = (i: number) => (i / Math.max(1, s.values.length - 1)) * w;
    spark = pathOf(s.values, xs, y)
      .map((d) => `<path d="${d}L${w},${h}L0,${h}Z" fill="rgba(255,255,255,0.18)" stroke="none"/><path d="${d}" fill="none" stroke="rgba(255,255,255,0.55)" stroke-width="1.2"/>`)
      .join('');
  }
  const body = `<svg class="fill" width="${w}" height="${h}">${spark}</svg><div class="stat-value">${esc(formatValue(v, p.unit))}</div>`;
  return { bg, body };
}

function bargauge(p: PanelInput, w: number, h: number, page: RowPage): string {
  const rows = p.series.filter((s) => current(s.values) !== null).map((s, i) => ({ legend: s.legend, v: current(s.values), c: page.colorOf(s.legend, i) })).sort((a, b) => a.legend.localeCompare(b.legend));
  if (rows.length === 0) return '<div class="nodata">No data</div>';
  const max = Math.max(...rows.map((r) => r.v ?? 0));
  const inner = h - 40;
  const rowH = Math.min(46, inner / rows.length);
  const labelW = 70;
  const valueW = 70;
  const barW = w - 24 - labelW - valueW;
  return `<svg width="${w}" height="${h}" style="position:absolute;left:0;top:32px">${rows
    .map((r, i) => {
      const y = 4 + i * rowH;
      const bh = rowH * 0.72;
      const fw = max > 0 ? ((r.v ?? 0) / max) * barW : 0;
      const id = `g${i}${r.legend.replace(/\W/g, '')}`;
      return `<defs><linearGradient id="${id}" x1="0" x2="1"><stop offset="0" stop-color="${r.c}" stop-opacity="0.35"/><stop offset="1" stop-color="${r.c}"/></linearGradient></defs>
<text x="12" y="${(y + bh / 2 + 5).toFixed(1)}" class="label">${esc(r.legend)}</text>
<rect x="${12 + labelW}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${bh.toFixed(1)}" fill="rgba(204,204,220,0.06)" rx="2"/>
<rect x="${12 + labelW}" y="${y.toFixed(1)}" width="${fw.toFixed(1)}" height="${bh.toFixed(1)}" fill="url(#${id})" rx="2"/>
<text x="${w - 12}" y="${(y + bh / 2 + 8).toFixed(1)}" text-anchor="end" class="bar-value" fill="${r.c}">${esc(formatValue(r.v, p.unit))}</text>`;
    })
    .join('')}</svg>`;
}

function timeseries(p: PanelInput, w: number, h: number, page: RowPage): string {
  const legendRows = p.series.length;
  const legendH = 22 + legendRows * 20;
  const plot = { left: 44, top: 36, right: w - 12, bottom: h - legendH - 22 };
  const n = page.times.length;
  const t0 = page.times[0] ?? 0;
  const t1 = page.times[n - 1] ?? 1;
  const x = (i: number) => plot.left + ((((page.times[i] ?? t0) - t0) / (t1 - t0 || 1)) * (plot.right - plot.left));
  const xAt = (t: number) => plot.left + ((t - t0) / (t1 - t0 || 1)) * (plot.right - plot.left);
  const all = p.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const ymax = niceMax(Math.max(0, ...all));
  const y = (v: number) => plot.bottom - (v / ymax) * (plot.bottom - plot.top);
  const grid: string[] = [];
  for (let k = 0; k <= 4; k++) {
    const v = (ymax * k) / 4;
    grid.push(`<line x1="${plot.left}" x2="${plot.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/><text x="${plot.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="tick">${esc(formatValue(v, p.unit))}</text>`);
  }
  // About one time label per 130 px, so a narrow panel's labels do not run into each other.
  const ticks = Math.max(2, Math.floor((plot.right - plot.left) / 130));
  for (let k = 0; k <= ticks; k++) {
    const t = t0 + ((t1 - t0) * k) / ticks;
    const anchor = k === 0 ? 'start' : k === ticks ? 'end' : 'middle';
    grid.push(`<line x1="${xAt(t).toFixed(1)}" x2="${xAt(t).toFixed(1)}" y1="${plot.top}" y2="${plot.bottom}" class="grid"/><text x="${xAt(t).toFixed(1)}" y="${plot.bottom + 16}" text-anchor="${anchor}" class="tick">${clock(t)}</text>`);
  }
  // A label that would run into the previous one goes a line lower.
  let prevEnd = -Infinity;
  let line = 0;
  const notes = page.annotations
    .filter((a) => a.at >= t0 && a.at <= t1)
    .map((a) => {
      const at = xAt(a.at);
      line = at + 4 < prevEnd ? line + 1 : 0;
      prevEnd = at + 4 + a.text.length * 6.5;
      const right = prevEnd > plot.right;
      return `<line x1="${at.toFixed(1)}" x2="${at.toFixed(1)}" y1="${plot.top - 4}" y2="${plot.bottom}" class="note"/><text x="${(right ? at - 4 : at + 4).toFixed(1)}" y="${plot.top + 8 + line * 12}" text-anchor="${right ? 'end' : 'start'}" class="note-text">${esc(a.text)}</text>`;
    });
  const lines = p.series.map((s, i) => {
    const c = page.colorOf(s.legend, i);
    return pathOf(s.values, x, y)
      .map((d) => {
        const first = /^M([\d.]+)/.exec(d)?.[1];
        const last = /([\d.]+),[\d.]+$/.exec(d)?.[1];
        return `<path d="${d}L${last},${plot.bottom}L${first},${plot.bottom}Z" fill="${c}" fill-opacity="0.1" stroke="none"/><path d="${d}" fill="none" stroke="${c}" stroke-width="1.5"/>`;
      })
      .join('');
  });
  const legend = `<table class="legend" style="top:${plot.bottom + 26}px"><tr><th></th><th>Last *</th><th>Max</th></tr>${p.series
    .map((s, i) => {
      const nums = s.values.filter((v): v is number => v !== null);
      return `<tr><td><span class="swatch" style="background:${page.colorOf(s.legend, i)}"></span>${esc(s.legend)}</td><td>${esc(formatValue(lastOf(s.values), p.unit))}</td><td>${esc(formatValue(nums.length ? Math.max(...nums) : null, p.unit))}</td></tr>`;
    })
    .join('')}</table>`;
  return `<svg width="${w}" height="${plot.bottom + 24}" style="position:absolute;left:0;top:0">${grid.join('')}${lines.join('')}${notes.join('')}</svg>${legend}`;
}

export function renderRowHtml(page: RowPage): string {
  const top = Math.min(...page.panels.map((p) => p.gridPos.y));
  const panels = page.panels.map((p0) => {
    const p = { ...p0, gridPos: { ...p0.gridPos, y: p0.gridPos.y - top } };
    const b = box(p);
    let bg = '#181b1f';
    let body: string;
    if (p.type === 'stat') ({ bg, body } = stat(p, b.width, b.height));
    else if (p.type === 'bargauge') body = bargauge(p, b.width, b.height, page);
    else body = timeseries(p, b.width, b.height, page);
    return `<div class="panel ${p.type}" style="left:${b.left}px;top:${b.top}px;width:${b.width}px;height:${b.height}px;background:${bg}"><div class="title">${esc(p.title)}</div>${body}</div>`;
  });
  const height = Math.max(...page.panels.map((p) => box({ ...p, gridPos: { ...p.gridPos, y: p.gridPos.y - top } })).map((b) => b.top + b.height)) + PAD;
  return `<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0;background:#111217;color:#ccccdc;font-family:"DejaVu Sans","Liberation Sans",sans-serif;width:${PAGE_W}px}
header{padding:14px ${PAD}px 6px}
h1{font-size:18px;font-weight:500;margin:0 0 4px}
.caption{font-size:12px;color:#8e8e9e}
.row-title{font-size:15px;font-weight:600;margin:14px ${PAD}px 8px}
.grid-area{position:relative;height:${height}px}
.panel{position:absolute;border:1px solid rgba(204,204,220,0.1);border-radius:2px;overflow:hidden;box-sizing:border-box}
.title{position:absolute;left:8px;top:6px;font-size:13px;font-weight:500;z-index:2;white-space:nowrap}
.stat .title{color:#fff}
.fill{position:absolute;left:0;top:0}
.stat-value{position:absolute;left:0;right:0;top:30%;text-align:center;font-size:40px;font-weight:600;color:#fff;z-index:1}
.nodata{position:absolute;top:45%;width:100%;text-align:center;color:#8e8e9e}
.label{fill:#ccccdc;font-size:13px}
.bar-value{font-size:22px;font-weight:600}
.grid{stroke:rgba(204,204,220,0.09);stroke-width:1}
.tick{fill:#8e8e9e;font-size:10.5px}
.note{stroke:#8AB8FF;stroke-dasharray:4 3;stroke-width:1.2}
.note-text{fill:#8AB8FF;font-size:10.5px}
.legend{position:absolute;left:12px;right:12px;font-size:12px;border-collapse:collapse;width:calc(100% - 24px)}
.legend th{color:#6e9fff;font-weight:500;text-align:right;padding:1px 8px}
.legend td{text-align:right;padding:1px 8px;border-top:1px solid rgba(204,204,220,0.07)}
.legend td:first-child{text-align:left}
.swatch{display:inline-block;width:14px;height:4px;border-radius:2px;margin-right:6px;vertical-align:middle}
</style></head><body><header><h1>${esc(page.dashboardTitle)}</h1><div class="caption">${esc(page.caption)}</div></header>
<div class="row-title">⌄ ${esc(page.rowTitle)}</div><div class="grid-area">${panels.join('\n')}</div></body></html>`;
}
