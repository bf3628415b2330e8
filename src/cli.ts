#!/usr/bin/env node
// `leasehold <role>`: one executable for every role. Configuration errors exit 2 with a message
// naming the variable; everything else is the role's own business.
import { ConfigError, ROLES } from './config.js';
import { errorMessage } from './errors.js';

const USAGE = `usage: leasehold <role> [options]

roles:
  gateway   discord.js client that owns guilds by lease and runs the bot
  http      Koa edge: interactions, portal, JSON and admin API; forwards to owners
  admin     operator CLI (status, lease, pin, unpin, release, cordon, uncordon, ...)
  sim       local Discord stand-in (gateway WebSocket, REST, interaction sender)
  demo      local demo cluster (npm start)
  check-history  check a run's history (lost, twice-applied, stale-epoch events; side effects)

Run \`leasehold <role> --help\` for a role's options and the environment variables it reads.`;

type RoleMain = (argv: string[]) => Promise<void>;

const roles: Record<string, () => Promise<RoleMain>> = {
  admin: async () => (await import('./admin/main.js')).main,
  gateway: async () => (await import('./gateway/main.js')).main,
  http: async () => (await import('./http/main.js')).main,
  demo: async () => (await import('./demo/main.js')).main,
  sim: async () => (await import('./sim/main.js')).main,
  'check-history': async () => (await import('./history/main.js')).main,
};

async function run(): Promise<void> {
  const [role, ...rest] = process.argv.slice(2);
  if (role === undefined || role === '--help' || role === '-h' || role === 'help') {
    process.stdout.write(`${USAGE}\n`);
    process.exit(role === undefined ? 2 : 0);
  }
  const load = roles[role];
  if (!load) {
    const known = (ROLES as readonly string[]).includes(role);
    process.stderr.write(known ? `leasehold: the ${role} role is not part of this build yet\n` : `leasehold: unknown role "${role}"\n\n${USAGE}\n`);
    process.exit(2);
  }
  const main = await load();
  await main(rest);
}

run().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`leasehold: invalid configuration:\n${err.problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}\n`);
    process.exit(2);
  }
  process.stderr.write(`leasehold: ${errorMessage(err)}\n`);
  process.exit(1);
});
