// Reads the history checker's inputs: the stand-in's records (its --log-file, or its control API),
// the gateways' application logs (DATA_DIR/history/<pod>.jsonl) and Postgres's assignment log.
// Every line is validated here; a bad one is an InputError naming the file and line.
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { AssignmentStore } from '../store/index.js';
import type { Application, DispatchRecord, EffectRecord, InteractionRecord, LeaseLogRow } from './check.js';

export class InputError extends Error {
  readonly code = 'BAD_INPUT';
}

const applicationLine = z.object({
  guild: z.string().min(1),
  key: z.string().min(1),
  pod: z.string().min(1),
  epoch: z.number().int().nonnegative(),
  at: z.number(),
  t: z.string(),
  outcome: z.enum(['applied', 'duplicate', 'replayed']),
  effects: z.array(z.string()).optional(),
});

const dispatchLine = z.looseObject({ kind: z.literal('dispatch'), seq: z.number(), at: z.number(), type: z.string(), guildId: z.string().nullable(), key: z.string(), sessions: z.array(z.string()) });
const effectLine = z.looseObject({ kind: z.literal('effect'), n: z.number(), at: z.number(), method: z.string(), route: z.string(), status: z.number(), deduplicated: z.boolean(), nonce: z.string().optional(), userAgent: z.string() });
const interactionLine = z.looseObject({ kind: z.literal('interaction'), n: z.number(), id: z.string(), sentAt: z.number(), badSignature: z.boolean(), failed: z.boolean(), pending: z.boolean(), deferred: z.boolean(), followedUp: z.boolean() });
const simLine = z.discriminatedUnion('kind', [dispatchLine, effectLine, interactionLine]);

export interface SimRecords {
  readonly dispatches: DispatchRecord[];
  readonly effects: EffectRecord[];
  /** The latest state of each interaction. */
  readonly interactions: InteractionRecord[];
}

async function eachLine(path: string, fn: (line: string, n: number) => void): Promise<void> {
  if (!existsSync(path)) throw new InputError(`${path}: no such file`);
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() !== '') fn(line, n);
  }
}

function parseLine<T>(schema: z.ZodType<T>, line: string, where: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new InputError(`${where}: not JSON`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw new InputError(`${where}: ${z.prettifyError(r.error).replace(/\n/g, '; ')}`);
  return r.data;
}

/** The stand-in's `--log-file` (JSON lines with a `kind`); an interaction's last line is its state. */
export async function readSimLogFile(path: string): Promise<SimRecords> {
  const dispatches: DispatchRecord[] = [];
  const effects: EffectRecord[] = [];
  const interactions = new Map<number, InteractionRecord>();
  // The stand-in writes lines in batches, so a kill can leave a half line at the end: only the last line may be cut.
  let cut: string | undefined;
  await eachLine(path, (line, n) => {
    if (cut !== undefined) throw new InputError(cut);
    let rec: z.infer<typeof simLine>;
    try {
      rec = parseLine(simLine, line, `${path}:${n}`);
    } catch (err) {
      cut = (err as Error).message;
      return;
    }
    if (rec.kind === 'dispatch') dispatches.push(rec as unknown as DispatchRecord);
    else if (rec.kind === 'effect') effects.push(rec as unknown as EffectRecord);
    else interactions.set(rec.n, rec as unknown as InteractionRecord);
  });
  return { dispatches, effects, interactions: [...interactions.values()] };
}

/** Page through a running stand-in's control API; fails when it has already dropped early records. */
export async function fetchSimLog(controlUrl: string, fetchFn: typeof fetch = fetch): Promise<SimRecords> {
  const base = controlUrl.replace(/\/+$/, '');
  const read = async <T>(kind: 'dispatches' | 'effects' | 'interactions'): Promise<T[]> => {
    const out: T[] = [];
    let after = 0;
    for (;;) {
      let res: Response;
      try {
        res = await fetchFn(`${base}/log/${kind}?after=${after}&limit=100000`);
      } catch (err) {
        throw new InputError(`the stand-in at ${base} did not answer: ${(err as Error).message}`);
      }
      if (!res.ok) throw new InputError(`GET ${base}/log/${kind}: HTTP ${res.status}`);
      const page = (await res.json()) as { records: T[]; next: number; oldest: number };
      if (after === 0 && page.oldest > 1) throw new InputError(`the stand-in no longer holds its first ${page.oldest - 1} ${kind} records (memory bound); run it with --log-file and pass --sim-log`);
      out.push(...page.records);
      if (page.records.length === 0 || page.next <= after) return out;
      after = page.next;
    }
  };
  const [dispatches, effects, interactions] = await Promise.all([read<DispatchRecord>('dispatches'), read<EffectRecord>('effects'), read<InteractionRecord>('interactions')]);
  return { dispatches, effects, interactions };
}

/**
 * Application logs: each path is a JSONL file, or a directory searched (a few levels deep) for
 * `history/*.jsonl` — a gateway's DATA_DIR, or a folder holding several gateways' DATA_DIRs.
 */
export function findApplicationLogs(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory() && e.name === 'history') out.push(...readdirSync(p).filter((f) => f.endsWith('.jsonl')).map((f) => join(p, f)));
      else if (e.isDirectory() && depth > 0 && e.name !== 'guilds' && e.name !== 'replicas') walk(p, depth - 1);
    }
  };
  for (const p of paths) {
    if (!existsSync(p)) throw new InputError(`${p}: no such file or directory`);
    if (statSync(p).isDirectory()) walk(p, 3);
    else out.push(p);
  }
  return [...new Set(out)].sort();
}

export async function readApplications(files: readonly string[]): Promise<Application[]> {
  const out: Application[] = [];
  for (const f of files) {
    // A gateway killed mid-write can leave a cut last line; the line before it is complete (O_APPEND writes).
    let cut: string | undefined;
    await eachLine(f, (line, n) => {
      if (cut !== undefined) throw new InputError(cut);
      try {
        out.push(parseLine(applicationLine, line, `${f}:${n}`) as Application);
      } catch (err) {
        cut = (err as Error).message;
      }
    });
  }
  return out;
}

/** The whole assignment log, in pages. */
export async function readLeaseLog(store: AssignmentStore): Promise<LeaseLogRow[]> {
  const out: LeaseLogRow[] = [];
  let sinceId = 0;
  for (;;) {
    const rows = await store.readLog({ sinceId, limit: 50_000 });
    for (const r of rows) out.push({ id: r.id, guildId: r.guildId, kind: r.kind, owner: r.owner, epoch: r.epoch, dataEpoch: r.dataEpoch, at: r.at.getTime() });
    if (rows.length < 50_000) return out;
    sinceId = (rows[rows.length - 1] as { id: number }).id;
  }
}
