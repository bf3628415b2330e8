import { configDefaults, defineConfig } from 'vitest/config';

// Files that start real leasehold processes (gateways, edges, Litestream, the stand-in) with
// short lease TTLs. Each runs alone, after everything else: two of them sharing two cores starve
// each other's gateways past their deadlines (load averages of 10-20 were measured), and what
// they test — failover within TTL + 2 s, handoff pauses — is about time.
const processTests = ['test/e2e/**/*.test.ts', 'test/chaos/**/*.test.ts', 'test/integration/bench/**/*.test.ts', 'test/integration/ops/live-metrics.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'in-process',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...processTests],
          // Integration tests still use real Redis, Postgres and SQLite: two files at once on two cores.
          maxWorkers: 2,
          minWorkers: 1,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'processes',
          include: processTests,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
