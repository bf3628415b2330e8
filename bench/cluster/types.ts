// What a benchmark scenario needs from a cluster, whichever design runs it: leasehold's
// gateways and http edge, or the seeds' config service, gateways and HTTP pod. The scenarios
// (bench/scenarios.ts) drive both through this, on the same stand-in and the same traffic.
import type { RoleProcess } from '../../test/helpers/processes.js';

export type Design = 'leasehold' | 'baseline';

export interface BenchCluster {
  readonly design: Design;
  /** Gateway names, in start order. */
  readonly pods: readonly string[];
  /** Start everything and wait until every guild is served. */
  start(): Promise<void>;
  /**
   * Wait until the start's background work is done (leasehold: every guild's replica complete
   * at its current epoch, so no first snapshots compete with the measurement), as a cluster is
   * in production before anyone moves or kills anything. The baseline has none.
   */
  settled(): Promise<void>;
  /** Where the stand-in sends interactions. */
  interactionsUrl(): string;
  /** guild → owning pod, as the design's source of truth says now. */
  owners(): Promise<Map<string, string>>;
  /** The live process of a gateway. */
  process(pod: string): RoleProcess;
  /** Every gateway process started so far (restarts included), for log reading. */
  allProcesses(): readonly RoleProcess[];
  /** kill -9 of the gateway and its children. */
  kill(pod: string): void;
  /** SIGTERM, wait for the exit, start it again with the same identity and wait until it serves. */
  restart(pod: string): Promise<{ exitCode: number | null }>;
  /** Ask for a planned move of these guilds to `to` the design's way. */
  move(guilds: readonly string[], to: string): Promise<void>;
  /** Per moved guild: ms during which no pod applied its events (from the gateways' logs). */
  movePauses(guilds: readonly string[], since: number): number[];
  /** Files of the gateways' application histories (the checker reads them). */
  historyFiles(): string[];
  /** Epoch lineage for the checker (baseline: none). */
  abandoned(): Promise<(guildId: string, e1: number, e2: number) => boolean>;
  close(): Promise<void>;
}

/** Wall-clock ms of a pino log line. */
export const lineTime = (l: Record<string, unknown>): number => Date.parse(String(l['time']));
