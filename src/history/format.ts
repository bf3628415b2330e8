// The checker's report as text for a person: one count per check, then a few examples of each
// violation so the first one can be looked up in the gateways' logs.
import type { HistoryReport } from './check.js';

const EXAMPLES = 5;

function examples<T>(list: readonly T[], show: (x: T) => string): string {
  if (list.length === 0) return '';
  const lines = list.slice(0, EXAMPLES).map((x) => `      ${show(x)}`);
  if (list.length > EXAMPLES) lines.push(`      … and ${list.length - EXAMPLES} more (--json lists all)`);
  return `\n${lines.join('\n')}`;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function formatReport(r: HistoryReport): string {
  const row = (label: string, n: number, detail = '') => `  ${n === 0 ? 'ok  ' : 'FAIL'}  ${label.padEnd(44)} ${String(n).padStart(6)}${detail}`;
  const info = (label: string, n: number | string) => `        ${label.padEnd(44)} ${String(n).padStart(6)}`;
  const e = r.effects;
  const i = r.interactions;
  const lines = [
    `events dispatched ${r.events}, applications logged ${r.applications}, side effects expected ${e.expected}, interactions ${i.sent} (${i.forged} forged)`,
    row('events never applied', r.lost.length, examples(r.lost, (x) => `${x.guild} ${x.key} (${x.type} at ${iso(x.at)})`)),
    row('events applied twice without a restore between', r.appliedTwice.length, examples(r.appliedTwice, (x) => `${x.guild} ${x.key}: ${x.applications.join(', ')}`)),
    row('applications by two pods with overlapping leases', r.overlapping.length, examples(r.overlapping, (x) => `${x.guild}: ${x.a.pod}@${x.a.epoch} ${iso(x.a.first)}…${iso(x.a.last)} and ${x.b.pod}@${x.b.epoch} from ${iso(x.b.first)}`)),
    row('writes under a stale or uncommitted epoch', r.staleWrites.length, examples(r.staleWrites, (x) => `${x.guild} ${x.key} by ${x.pod}@${x.epoch}: ${x.reason}`)),
    row('epochs that went backwards', r.epochRegressions.length, examples(r.epochRegressions, (x) => `${x.guild} (${x.source}): ${x.detail}`)),
    row('side effects missing', e.missing.length, examples(e.missing, (x) => `${x.guild} nonce ${x.nonce} of ${x.key}`)),
    row('side effects sent twice', e.sentTwice.length, examples(e.sentTwice, (x) => `nonce ${x.nonce} posted ${x.times} times`)),
    row('side effects no application asked for', e.unexpected.length, examples(e.unexpected, (x) => `nonce ${x.nonce} in ${x.guild ?? '?'} from ${x.userAgent}`)),
    row('interactions without a first response in 3 s', i.failed.length, examples(i.failed, (x) => `${x.id} in ${x.guild ?? '-'}: status ${x.status}${x.error ? ` (${x.error})` : ''}`)),
    row('forged interactions accepted', i.forgedAccepted.length, examples(i.forgedAccepted, (x) => `${x.id}: status ${x.status}`)),
    row('deferred interactions never completed', i.notCompleted.length, examples(i.notCompleted, (x) => `${x.id} in ${x.guild ?? '-'}`)),
    info('re-applied after a restore (expected)', r.reappliedAfterRestore),
    info('resends absorbed by their nonce', e.resentDeduplicated),
  ];
  if (i.pending > 0) lines.push(info('interactions still pending (not judged)', i.pending));
  if (!r.lineageChecked) lines.push('  note: no lease log read (--no-postgres): stale writes, epoch regressions in Postgres and the restore rule were not checked; every second application counts as a violation');
  lines.push(r.violations === 0 ? 'history clean: every promise kept' : `${r.violations} violation${r.violations === 1 ? '' : 's'}`);
  return lines.join('\n');
}
