// Reads a Dockerfile into stages and instructions (continuations joined, comments dropped), so the
// tests can check it statically where no Docker engine can build it.

export interface Instruction {
  readonly cmd: string;
  readonly args: string;
  readonly line: number;
}
export interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}
export interface Dockerfile {
  readonly args: Record<string, string>;
  readonly stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i] ?? '';
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.trimEnd().endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i] ?? '';
      if (/^\s*#/.test(next)) continue;
      line = `${line.trimEnd().slice(0, -1)} ${next.trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: cannot read "${line}"`);
    const cmd = (m[1] as string).toUpperCase();
    const rest = (m[2] as string).trim();
    if (cmd === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!from) throw new Error(`Dockerfile line ${start + 1}: cannot read FROM ${rest}`);
      const image = (from[1] as string).replace(/\$\{(\w+)\}|\$(\w+)/g, (_x, a?: string, b?: string) => args[(a ?? b) as string] ?? '');
      stages.push({ from: image, name: from[2], instructions: [] });
    } else if (cmd === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=', 2);
      args[(k as string).trim()] = (v ?? '').trim();
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile line ${start + 1}: ${cmd} before FROM`);
      stage.instructions.push({ cmd, args: rest, line: start + 1 });
    }
  }
  return { args, stages };
}

/** The last stage's ENV as a map (`ENV A=1 B=2` form). */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ins of stage.instructions.filter((x) => x.cmd === 'ENV')) {
    for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1] as string] = (m[2] as string).replace(/^"|"$/g, '');
  }
  return env;
}

/** JSON-array form of ENTRYPOINT/CMD/HEALTHCHECK CMD; throws on the shell form. */
export function execForm(args: string, what: string): string[] {
  const json = args.slice(args.indexOf('['));
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) throw new Error(`${what} is not in exec (JSON array) form: ${args}`);
  return parsed;
}
