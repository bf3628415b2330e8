// Rewrites README.md's variable table from src/config.ts (run after `npm run build`).
import { readFileSync, writeFileSync } from 'node:fs';
import { envMarkdown } from '../dist/src/config.js';

const file = new URL('../README.md', import.meta.url);
const readme = readFileSync(file, 'utf8');
const next = readme.replace(/(<!-- env:start[^>]*-->\n)[\s\S]*?(<!-- env:end -->)/, `$1${envMarkdown()}\n$2`);
writeFileSync(file, next);
process.stdout.write(next === readme ? 'README.md variable table already up to date\n' : 'README.md variable table updated\n');
