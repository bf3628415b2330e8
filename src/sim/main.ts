// `leasehold sim`: the Discord stand-in as a process. Options on the command line, the process
// conventions (PORT, HOST, ADVERTISE_ADDR, LOG_LEVEL, one "listening" line, exit 0 on SIGTERM)
// from DESIGN §1.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { envHelp, loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { onShutdown } from '../runtime/signals.js';
import { SIM_DEFAULTS } from './options.js';
import { startSim } from './sim.js';

const wholeNumber = (min: number) => (v: string): number => {
  if (!/^\d+$/.test(v.trim()) || Number(v) < min) throw new InvalidArgumentError(`expected a whole number ≥ ${min}`);
  return Number(v);
};
const positiveNumber = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number above 0');
  return n;
};

interface CliOptions {
  guilds: number;
  shards: number;
  rate?: number;
  seed: number;
  maxConcurrency: number;
  identifyWindowMs: number;
  dailyIdentifies: number;
  globalRateLimit: number;
  heartbeatIntervalMs: number;
  logFile?: string;
  signingKey?: string;
  interactionsUrl?: string;
  interactionRate?: number;
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('leasehold sim')
    .description('A local Discord stand-in: gateway WebSocket, REST and an interactions sender. Bots log in with any token.')
    .option('--guilds <n>', 'guilds created at start (deterministic from the seed)', wholeNumber(0), SIM_DEFAULTS.guilds)
    .option('--shards <n>', 'shard count recommended by GET /gateway/bot', wholeNumber(1), SIM_DEFAULTS.shards)
    .option('--rate <r>', 'post this many messages a second, spread over the guilds (a few busy, many quiet)', positiveNumber)
    .option('--seed <x>', 'seed of every id, name and traffic sequence', wholeNumber(0), SIM_DEFAULTS.seed)
    .option('--max-concurrency <m>', 'session_start_limit.max_concurrency', wholeNumber(1), SIM_DEFAULTS.maxConcurrency)
    .option('--identify-window-ms <w>', 'one identify per bucket per this many ms', wholeNumber(0), SIM_DEFAULTS.identifyWindowMs)
    .option('--daily-identifies <d>', 'session_start_limit.total', wholeNumber(0), SIM_DEFAULTS.dailyIdentifies)
    .option('--global-rate-limit <l>', 'REST requests per second per bot', wholeNumber(1), SIM_DEFAULTS.globalRateLimit)
    .option('--heartbeat-interval-ms <h>', "HELLO's heartbeat_interval", wholeNumber(50), SIM_DEFAULTS.heartbeatIntervalMs)
    .option('--signing-key <hex>', 'raw Ed25519 private seed (64 hex) to sign interactions with, so publicKey survives a restart (default: a new key per start)')
    .option('--log-file <path>', 'append every dispatch, effect and interaction record here as JSON lines')
    .option('--interactions-url <url>', 'with --interaction-rate: send interactions to this endpoint')
    .option('--interaction-rate <r>', 'interactions a second to --interactions-url (every 50th mis-signed, as Discord probes)', positiveNumber)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .addHelpText('after', `\nEnvironment:\n${envHelp('sim')}`);
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
      return;
    }
    throw err;
  }
  const o = program.opts<CliOptions>();
  if ((o.interactionRate === undefined) !== (o.interactionsUrl === undefined)) {
    process.stderr.write('leasehold sim: --interactions-url and --interaction-rate go together\n');
    process.exitCode = 2;
    return;
  }
  const config = loadConfig('sim');
  const logger = createLogger({ level: config.logLevel, role: 'sim' });
  const sim = await startSim({
    guilds: o.guilds,
    shards: o.shards,
    seed: o.seed,
    host: config.host,
    port: config.port,
    advertiseAddr: config.advertiseAddr,
    maxConcurrency: o.maxConcurrency,
    identifyWindowMs: o.identifyWindowMs,
    dailyIdentifies: o.dailyIdentifies,
    globalRateLimit: o.globalRateLimit,
    heartbeatIntervalMs: o.heartbeatIntervalMs,
    ...(o.logFile !== undefined ? { logFile: o.logFile } : {}),
    ...(o.signingKey !== undefined ? { signingKey: o.signingKey } : {}),
    logger,
  });
  if (o.rate !== undefined || o.interactionRate !== undefined) {
    const handle = sim.startTraffic({
      ratePerSec: o.rate ?? 0,
      ...(o.interactionsUrl !== undefined && o.interactionRate !== undefined ? { interactions: { url: o.interactionsUrl, ratePerSec: o.interactionRate, badSignatureEvery: 50 } } : {}),
    });
    logger.info({ traffic: handle.id, rate: o.rate, interactionRate: o.interactionRate }, 'traffic started');
  }
  onShutdown(logger, async () => {
    await sim.close();
  });
}
