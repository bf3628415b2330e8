// data_epoch (DESIGN §2): the epoch whose replica path holds a guild's latest complete data. It
// moves to a newly claimed epoch only once that epoch's path has a snapshot; then, and only
// then, the guild's older epoch paths are deleted.
import { silentLogger, type Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { ReplicaTarget } from './replica-target.js';

/** The narrow part of the assignment store (src/store) this folder uses. */
export interface DataEpochStore {
  getAssignment(guildId: string): Promise<{ readonly owner: string | null; readonly epoch: number; readonly dataEpoch: number | null } | undefined>;
  /** Conditional: only moves data_epoch up, never past the committed epoch. */
  advanceDataEpoch(guildId: string, epoch: number): Promise<boolean>;
}

export interface DataEpochAdvancerOptions {
  readonly store: DataEpochStore;
  readonly target: ReplicaTarget;
  /** Asks Litestream whether a path has a snapshot, for targets that cannot tell (S3). */
  readonly probeSnapshot?: (guildId: string, epoch: number) => Promise<boolean>;
  readonly checkEveryMs?: number;
  readonly logger?: Logger;
}

export type AdvanceOutcome = 'advanced' | 'waiting' | 'superseded';

const key = (guildId: string, epoch: number) => `${guildId}@${epoch}`;

export class DataEpochAdvancer {
  /** guild → the epoch waiting for its first snapshot. */
  private readonly pending = new Map<string, number>();
  private readonly snapshotsSeen = new Set<string>();
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** Guilds whose snapshot was just reported, checked ahead of the rounds. */
  private readonly soon = new Set<string>();
  private draining: Promise<void> | undefined;
  private warnedNoDelete = false;

  constructor(private readonly o: DataEpochAdvancerOptions) {
    this.logger = o.logger ?? silentLogger;
  }

  /** The guild now replicates to `epoch`'s path: move data_epoch there once it has a snapshot. */
  track(guildId: string, epoch: number): void {
    const cur = this.pending.get(guildId);
    if (cur === undefined || cur < epoch) this.pending.set(guildId, epoch);
  }

  /**
   * Litestream reported a finished snapshot for the guild's path at `epoch`: check that guild
   * now, not in the next round over every waiting guild (a round over a thousand guilds being
   * claimed takes seconds, and until data_epoch moves a claimer would restore older data).
   */
  noteSnapshot(guildId: string, epoch: number): void {
    this.snapshotsSeen.add(key(guildId, epoch));
    if (this.pending.get(guildId) !== epoch) return;
    this.soon.add(guildId);
    if (!this.draining) this.draining = this.drainSoon().finally(() => (this.draining = undefined));
  }

  private async drainSoon(): Promise<void> {
    while (this.soon.size > 0) {
      const batch = [...this.soon].slice(0, 16);
      for (const g of batch) this.soon.delete(g);
      await Promise.all(
        batch.map(async (g) => {
          const e = this.pending.get(g);
          if (e !== undefined) await this.checkOne(g, e).catch((err: unknown) => this.logger.warn({ guild: g, epoch: e, err: errorMessage(err) }, 'data epoch check failed; retrying'));
        }),
      );
    }
  }

  waiting(): ReadonlyMap<string, number> {
    return this.pending;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.checkSoon(), this.o.checkEveryMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.soon.clear();
    await this.draining;
    await this.running;
  }

  /** Check every waiting guild now. Rounds do not overlap; a request during one runs another after it. */
  checkSoon(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        const work = [...this.pending];
        for (let i = 0; i < work.length; i += 16) {
          await Promise.all(work.slice(i, i + 16).map(([g, e]) => this.checkOne(g, e).catch((err: unknown) => this.logger.warn({ guild: g, epoch: e, err: errorMessage(err) }, 'data epoch check failed; retrying'))));
        }
      } while (this.again);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** One guild: advance when its path has a snapshot and it still holds `epoch`. */
  async checkOne(guildId: string, epoch: number): Promise<AdvanceOutcome> {
    if (!(await this.hasSnapshot(guildId, epoch))) return 'waiting';
    const a = await this.o.store.getAssignment(guildId);
    // Our epoch may not be committed yet (the store queues writes while Postgres is away).
    if (!a || a.epoch < epoch) return 'waiting';
    if (a.epoch > epoch && (a.dataEpoch ?? -1) < epoch) {
      // Another owner took over before this path was complete; whatever it restored from stays.
      this.done(guildId, epoch);
      this.logger.info({ guild: guildId, epoch, current: a.epoch }, 'data epoch not advanced: a newer epoch owns the guild');
      return 'superseded';
    }
    const moved = (a.dataEpoch ?? -1) >= epoch || (await this.o.store.advanceDataEpoch(guildId, epoch));
    if (!moved) return 'waiting';
    this.logger.info({ guild: guildId, epoch, from: a.dataEpoch }, 'data epoch advanced');
    await this.deleteOlder(guildId, epoch);
    this.done(guildId, epoch);
    return 'advanced';
  }

  private done(guildId: string, epoch: number): void {
    if (this.pending.get(guildId) === epoch) this.pending.delete(guildId);
    this.snapshotsSeen.delete(key(guildId, epoch));
  }

  private async hasSnapshot(guildId: string, epoch: number): Promise<boolean> {
    if (this.snapshotsSeen.has(key(guildId, epoch))) return true;
    const direct = await this.o.target.hasSnapshot(guildId, epoch);
    if (direct !== undefined) return direct;
    return this.o.probeSnapshot ? this.o.probeSnapshot(guildId, epoch) : false;
  }

  /** Paths of epochs below the new data_epoch: nobody restores from them again. */
  private async deleteOlder(guildId: string, epoch: number): Promise<void> {
    const epochs = await this.o.target.listEpochs(guildId);
    if (epochs === undefined) {
      if (!this.warnedNoDelete) this.logger.warn({ target: this.o.target.kind }, 'old epoch replica paths are not deleted on this target: expire them with a bucket lifecycle rule');
      this.warnedNoDelete = true;
      return;
    }
    for (const e of epochs.filter((x) => x < epoch)) {
      if (await this.o.target.deleteEpoch(guildId, e)) this.logger.info({ guild: guildId, epoch: e, dataEpoch: epoch }, 'old epoch replica deleted');
    }
  }
}
