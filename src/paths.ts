// Where the package's own files live at run time (lua/, litestream.yml), whether running from
// src/ (vitest) or dist/src/ (the built CLI).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'lua'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('leasehold: cannot find the package root (package.json + lua/)');
    dir = up;
  }
}

export const packageRoot = findRoot();
export const luaDir = join(packageRoot, 'lua');
