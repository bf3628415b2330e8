// The portal's HTML, as pure functions of plain data: the cluster page and the guild page.
// Everything interpolated goes through esc(); no front-end build, one small inline script.
import type { ClusterStatus } from '../admin/operations.js';
import type { MoveRecord } from './routing-view.js';
import type { GuildDashboard } from './dashboard.js';

export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface PodRuntime {
  readonly reachable: boolean;
  readonly replicationLagSeconds: number | undefined;
}

export interface ClusterPageData {
  readonly nowMs: number;
  readonly edgePod: string;
  readonly status: ClusterStatus;
  readonly moves: readonly MoveRecord[];
  readonly pods: ReadonlyMap<string, PodRuntime>;
}

export type DashboardState =
  | { readonly kind: 'ok'; readonly pod: string; readonly data: GuildDashboard }
  | { readonly kind: 'unreachable'; readonly owner: string | undefined; readonly message: string }
  | { readonly kind: 'no_owner' };

export interface GuildPageData {
  readonly nowMs: number;
  readonly edgePod: string;
  readonly guildId: string;
  readonly lease: { readonly owner: string; readonly epoch: number; readonly since: number; readonly ttlMs: number } | undefined;
  readonly dataEpoch: number | null | undefined;
  /** Postgres could not be read (shown instead of the data epoch). */
  readonly storeError: string | undefined;
  readonly pin: { readonly pod: string; readonly honoured: boolean } | undefined;
  readonly desiredOwner: string | undefined;
  readonly dashboard: DashboardState;
}

const REFRESH_MS = 5000;
/** Rows of recent moves and overrides on the cluster page (the API has more). */
const MOVES_SHOWN = 12;

const CSS = `
:root{--bg:#f6f7f9;--fg:#1c2330;--muted:#667085;--card:#fff;--line:#e4e7ec;--accent:#4f6bed;--ok:#12a150;--warn:#c27c0e;--bad:#d92d20;--bar:#c7d2fe}
@media (prefers-color-scheme:dark){:root{--bg:#0f1217;--fg:#e6e8eb;--muted:#98a2b3;--card:#171b22;--line:#2a303a;--accent:#8ea2ff;--bar:#34406b}}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;align-items:baseline;gap:16px;padding:14px 24px;border-bottom:1px solid var(--line);background:var(--card)}
header h1{font-size:17px;margin:0}header a{color:inherit;text-decoration:none}
#fresh{margin-left:auto;color:var(--muted);font-size:12px}#fresh.stale{color:var(--bad);font-weight:600}
main{max-width:1100px;margin:0 auto;padding:18px 24px 40px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin-bottom:18px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.tile b{display:block;font-size:22px}.tile span{color:var(--muted);font-size:12px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin-bottom:16px}
section h2{font-size:14px;margin:0 0 8px}section h2 small{color:var(--muted);font-weight:400}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:5px 8px;border-top:1px solid var(--line);vertical-align:middle}
th{font-size:12px;color:var(--muted);font-weight:500;border-top:none}td.num{text-align:right;font-variant-numeric:tabular-nums;width:70px}
.bar{background:var(--line);border-radius:4px;height:10px;min-width:120px}.bar i{display:block;height:10px;border-radius:4px;background:var(--accent)}
.badge{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;border:1px solid var(--line);margin-right:4px;white-space:nowrap}
.ok{color:var(--ok);border-color:var(--ok)}.warn{color:var(--warn);border-color:var(--warn)}.bad{color:var(--bad);border-color:var(--bad)}
.muted{color:var(--muted)}code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}a{color:var(--accent)}
.banner{border-left:4px solid var(--warn);background:var(--card);padding:10px 14px;margin-bottom:16px;border-radius:4px}
.banner.alert{border-left-color:var(--bad)}.banner.alert b{color:var(--bad)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}dt{color:var(--muted)}dd{margin:0}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:16px}@media (max-width:800px){.cols{grid-template-columns:1fr}}
.empty{color:var(--muted);font-style:italic}
`;

