// RSS and open file descriptors of a process and all its descendants (a gateway and its
// Litestream children), read from /proc.
import { readdirSync, readFileSync } from 'node:fs';

export interface Footprint {
  readonly rssBytes: number;
  readonly fds: number;
  readonly processes: number;
}

function children(): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent; the name in field 2 may hold spaces.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(name)]);
    } catch {
      /* exited meanwhile */
    }
  }
  return byParent;
}

export function footprint(pid: number): Footprint {
  const tree = children();
  const pids: number[] = [];
  const walk = (p: number) => {
    pids.push(p);
    for (const c of tree.get(p) ?? []) walk(c);
  };
  walk(pid);
  let rssBytes = 0;
  let fds = 0;
  for (const p of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      rssBytes += m ? Number(m[1]) * 1024 : 0;
      fds += readdirSync(`/proc/${p}/fd`).length;
    } catch {
      /* exited meanwhile */
    }
  }
  return { rssBytes, fds, processes: pids.length };
}
