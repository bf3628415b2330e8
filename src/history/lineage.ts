// The lease lineage of each guild, from Postgres's assignment log: which epochs were committed,
// by whom, when, and whether each began with a claim (a restore from a replica) or a handoff (a
// copy of the live database). Pure: the checker asks it questions, nothing here does I/O.

/** The assignment-log fields the checker reads (src/store's AssignmentLogRow has them all). */
export interface LeaseLogRow {
  readonly id: number;
  readonly guildId: string;
  readonly kind: string;
  readonly owner: string | null;
  readonly epoch: number | null;
  readonly dataEpoch: number | null;
  /** Wall-clock ms (Postgres's now() at the commit). */
  readonly at: number;
}

/**
 * Log kinds that begin an epoch: a claim (data restored from a replica), a handoff (a copy of the
 * live database) and an operator's restore (data rolled back to a point in time).
 */
const EPOCH_KINDS: ReadonlySet<string> = new Set(['claim', 'handoff', 'restore']);
/** Of those, the ones whose data did not come from the previous epoch's live database. */
const RESTORING_KINDS: ReadonlySet<string> = new Set(['claim', 'restore']);

export interface EpochStart {
  readonly epoch: number;
  readonly owner: string;
  readonly kind: string;
  readonly at: number;
}

export interface EpochRegression {
  readonly guild: string;
  readonly source: 'assignment_log' | 'data_epoch' | 'applications';
  /** The epoch that came later but is not above what came before it. */
  readonly epoch: number;
  readonly after: number;
  readonly at: number;
  readonly detail: string;
}

export class LeaseLineage {
  /** Per guild, each committed epoch's first commit, in epoch order. */
  private readonly starts = new Map<string, EpochStart[]>();
  readonly regressions: EpochRegression[] = [];

  constructor(rows: readonly LeaseLogRow[]) {
    const byGuild = new Map<string, LeaseLogRow[]>();
    for (const r of rows) {
      const list = byGuild.get(r.guildId) ?? [];
      list.push(r);
      byGuild.set(r.guildId, list);
    }
    for (const [guild, list] of byGuild) {
      list.sort((a, b) => a.id - b.id);
      const starts: EpochStart[] = [];
      let top = 0;
      let topOwner: string | null = null;
      let dataTop = 0;
      for (const r of list) {
        if (EPOCH_KINDS.has(r.kind) && r.epoch !== null && r.owner !== null) {
          // The same owner committing its own epoch again is an idempotent retry, not a regression.
          if (r.epoch === top && r.owner === topOwner) continue;
          if (r.epoch <= top) {
            this.regressions.push({ guild, source: 'assignment_log', epoch: r.epoch, after: top, at: r.at, detail: `${r.kind} by ${r.owner} at epoch ${r.epoch} after epoch ${top} (${topOwner ?? '?'}) was committed` });
            continue;
          }
          top = r.epoch;
          topOwner = r.owner;
          starts.push({ epoch: r.epoch, owner: r.owner, kind: r.kind, at: r.at });
        } else if (r.kind === 'data_epoch' && r.dataEpoch !== null) {
          if (r.dataEpoch <= dataTop || r.dataEpoch > top) {
            this.regressions.push({ guild, source: 'data_epoch', epoch: r.dataEpoch, after: dataTop, at: r.at, detail: `data_epoch moved to ${r.dataEpoch} from ${dataTop} while the committed epoch was ${top}` });
            continue;
          }
          dataTop = r.dataEpoch;
        }
      }
      this.starts.set(guild, starts);
    }
  }

  /** The commit that began (guild, epoch), if there was one. */
  start(guild: string, epoch: number): EpochStart | undefined {
    return this.starts.get(guild)?.find((s) => s.epoch === epoch);
  }

  /** The first epoch committed after `epoch` (the one that ended its lease interval). */
  next(guild: string, epoch: number): EpochStart | undefined {
    return this.starts.get(guild)?.find((s) => s.epoch > epoch);
  }

  /**
   * True when some epoch in (e1, e2] began with a claim or a restore: e2's data came from a replica
   * after e1 ended, so e1's unreplicated tail may be gone and replaying it again is expected
   * (DESIGN §10). When every epoch in between came by handoff, the copies carried everything.
   */
  restoredBetween(guild: string, e1: number, e2: number): boolean {
    return (this.starts.get(guild) ?? []).some((s) => RESTORING_KINDS.has(s.kind) && s.epoch > e1 && s.epoch <= e2);
  }

  get guilds(): number {
    return this.starts.size;
  }
}
