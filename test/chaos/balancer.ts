// The load balancer in front of the http pods, as an ingress would be: round robin over the edges
// that are up, and a request whose connection fails before any response (the pod was killed with
// it in flight) is sent once more to the next edge — nginx's `proxy_next_upstream error
// non_idempotent`, envoy's `retry_on: reset,connect-failure`. Safe here because the owner dedupes
// an interaction by its id, so a second delivery answers with the recorded response.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request } from 'undici';

export interface Balancer {
  readonly url: string;
  /** Requests sent again to another edge after a connection failure. */
  readonly retried: () => number;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length']);

export async function startBalancer(backends: () => string[]): Promise<Balancer> {
  let next = 0;
  let retried = 0;
  const forward = async (req: IncomingMessage, body: Buffer, res: ServerResponse) => {
    const list = backends();
    let lastError: unknown;
    // The retry goes to the edge after the one that failed (not the shared counter's next, which
    // concurrent requests move on and may bring back to the dead one).
    const first = next++;
    for (let attempt = 0; attempt < Math.min(2, list.length); attempt++) {
      const base = list[(first + attempt) % list.length] as string;
      try {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !HOP_BY_HOP.has(k)) headers[k] = v;
        const r = await request(`${base}${req.url ?? '/'}`, { method: req.method as 'POST', headers, body, headersTimeout: 10_000, bodyTimeout: 10_000 });
        const text = Buffer.from(await r.body.arrayBuffer());
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string' && !HOP_BY_HOP.has(k)) out[k] = v;
        res.writeHead(r.statusCode, out).end(text);
        return;
      } catch (err) {
        lastError = err;
        if (attempt === 0) retried++;
      }
    }
    res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NO_UPSTREAM', message: String(lastError) } }));
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void forward(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    retried: () => retried,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
