// Where a restore reads a local-directory replica into its scratch file and checks it: on the
// event loop, or on a few worker threads. The reading is synchronous file work (lz4 decoding, a
// checkpoint, quick_check), and a survivor restoring hundreds of guilds after a failover did it
// on the same thread that applies their replayed events and renews every lease: in a V8 profile
// of the 400-guilds-per-gateway bench the reads and checks were a fifth of a saturated event
// loop. On threads they overlap each other's disk waits and the loop keeps serving.
//
// Either way the result is the same: a FileReplicaRestore and the candidate check's problem (if
// any), or a FileReplicaReadError, after which the caller restores with the Litestream binary.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { threadId, Worker } from 'node:worker_threads';
import { silentLogger, type Logger } from '../log.js';
import { FileReplicaReadError, restoreFromFileReplica, type FileReplicaRestore } from './file-replica-restore.js';
import { stampScratchFile } from './epoch-stamp.js';
import { checkCandidate } from './local-files.js';

export interface ReplicaReadOutcome {
  readonly read: FileReplicaRestore;
  /** Why the file read cannot be served (checkCandidate), undefined when it passed. */
  readonly problem: string | undefined;
  /** The thread that read it (worker_threads threadId; 0 is the event loop's). */
  readonly thread: number;
  /** Whether the epoch asked for was stamped into the file (its WAL folded in). */
  readonly stamped: boolean;
}

/** The epoch to stamp into a file that passed its checks (epoch-stamp.ts), and the wall ms of it. */
export interface EpochStamp {
  readonly epoch: number;
  readonly atMs: number;
}

export interface ReplicaReader {
  readonly kind: 'in-process' | 'threads';
  /**
   * Read the replica at `replicaDir` into `outPath` (must not exist), check it and, when it
   * passed, stamp `stamp` into it. Throws FileReplicaReadError.
   */
  read(replicaDir: string, outPath: string, guildId: string, stamp?: EpochStamp): Promise<ReplicaReadOutcome>;
  close(): Promise<void>;
}

/** Messages between the pool and its threads (replica-read-worker.ts). */
export interface ReadJob {
  readonly id: number;
  readonly replicaDir: string;
  readonly outPath: string;
  readonly guildId: string;
  readonly stamp: EpochStamp | undefined;
}
export type ReadReply =
  | { readonly id: number; readonly ok: true; readonly read: FileReplicaRestore; readonly problem: string | undefined; readonly thread: number; readonly stamped: boolean }
  | { readonly id: number; readonly ok: false; readonly readError: boolean; readonly message: string };

/** The work of one job, on whichever thread runs it. Throws what restoreFromFileReplica throws. */
export function readAndCheck(job: ReadJob): { read: FileReplicaRestore; problem: string | undefined; stamped: boolean } {
  const read = restoreFromFileReplica(job.replicaDir, job.outPath);
  const problem = checkCandidate(job.outPath, job.guildId);
  const stamped = problem === undefined && job.stamp !== undefined && stampScratchFile(job.outPath, job.stamp.epoch, job.stamp.atMs);
  return { read, problem, stamped };
}

export const inProcessReader: ReplicaReader = {
  kind: 'in-process',
  read(replicaDir, outPath, guildId, stamp) {
    try {
      return Promise.resolve({ ...readAndCheck({ id: 0, replicaDir, outPath, guildId, stamp }), thread: threadId });
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  },
  close: () => Promise.resolve(),
};

/** The compiled worker next to this module; absent when running from the TypeScript sources (tests). */
export const DEFAULT_WORKER_URL = new URL('./replica-read-worker.js', import.meta.url);

export interface ThreadReaderOptions {
  readonly threads: number;
  readonly workerUrl?: URL;
  readonly logger?: Logger;
}

interface Slot {
  worker: Worker | undefined;
  job: (ReadJob & { resolve(o: ReplicaReadOutcome): void; reject(err: Error): void }) | undefined;
}

/**
 * A reader on `threads` worker threads, or undefined when the worker's compiled file is not
 * there (the sources run under vitest): the caller then reads in process. A thread that dies
 * fails its job with a FileReplicaReadError (the restore falls back to the binary) and is
 * started again for the next one.
 */
export function threadReader(o: ThreadReaderOptions): ReplicaReader | undefined {
  if (!Number.isInteger(o.threads) || o.threads < 1) throw new RangeError(`replica read threads must be a positive integer, got ${o.threads}`);
  const url = o.workerUrl ?? DEFAULT_WORKER_URL;
  if (!existsSync(fileURLToPath(url))) return undefined;
  const logger = (o.logger ?? silentLogger).child({ component: 'replica-reader' });
  const slots: Slot[] = Array.from({ length: o.threads }, () => ({ worker: undefined, job: undefined }));
  const queue: NonNullable<Slot['job']>[] = [];
  let nextId = 1;
  let closed = false;

  const fail = (slot: Slot, why: string) => {
    const job = slot.job;
    slot.job = undefined;
    slot.worker = undefined;
    if (job) job.reject(new FileReplicaReadError(`replica read thread failed: ${why}`));
    pump();
  };

  const start = (slot: Slot): Worker => {
    const w = new Worker(url);
    w.unref();
    w.on('message', (reply: ReadReply) => {
      const job = slot.job;
      if (!job || job.id !== reply.id) return logger.error({ reply: reply.id, expected: job?.id }, 'replica read thread answered a job it was not given; ignored');
      slot.job = undefined;
      if (reply.ok) job.resolve({ read: reply.read, problem: reply.problem, thread: reply.thread, stamped: reply.stamped });
      else job.reject(reply.readError ? new FileReplicaReadError(reply.message) : new Error(reply.message));
      pump();
    });
    w.on('error', (err) => {
      logger.error({ err }, 'replica read thread crashed');
      if (slot.worker === w) fail(slot, err.message);
    });
    w.on('exit', (code) => {
      if (slot.worker === w) fail(slot, `exited with code ${code}`);
    });
    return w;
  };

  function pump(): void {
    for (const slot of slots) {
      if (closed || queue.length === 0) return;
      if (slot.job) continue;
      const job = queue.shift() as NonNullable<Slot['job']>;
      slot.job = job;
      slot.worker ??= start(slot);
      slot.worker.postMessage({ id: job.id, replicaDir: job.replicaDir, outPath: job.outPath, guildId: job.guildId, stamp: job.stamp } satisfies ReadJob);
    }
  }

  return {
    kind: 'threads',
    read(replicaDir, outPath, guildId, stamp) {
      if (closed) return Promise.reject(new FileReplicaReadError('replica reader closed'));
      return new Promise<ReplicaReadOutcome>((resolve, reject) => {
        queue.push({ id: nextId++, replicaDir, outPath, guildId, stamp, resolve, reject });
        pump();
      });
    },
    async close() {
      closed = true;
      for (const job of queue.splice(0)) job.reject(new FileReplicaReadError('replica reader closed'));
      await Promise.all(
        slots.map(async (slot) => {
          const w = slot.worker;
          slot.worker = undefined;
          slot.job?.reject(new FileReplicaReadError('replica reader closed'));
          slot.job = undefined;
          if (w) await w.terminate();
        }),
      );
    },
  };
}