// Swaps <main> with a fresh copy every few seconds; when the edge itself is gone the old data
// stays and the header says how old it is, so a dead pod never leaves a broken page.
const SCRIPT = `
(function(){var last=Date.now(),f=document.getElementById('fresh');
function tick(){var s=Math.round((Date.now()-last)/1000);if(s>${(3 * REFRESH_MS) / 1000}){f.textContent='not updated for '+s+' s (edge unreachable?)';f.className='stale';}}
function load(){fetch(location.href,{headers:{accept:'text/html'},cache:'no-store'}).then(function(r){return r.text()}).then(function(t){
var d=new DOMParser().parseFromString(t,'text/html'),m=d.querySelector('main');if(!m)return;document.querySelector('main').replaceWith(m);
last=Date.now();f.textContent='live · updated '+new Date().toLocaleTimeString();f.className='';}).catch(function(){}).then(function(){setTimeout(load,${REFRESH_MS})});}
setInterval(tick,1000);setTimeout(load,${REFRESH_MS});})();
`;

function page(title: string, edgePod: string, nowMs: number, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · leasehold</title><noscript><meta http-equiv="refresh" content="${REFRESH_MS / 1000}"></noscript><style>${CSS}</style></head>
<body><header><h1><a href="/">leasehold</a></h1><span class="muted">${esc(title)}</span><span id="fresh">live · updated ${esc(clock(nowMs))} UTC · via ${esc(edgePod)}</span></header>
${body}<script>${SCRIPT}</script></body></html>`;
}

const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 19);

export function ago(nowMs: number, thenMs: number): string {
  const s = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

const guildLink = (g: string): string => `<a href="/guilds/${encodeURIComponent(g)}"><code>${esc(g)}</code></a>`;
const badge = (text: string, cls = ''): string => `<span class="badge ${cls}">${esc(text)}</span>`;
const empty = (text: string): string => `<p class="empty">${esc(text)}</p>`;

function lag(p: PodRuntime | undefined): string {
  if (!p) return '<span class="muted">—</span>';
  if (!p.reachable) return badge('unreachable', 'bad');
  if (p.replicationLagSeconds === undefined) return '<span class="muted">unknown</span>';
  const s = p.replicationLagSeconds;
  return badge(`${s < 10 ? s.toFixed(2) : s.toFixed(0)} s`, s < 1 ? 'ok' : s < 5 ? 'warn' : 'bad');
}

function memberBadges(m: ClusterStatus['members'][number]): string {
  const out: string[] = [];
  if (m.role === 'gateway') out.push(m.onRing ? badge('on ring', 'ok') : badge('off ring', 'warn'));
  if (!m.ready) out.push(badge('not ready', 'warn'));
  if (m.draining) out.push(badge('draining', 'warn'));
  if (m.cordoned !== undefined) out.push(badge('cordoned', 'bad'));
  return out.join('');
}

export function renderClusterPage(d: ClusterPageData): string {
  const s = d.status;
  const gateways = s.members.filter((m) => m.role === 'gateway');
  const edges = s.members.filter((m) => m.role !== 'gateway');
  const maxGuilds = Math.max(1, ...gateways.map((m) => m.guilds));
  const lags = [...d.pods.values()].map((p) => p.replicationLagSeconds).filter((x): x is number => x !== undefined);
  const tiles = [
    [String(s.ringMembers.length), `gateways on the ring (of ${gateways.length} live)`],
    [String(s.guilds.owned), 'guilds owned'],
    [String(s.guilds.unowned.length), 'unowned guilds'],
    [String(s.overrides.length), 'lease overrides'],
    [lags.length ? `${Math.max(...lags).toFixed(2)} s` : '—', 'worst replication lag'],
  ];
  const gwRows = gateways
    .map(
      (m) => `<tr><td><b>${esc(m.id)}</b><br><code class="muted">${esc(m.addr)}</code></td><td>${memberBadges(m)}</td>
<td class="num">${m.guilds}</td><td><div class="bar" title="${m.guilds} guilds"><i style="width:${((100 * m.guilds) / maxGuilds).toFixed(1)}%"></i></div></td><td>${lag(d.pods.get(m.id))}</td></tr>`,
    )
    .join('');
  const orphanCounts = new Map<string, number>();
  for (const o of s.orphaned) orphanCounts.set(o.owner, (orphanCounts.get(o.owner) ?? 0) + 1);
  const orphanRows = [...orphanCounts]
    .map(([pod, n]) => `<tr><td><b>${esc(pod)}</b></td><td>${badge('gone', 'bad')} <span class="muted">leases expire within one TTL</span></td><td class="num">${n}</td><td><div class="bar"><i style="width:${((100 * n) / Math.max(maxGuilds, n)).toFixed(1)}%;background:var(--bad)"></i></div></td><td></td></tr>`)
    .join('');
  const gatewaysSection = `<section><h2>Gateways <small>guilds per pod</small></h2>${
    gateways.length + orphanCounts.size === 0
      ? empty('No gateway is running. Guilds are unowned until one starts.')
      : `<table><tr><th>pod</th><th>state</th><th class="num">guilds</th><th>share</th><th>replication lag</th></tr>${gwRows}${orphanRows}</table>`
  }${edges.length ? `<p class="muted">http pods: ${edges.map((m) => `${esc(m.id)} <code>${esc(m.addr)}</code>`).join(' · ')}</p>` : ''}</section>`;

  const overrides = s.overrides.length
    ? `<table><tr><th>guild</th><th>lease owner</th><th>desired owner</th></tr>${s.overrides
        .slice(0, MOVES_SHOWN)
        .map((o) => `<tr><td>${guildLink(o.guildId)}</td><td>${esc(o.owner)}</td><td>${o.desired === undefined ? '<span class="muted">none</span>' : esc(o.desired)}</td></tr>`)
        .join('')}</table>${more(s.overrides.length, MOVES_SHOWN)}`
    : empty('Every lease is on its desired owner.');
  const pins = s.pins.length
    ? `<table><tr><th>guild</th><th>pinned to</th><th></th></tr>${s.pins
        .slice(0, 50)
        .map((p) => `<tr><td>${guildLink(p.guildId)}</td><td>${esc(p.pod)}</td><td>${p.honoured ? badge('honoured', 'ok') : badge('ignored: pod not on ring', 'warn')}</td></tr>`)
        .join('')}</table>${more(s.pins.length, 50)}`
    : empty('No pins.');
  const cordons = s.cordons.length
    ? `<table><tr><th>pod</th><th>reason</th><th></th></tr>${s.cordons
        .map((c) => `<tr><td>${esc(c.pod)}</td><td>${esc(c.reason || '—')}</td><td>${c.live ? badge('running') : badge('not running', 'muted')}</td></tr>`)
        .join('')}</table>`
    : empty('No pod is cordoned.');
  const unowned = s.guilds.unowned.length
    ? `<p>${s.guilds.unowned.slice(0, 60).map(guildLink).join(' ')}</p>${more(s.guilds.unowned.length, 60)}`
    : empty('Every known guild has an owner.');
  const moves = d.moves.length
    ? `<table><tr><th>when</th><th>what</th><th>guild</th><th>from → to</th><th class="num">epoch</th></tr>${d.moves
        .slice(0, MOVES_SHOWN)
        .map(
          (m) => `<tr><td title="${esc(new Date(m.at).toISOString())}">${esc(ago(d.nowMs, m.at))}</td><td>${badge(m.type.replace('_', ' '), m.type === 'handoff' ? 'ok' : m.type === 'claim' ? '' : 'warn')}</td><td>${guildLink(m.guildId)}</td>
<td>${esc(m.from ?? '—')} → ${esc(m.owner || '—')}</td><td class="num">${m.epoch ?? ''}</td></tr>`,
        )
        .join('')}</table>`
    : empty('No lease changes in the event stream yet.');
  const garbage = s.garbage.length ? `<div class="banner alert"><b>${s.garbage.length} Redis key(s) hold garbage</b> and are ignored: <code>${esc(s.garbage.slice(0, 5).join(', '))}</code>${s.garbage.length > 5 ? ' …' : ''}</div>` : '';
  const body = `<main>${garbage}<div class="tiles">${tiles.map(([v, l]) => `<div class="tile"><b>${esc(v)}</b><span>${esc(l)}</span></div>`).join('')}</div>
${gatewaysSection}
<div class="cols"><section><h2>Recent moves <small>from lh:events</small></h2>${moves}</section>
<section><h2>Lease overrides <small>owner ≠ desired: a move is pending</small></h2>${overrides}</section>
<section><h2>Unowned guilds <small>known to Postgres, no lease</small></h2>${unowned}</section>
<section><h2>Pins</h2>${pins}</section>
<section><h2>Cordons</h2>${cordons}</section></div>
<p class="muted">ring v${esc(s.ringParams.version)} · ${esc(s.ringParams.vnodes)} vnodes · ${esc(s.ringParams.hash)} · members: ${esc(s.ringMembers.join(', ') || 'none')}</p></main>`;
  return page('cluster', d.edgePod, d.nowMs, body);
}

const more = (n: number, shown: number): string => (n > shown ? `<p class="muted">… and ${n - shown} more</p>` : '');

export function renderGuildPage(d: GuildPageData): string {
  const l = d.lease;
  const dataEpoch = d.storeError !== undefined ? `<span class="bad">Postgres unreachable</span>` : d.dataEpoch === null || d.dataEpoch === undefined ? '<span class="muted">none (starts empty)</span>' : esc(d.dataEpoch);
  const facts = `<dl>
<dt>owner</dt><dd>${l ? `<b>${esc(l.owner)}</b>` : '<span class="bad">no lease</span>'}${d.desiredOwner && l && d.desiredOwner !== l.owner ? ` ${badge(`moving to ${d.desiredOwner}`, 'warn')}` : ''}</dd>
<dt>epoch</dt><dd>${l ? esc(l.epoch) : '—'}</dd>
<dt>since</dt><dd>${l ? `${esc(ago(d.nowMs, l.since))} <span class="muted">(${esc(new Date(l.since).toISOString())})</span>` : '—'}</dd>
<dt>lease TTL</dt><dd>${l ? `${esc(l.ttlMs)} ms` : '—'}</dd>
<dt>data epoch</dt><dd>${dataEpoch}</dd>
<dt>desired owner</dt><dd>${d.desiredOwner ? esc(d.desiredOwner) : '<span class="muted">no gateway on the ring</span>'}</dd>
<dt>pin</dt><dd>${d.pin ? `${esc(d.pin.pod)} ${d.pin.honoured ? badge('honoured', 'ok') : badge('ignored: pod not on ring', 'warn')}` : '<span class="muted">none</span>'}</dd>
</dl>`;
  let banner = '';
  let detail = '';
  if (d.dashboard.kind === 'unreachable') {
    banner = `<div class="banner alert"><b>Owner ${esc(d.dashboard.owner ?? '(unknown)')} is unreachable.</b> Lease data is shown; activity and reports come back when the guild is served again (a failover takes one lease TTL plus a few seconds).<br><span class="muted">${esc(d.dashboard.message)}</span></div>`;
  } else if (d.dashboard.kind === 'no_owner') {
    banner = `<div class="banner"><b>No gateway owns this guild right now.</b> Activity and reports are shown once one claims it.</div>`;
  } else {
    detail = renderDashboard(d.dashboard.data, d.nowMs, d.dashboard.pod);
  }
  const body = `<main>${banner}<section><h2>Guild <code>${esc(d.guildId)}</code></h2>${facts}</section>${detail}</main>`;
  return page(`guild ${d.guildId}`, d.edgePod, d.nowMs, body);
}

function bars(rows: readonly { label: string; value: number }[], emptyText: string): string {
  if (rows.length === 0) return empty(emptyText);
  const max = Math.max(1, ...rows.map((r) => r.value));
  return `<table>${rows.map((r) => `<tr><td>${r.label}</td><td class="num">${r.value}</td><td><div class="bar"><i style="width:${((100 * r.value) / max).toFixed(1)}%"></i></div></td></tr>`).join('')}</table>`;
}

function renderDashboard(g: GuildDashboard, nowMs: number, pod: string): string {
  const a = g.activity;
  const days = bars((a.days ?? []).slice(-14).map((x) => ({ label: esc(x.day), value: x.messages })), 'No messages counted yet.');
  const channels = bars((a.channels ?? []).slice(0, 10).map((x) => ({ label: x.name ? `#${esc(x.name)}` : `<code>${esc(x.id)}</code>`, value: x.messages })), 'No channel activity yet.');
  const users = bars((a.users ?? []).slice(0, 10).map((x) => ({ label: x.name ? esc(x.name) : `<code>${esc(x.id)}</code>`, value: x.messages })), 'No user activity yet.');
  const reports = g.reports.length
    ? `<table><tr><th>reported</th><th>message</th><th>author</th><th>reporter</th><th>reason</th></tr>${g.reports
        .slice(0, 50)
        .map(
          (r) => `<tr><td>${r.createdAt !== undefined ? esc(ago(nowMs, r.createdAt)) : '—'}</td><td><code>${esc(r.messageId ?? r.id)}</code></td><td><code>${esc(r.authorId ?? '—')}</code></td>
<td><code>${esc(r.reporterId ?? '—')}</code></td><td>${esc(r.reason ?? '')}</td></tr>`,
        )
        .join('')}</table>${more(g.reports.length, 50)}`
    : empty('No open reports.');
  const settings = g.settings
    ? `<dl><dt>moderator role</dt><dd>${g.settings.moderatorRoleId ? `<code>${esc(g.settings.moderatorRoleId)}</code>` : '<span class="muted">not set</span>'}</dd>
<dt>log channel</dt><dd>${g.settings.logChannelId ? `<code>${esc(g.settings.logChannelId)}</code>` : '<span class="muted">not set</span>'}</dd>
<dt>alert keywords</dt><dd>${g.settings.alertKeywords?.length ? g.settings.alertKeywords.map((k) => badge(k)).join('') : '<span class="muted">none</span>'}</dd></dl>`
    : empty('Not set up yet: run /setup in the server.');
  return `<div class="tiles"><div class="tile"><b>${esc(a.total ?? 0)}</b><span>messages counted</span></div><div class="tile"><b>${g.reports.length}</b><span>open reports</span></div>
<div class="tile"><b>${g.replicationLagSeconds !== undefined ? `${esc(g.replicationLagSeconds.toFixed(2))} s` : '—'}</b><span>replication lag</span></div><div class="tile"><b>${esc(pod)}</b><span>served by</span></div></div>
<section><h2>Open reports</h2>${reports}</section>
<div class="cols"><section><h2>Messages per day</h2>${days}</section><section><h2>Settings</h2>${settings}</section>
<section><h2>Top channels</h2>${channels}</section><section><h2>Top users</h2>${users}</section></div>`;
}

/** A small page for portal errors (bad id), in the portal's look rather than JSON. */
export function renderErrorPage(edgePod: string, nowMs: number, status: number, code: string, message: string): string {
  return page(`error ${status}`, edgePod, nowMs, `<main><div class="banner alert"><b>${esc(status)} ${esc(code)}</b><br>${esc(message)}</div><p><a href="/">Back to the cluster</a></p></main>`);
}
