// SIGTERM/SIGINT end a role cleanly with exit 0; a second signal exits at once.
import type { Logger } from '../log.js';

export function onShutdown(logger: Logger, stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop(signal).then(
      () => {
        logger.info({ signal }, 'stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err, signal }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
