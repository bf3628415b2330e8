// Runs `leasehold sim` directly (node dist/src/sim/main-entry.js …), for tests and for use before
// the CLI wires the role; exits 2 on a configuration error, as the CLI does.
import { ConfigError } from '../config.js';
import { errorMessage } from '../errors.js';
import { main } from './main.js';

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`leasehold sim: invalid configuration:\n${err.problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}\n`);
    process.exit(2);
  }
  process.stderr.write(`leasehold sim: ${errorMessage(err)}\n`);
  process.exit(1);
});
