// Litestream processes left behind by an earlier run of this gateway (it was killed with -9, so
// its children were never stopped). They are recognised by their config path under this pod's
// DATA_DIR/litestream and killed at start: they would keep replicating files that are about to
// be moved aside. Linux only (/proc); elsewhere nothing is found.
import { readdirSync, readFileSync } from 'node:fs';

/** Pids of `litestream replicate -config <dir>/…` processes that are not our children. */
export function findOrphans(litestreamDir: string, ours: readonly number[] = []): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const prefix = `${litestreamDir}/`;
  const found: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid || ours.includes(pid)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    const i = argv.indexOf('-config');
    if (argv.includes('replicate') && i >= 0 && (argv[i + 1] ?? '').startsWith(prefix)) found.push(pid);
  }
  return found;
}

export function killOrphans(litestreamDir: string, ours: readonly number[] = []): number[] {
  const pids = findOrphans(litestreamDir, ours);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids;
}
