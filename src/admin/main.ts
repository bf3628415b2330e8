// `leasehold admin …`: the operator CLI. Human output by default, --json for scripts.
// Exit codes: 0 done, 1 the operation was refused (unknown guild/pod, nothing to release),
// 2 usage or configuration, 3 Redis unreachable, 4 Postgres unreachable.
import { Command, CommanderError } from 'commander';
import { envHelp, loadConfig, type AdminConfig } from '../config.js';
import { parseRestoreTime, restoreGuild } from './restore.js';
import { openClusterClient } from '../cluster/client.js';
import { createAssignmentStore } from '../store/index.js';
import { DEFAULT_RING_VERSION, ringParams } from '../cluster/ring.js';
import { AppError, errorMessage } from '../errors.js';
import * as ops from './operations.js';
import { formatLease, formatStatus, table } from './format.js';
import { planRebalance } from './rebalance.js';

class ExitError extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('leasehold admin')
    .description('Operate a leasehold cluster: inspect ownership, pin and move guilds, cordon pods.')
    .option('--json', 'print JSON instead of text')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .addHelpText('after', `\nEnvironment:\n${envHelp('admin')}`);

  const withDeps = (fn: (d: ops.AdminDeps, json: boolean, config: AdminConfig) => Promise<void>) => async () => {
    const json = Boolean(program.opts()['json']);
    const config = loadConfig('admin');
    const cluster = openClusterClient({ ...config, name: 'leasehold-admin' });
    const store = createAssignmentStore({ databaseUrl: config.databaseUrl, schema: config.databaseSchema });
    try {
      await cluster.redis.ping().catch((err: unknown) => {
        throw new ExitError(3, `Redis unreachable at ${redact(config.redisUrl)}: ${errorMessage(err)}`);
      });
      await store.migrate().catch((err: unknown) => {
        throw new ExitError(4, `Postgres unreachable at ${redact(config.databaseUrl)}: ${errorMessage(err)}`);
      });
      await fn({ cluster, store, ringParams: ringParams(config.ringVnodes, DEFAULT_RING_VERSION) }, json, config);
    } finally {
      await store.close();
      await cluster.close();
    }
  };
  const print = (json: boolean, data: unknown, text: string): void => {
    process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${text}\n`);
  };

  program.command('status').description('members, guilds per pod, pins, cordons, overrides, unowned guilds').action(
    withDeps(async (d, json) => {
      const s = await ops.status(d);
      print(json, s, formatStatus(s));
    }),
  );
  program.command('lease <guild>').description("a guild's lease, epochs, pin and desired owner").action((guild: string) =>
    withDeps(async (d, json) => {
      const r = await ops.lease(d, guild);
      print(json, r, formatLease(r));
    })(),
  );
  program
    .command('pin <guild> <pod>')
    .description('pin a guild to a pod (it moves there by handoff while the pod is a live ring member)')
    .option('--force', 'pin to a pod leasehold has never seen')
    .action((guild: string, pod: string, o: { force?: boolean }) =>
      withDeps(async (d, json) => {
        const r = await ops.pin(d, guild, pod, o);
        print(json, r, `pinned ${guild} to ${pod}${r.previous ? ` (was ${r.previous})` : ''}${r.live ? '' : `; ${pod} is not live now, so the pin is ignored until it is`}`);
      })(),
    );
  program.command('unpin <guild>').description('remove a pin (the ring decides again)').action((guild: string) =>
    withDeps(async (d, json) => {
      const r = await ops.unpin(d, guild);
      print(json, r, r.previous ? `unpinned ${guild} (was ${r.previous})` : `${guild} was not pinned`);
    })(),
  );
  program.command('release <guild>').description("force-release a guild's lease (claimable once its until passes)").action((guild: string) =>
    withDeps(async (d, json) => {
      const r = await ops.release(d, guild);
      const when = r.claimableAtMs ? ` at ${new Date(r.claimableAtMs).toISOString()} (its until; the old owner may act until then)` : ' after one TTL';
      print(json, r, `released ${guild} (was ${r.owner} epoch ${r.epoch}); its desired owner claims it${when}`);
    })(),
  );
  program
    .command('cordon <pod> [reason...]')
    .description('cordon a pod: it owns nothing until uncordoned (its guilds are handed off)')
    .option('--force', 'cordon a pod leasehold has never seen')
    .action((pod: string, reason: string[], o: { force?: boolean }) =>
      withDeps(async (d, json) => {
        const r = await ops.cordon(d, pod, reason.join(' '), o);
        print(json, r, `${r.wasCordoned ? 'still cordoned' : 'cordoned'}: ${pod}${r.live ? '' : ' (not running now)'}`);
      })(),
    );
  const progressEvery = 1000;
  const waitUntil = async (what: string, timeoutS: number, check: () => Promise<{ done: boolean; line: string }>): Promise<boolean> => {
    const deadline = Date.now() + timeoutS * 1000;
    let last = '';
    for (;;) {
      const r = await check();
      if (r.line !== last) process.stderr.write(`  ${r.line}\n`);
      last = r.line;
      if (r.done) return true;
      if (Date.now() > deadline) {
        process.stderr.write(`  gave up waiting for ${what} after ${timeoutS} s (it goes on in the background; see \`leasehold admin status\`)\n`);
        return false;
      }
      await new Promise((res) => setTimeout(res, progressEvery));
    }
  };

  program
    .command('move <guild> <pod>')
    .description('move a guild to a pod: pins it there, and the gateways hand it off')
    .option('--no-wait', 'return once pinned')
    .option('--timeout <s>', 'how long to wait for the move', '60')
    .action((guild: string, pod: string, o: { wait: boolean; timeout: string }) =>
      withDeps(async (d, json) => {
        const r = await ops.pin(d, guild, pod);
        if (!r.live) throw new AppError(409, 'POD_NOT_LIVE', `${pod} is not a live member: the pin is kept but nothing moves until it is`);
        const moved = !o.wait || (await waitUntil(`${guild} to reach ${pod}`, Number(o.timeout), async () => {
          const l = (await d.cluster.leases.read(guild)).lease;
          return { done: l?.owner === pod, line: `lease: ${l ? `${l.owner} epoch ${l.epoch}` : 'none (between owners)'}` };
        }));
        print(json, { ...r, moved }, moved && o.wait ? `moved ${guild} to ${pod} (pinned there; \`unpin\` lets the ring decide again)` : `pinned ${guild} to ${pod}; the move is under way`);
        if (!moved) process.exitCode = 1;
      })(),
    );
  program
    .command('drain <pod>')
    .description('cordon a pod and wait until it has handed off every guild (it stays empty until uncordoned)')
    .option('--no-wait', 'return once cordoned')
    .option('--timeout <s>', 'how long to wait', '300')
    .action((pod: string, o: { wait: boolean; timeout: string }) =>
      withDeps(async (d, json) => {
        const r = await ops.cordon(d, pod, 'drained by admin');
        const count = async () => (await d.cluster.leases.scanAll()).leases.filter((l) => l.owner === pod).length;
        const before = await count();
        const drained = !o.wait || (await waitUntil(`${pod} to drain`, Number(o.timeout), async () => {
          const n = await count();
          return { done: n === 0, line: `${pod}: ${n} of ${before} guilds left` };
        }));
        print(json, { ...r, guildsBefore: before, drained }, drained && o.wait ? `drained ${pod}: it owns nothing and takes nothing until \`leasehold admin uncordon ${pod}\`` : `cordoned ${pod}; it is handing its guilds off`);
        if (!drained) process.exitCode = 1;
      })(),
    );
  program
    .command('rebalance')
    .description('every guild whose owner differs from its desired owner, with counts per pod before and after')
    .option('--dry-run', 'only print the plan')
    .option('--timeout <s>', 'how long to wait for the moves', '300')
    .action((o: { dryRun?: boolean; timeout: string }) =>
      withDeps(async (d, json) => {
        const plan = planRebalance(await ops.snapshot(d));
        const counts = Object.keys({ ...plan.before, ...plan.after }).sort().map((p) => [p, String(plan.before[p] ?? 0), String(plan.after[p] ?? 0)]);
        const text = `${plan.moves.length} move(s)${plan.stuck.length ? `, ${plan.stuck.length} guild(s) with no ring member to go to` : ''}; max/mean after ${plan.imbalanceAfter.toFixed(2)}\n${table(counts, ['POD', 'BEFORE', 'AFTER'])}`;
        if (o.dryRun || plan.moves.length === 0) {
          print(json, plan, text);
          return;
        }
        // The gateways' ownership loops make these moves on their own, at a bounded rate; wait for them.
        process.stderr.write(`${text}\n`);
        const done = await waitUntil('the moves', Number(o.timeout), async () => {
          const left = planRebalance(await ops.snapshot(d)).moves.length;
          return { done: left === 0, line: `${left} move(s) left` };
        });
        print(json, { ...plan, done }, done ? 'rebalanced' : 'moves still under way');
        if (!done) process.exitCode = 1;
      })(),
    );
  program
    .command('restore <guild>')
    .description("restore a guild's data from its replica (as it was at --at, or the latest), pausing the guild on its owner meanwhile")
    .option('--at <time>', 'ISO 8601 time with a zone, or a duration ago (15m, 2h, 1d)')
    .option('--timeout <s>', 'how long to wait for the owner', '120')
    .action((guild: string, o: { at?: string; timeout: string }) =>
      withDeps(async (d, json, config) => {
        const secret = (config.internalSecrets as readonly string[] | undefined)?.[0];
        if (!secret) throw new ExitError(2, 'admin restore calls the owner\'s internal API: set INTERNAL_SECRET (the gateways\' value)');
        const timeout = Number(o.timeout);
        if (!Number.isFinite(timeout) || timeout <= 0) throw new ExitError(2, `--timeout must be a positive number of seconds, got "${o.timeout}"`);
        let at: Date | undefined;
        try {
          at = o.at === undefined ? undefined : parseRestoreTime(o.at, Date.now());
        } catch (err) {
          throw new ExitError(2, errorMessage(err));
        }
        process.stderr.write(`restoring ${guild} ${at ? `as it was at ${at.toISOString()}` : 'from the latest replica state'}; the guild is paused on its owner meanwhile…\n`);
        const r = await restoreGuild(d, guild, { at, secret, timeoutMs: timeout * 1000 });
        const lines = [
          `restored ${guild} on ${r.owner}: epoch ${r.fromEpoch} → ${r.epoch}, data from the epoch-${r.dataEpoch ?? '-'} replica${r.at ? ` as of ${r.at}` : ''}`,
          `paused ${r.pauseMs} ms; ${r.replayed} event(s) that arrived meanwhile applied after it`,
          r.movedAside ? `the previous local file was kept at ${r.movedAside}` : 'there was no previous local file',
        ];
        print(json, r, lines.join('\n'));
      })(),
    );
  program.command('uncordon <pod>').description('let a cordoned pod own guilds again').action((pod: string) =>
    withDeps(async (d, json) => {
      const r = await ops.uncordon(d, pod);
      print(json, r, r.wasCordoned ? `uncordoned ${pod}` : `${pod} was not cordoned`);
    })(),
  );

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
      return;
    }
    const json = argv.includes('--json');
    const code = err instanceof ExitError ? err.exitCode : err instanceof AppError ? 1 : undefined;
    if (code === undefined) throw err;
    const body = err instanceof AppError ? { error: { code: err.code, message: err.message } } : { error: { code: 'UNREACHABLE', message: errorMessage(err) } };
    if (json) process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    process.stderr.write(`leasehold admin: ${errorMessage(err)}\n`);
    process.exitCode = code;
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
