// Small node:http helpers shared by the REST and control routes: read a body, answer JSON, and
// match `/a/:b/c` patterns (a table of a few dozen routes needs no framework on the hot path).
import type { IncomingMessage, ServerResponse } from 'node:http';

export class BodyTooLargeError extends Error {
  readonly code = 'BODY_TOO_LARGE';
}

export function readBody(req: IncomingMessage, limitBytes = 8 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limitBytes) {
        reject(new BodyTooLargeError(`request body over ${limitBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, headers);
  res.end();
}

export interface Matched<H> {
  readonly handler: H;
  readonly params: Record<string, string>;
}

export class RouteTable<H> {
  private readonly routes: { method: string; parts: string[]; handler: H }[] = [];

  add(method: string, pattern: string, handler: H): this {
    this.routes.push({ method, parts: pattern.split('/').filter((p) => p !== ''), handler });
    return this;
  }

  /** The route for method + path; `methodNotAllowed` when the path exists under other methods. */
  match(method: string, path: string): Matched<H> | { methodNotAllowed: true } | undefined {
    // Compare decoded segments: clients may percent-encode literals (discord.js sends
    // `@original` as `%40original`), and Discord routes them the same.
    const parts = path
      .split('/')
      .filter((p) => p !== '')
      .map((p) => {
        try {
          return decodeURIComponent(p);
        } catch {
          return p;
        }
      });
    let pathMatched = false;
    for (const r of this.routes) {
      if (r.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const want = r.parts[i] as string;
        const got = parts[i] as string;
        if (want.startsWith(':')) params[want.slice(1)] = got;
        else if (want !== got) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      pathMatched = true;
      if (r.method === method) return { handler: r.handler, params };
    }
    return pathMatched ? { methodNotAllowed: true } : undefined;
  }
}
