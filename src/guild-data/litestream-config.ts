// Renders the effective Litestream config of one process from the repository's litestream.yml:
// the template's single `dbs:` entry is repeated per guild with its {{fields}} filled in
// (JSON-quoted, which YAML reads as double-quoted strings); the rest passes through verbatim so
// Litestream still expands ${VAR} itself.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';
import { GuildDataError } from './errors.js';
import type { ReplicaLocation } from './replica-target.js';

export const defaultTemplatePath = join(packageRoot, 'litestream.yml');

export interface ConfigTemplate {
  /** Lines up to and including `dbs:`. */
  readonly head: string;
  /** The one db entry, with {{fields}}. */
  readonly entry: string;
  /** Top-level lines after the dbs block. */
  readonly tail: string;
}

export interface ReplicatedDb {
  readonly dbPath: string;
  readonly replica: ReplicaLocation;
}

const FIELDS = ['db_path', 'replica_type', 'replica_bucket', 'replica_path', 'monitor_interval', 'sync_interval'] as const;
type Field = (typeof FIELDS)[number];

export function parseTemplate(text: string): ConfigTemplate {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^dbs:\s*(#.*)?$/.test(l));
  if (start < 0) throw new GuildDataError('BAD_TEMPLATE', 'litestream.yml template has no top-level `dbs:` entry');
  let end = start + 1;
  while (end < lines.length && !/^[^\s#]/.test(lines[end] as string)) end++;
  const entryLines = lines.slice(start + 1, end);
  // Comment lines inside the block stay in the head copy only, not once per guild.
  const entry = entryLines.filter((l) => !/^\s*#/.test(l) && l.trim().length > 0).join('\n');
  const indent = /^(\s+)- /.exec(entry)?.[1];
  const items = indent === undefined ? 0 : entry.split('\n').filter((l) => l.startsWith(`${indent}- `)).length;
  if (items !== 1) throw new GuildDataError('BAD_TEMPLATE', 'litestream.yml `dbs:` must hold exactly one list entry (the per-guild template)');
  for (const f of ['db_path', 'replica_path'] as const) {
    if (!entry.includes(`{{${f}}}`)) throw new GuildDataError('BAD_TEMPLATE', `litestream.yml db entry lacks {{${f}}}`);
  }
  const unknown = [...entry.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1] as string).filter((f) => !(FIELDS as readonly string[]).includes(f));
  if (unknown.length > 0) throw new GuildDataError('BAD_TEMPLATE', `litestream.yml uses unknown fields: ${unknown.join(', ')}`);
  return {
    head: lines.slice(0, start + 1).join('\n'),
    entry,
    tail: lines.slice(end).join('\n'),
  };
}

export function loadTemplate(path = defaultTemplatePath): ConfigTemplate {
  return parseTemplate(readFileSync(path, 'utf8'));
}

/** Go duration text for milliseconds ("100ms", "1s"). */
export function goDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export function renderConfig(t: ConfigTemplate, dbs: readonly ReplicatedDb[], intervals: { monitorMs: number; syncMs: number }): string {
  const entries = dbs.map((d) => {
    const values: Record<Field, string> = {
      db_path: d.dbPath,
      replica_type: d.replica.type,
      replica_bucket: d.replica.bucket,
      replica_path: d.replica.path,
      monitor_interval: goDuration(intervals.monitorMs),
      sync_interval: goDuration(intervals.syncMs),
    };
    for (const v of Object.values(values)) {
      // Litestream's ${VAR} expansion would rewrite a `$` in a path; there is no escape.
      if (v.includes('$')) throw new GuildDataError('BAD_TEMPLATE', `value ${JSON.stringify(v)} contains "$", which Litestream would expand`);
    }
    return t.entry.replace(/\{\{(\w+)\}\}/g, (_, f: string) => JSON.stringify(values[f as Field]));
  });
  const dbsText = entries.length > 0 ? entries.join('\n') : '  []';
  return `${t.head}\n${dbsText}\n${t.tail}`;
}
