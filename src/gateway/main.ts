// `leasehold gateway`: run one gateway process until SIGTERM, then drain and exit 0.
import { Command } from 'commander';
import { envHelp, loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { onShutdown } from '../runtime/signals.js';
import { watchStalls } from '../runtime/stall-watch.js';
import { Gateway } from './gateway.js';

export async function main(argv: string[]): Promise<void> {
  new Command('leasehold gateway')
    .description('Own guilds by lease, run the bot on them, and hand them over without losing an event.')
    .addHelpText('after', `\nEnvironment:\n${envHelp('gateway')}`)
    .parse(argv, { from: 'user' });
  const config = loadConfig('gateway');
  const logger = createLogger({ level: config.logLevel, role: 'gateway', pod: config.podId });
  // A quarter of the margin is already worth knowing about: four of them and a lease is gone.
  watchStalls(logger, { warnAfterMs: Math.max(50, Math.floor(config.leaseMarginMs / 4)) });
  const gw = new Gateway(config, logger);
  onShutdown(logger, () => gw.drain());
  try {
    await gw.start();
  } catch (err) {
    logger.fatal({ err }, 'gateway failed to start');
    await gw.stop().catch(() => undefined);
    process.exit(1);
  }
}
