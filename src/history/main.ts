// `leasehold check-history`: reads a run's records (the stand-in's log, the gateways' application
// logs, Postgres's assignment log), checks every promise of DESIGN §10 and prints the counts.
// Exit codes: 0 clean, 1 violations found, 2 usage or unreadable input, 4 Postgres unreachable.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../config.js';
import { errorMessage } from '../errors.js';
import { createAssignmentStore } from '../store/index.js';
import { checkHistory, type CheckOptions } from './check.js';
import { formatReport } from './format.js';
import { fetchSimLog, findApplicationLogs, InputError, readApplications, readLeaseLog, readSimLogFile } from './inputs.js';

class ExitError extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}

const time = (v: string): number => {
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected an ISO time or epoch milliseconds');
  return n;
};
const wholeNumber = (v: string): number => {
  if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return Number(v);
};

interface Opts {
  simLog?: string;
  simUrl?: string;
  history: string[];
  postgres: boolean;
  since?: number;
  until?: number;
  clockSlackMs: number;
  json?: boolean;
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('leasehold check-history')
    .description("Check a run's history: events never applied, applied twice or by two pods with overlapping leases, writes under a stale epoch, epochs that went backwards, side effects missing or sent twice, failed or forged interactions.")
    .addOption(new Option('--sim-log <file>', "the stand-in's --log-file (JSON lines)").conflicts('simUrl'))
    .addOption(new Option('--sim-url <controlUrl>', "a running stand-in's control URL (its records must all still be in memory)"))
    .requiredOption('--history <paths...>', 'gateway application logs: DATA_DIR/history/<pod>.jsonl files, or directories searched for history/*.jsonl')
    .option('--no-postgres', 'do not read the assignment log (skips the lease-lineage checks)')
    .option('--since <time>', 'judge only events dispatched from this time (ISO or epoch ms)', time)
    .option('--until <time>', 'and before this time', time)
    .option('--clock-slack-ms <ms>', 'tolerated clock difference between gateways and Postgres', wholeNumber, 0)
    .option('--json', 'print the whole report as JSON')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .addHelpText('after', '\nEnvironment:\n  DATABASE_URL     Postgres with the assignment log (default postgres://postgres@127.0.0.1:5432/postgres)\n  DATABASE_SCHEMA  its schema (default leasehold)\n\nExit codes: 0 clean, 1 violations, 2 usage or unreadable input, 4 Postgres unreachable.');
  try {
    program.parse(argv, { from: 'user' });
    const o = program.opts<Opts>();
    if ((o.simLog === undefined) === (o.simUrl === undefined)) throw new ExitError(2, 'give the stand-in records with --sim-log <file> or --sim-url <controlUrl>');
    const progress = (s: string) => process.stderr.write(`${s}\n`);

    progress(o.simLog !== undefined ? `reading ${o.simLog}` : `fetching records from ${o.simUrl}`);
    const sim = o.simLog !== undefined ? await readSimLogFile(o.simLog) : await fetchSimLog(o.simUrl as string);
    progress(`  ${sim.dispatches.length} dispatches, ${sim.effects.length} effects, ${sim.interactions.length} interactions`);
    const files = findApplicationLogs(o.history);
    if (files.length === 0) throw new InputError(`no application logs (history/*.jsonl) under ${o.history.join(', ')}`);
    const applications = await readApplications(files);
    progress(`  ${applications.length} applications from ${files.length} gateway log(s)`);
    let leaseLog;
    if (o.postgres) {
      const config = loadConfig('admin');
      const store = createAssignmentStore({ databaseUrl: config.databaseUrl, schema: config.databaseSchema });
      try {
        leaseLog = await readLeaseLog(store).catch((err: unknown) => {
          throw new ExitError(4, `could not read the assignment log from Postgres (schema ${config.databaseSchema}): ${errorMessage(err)}`);
        });
      } finally {
        await store.close();
      }
      progress(`  ${leaseLog.length} assignment log rows`);
    }
    const opts: CheckOptions = { clockSlackMs: o.clockSlackMs, ...(o.since !== undefined || o.until !== undefined ? { window: { from: o.since ?? 0, to: o.until ?? Number.MAX_SAFE_INTEGER } } : {}) };
    const report = checkHistory({ ...sim, applications, ...(leaseLog ? { leaseLog } : {}) }, opts);
    process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    process.exitCode = report.violations === 0 ? 0 : 1;
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
      return;
    }
    const code = err instanceof ExitError ? err.exitCode : err instanceof InputError ? 2 : undefined;
    if (code === undefined) throw err;
    process.stderr.write(`leasehold check-history: ${errorMessage(err)}\n`);
    process.exitCode = code;
  }
}
