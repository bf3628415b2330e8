// A small fault-injecting TCP proxy to put in front of Redis or Postgres: cut (drop every
// connection and refuse new ones), pause (hold bytes), delay (add latency), restore.
import { createServer, createConnection, type Server, type Socket } from 'node:net';

export interface FaultProxy {
  readonly port: number;
  readonly url: (scheme: string, path?: string) => string;
  cut(): void;
  pause(): void;
  delay(ms: number): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: 'pass' | 'cut' | 'pause' = 'pass';
  let delayMs = 0;
  const pairs = new Set<[Socket, Socket]>();
  const held: (() => void)[] = [];

  const forward = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => {
      const send = () => {
        if (!to.destroyed) to.write(chunk);
      };
      if (mode === 'pause') held.push(send);
      else if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });
  };

  const server: Server = createServer((client) => {
    if (mode === 'cut') {
      client.destroy();
      return;
    }
    const upstream = createConnection(target);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const close = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  return {
    port,
    url: (scheme, path = '') => `${scheme}://127.0.0.1:${port}${path}`,
    cut() {
      mode = 'cut';
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
      held.length = 0;
    },
    pause() {
      mode = 'pause';
    },
    delay(ms) {
      delayMs = ms;
    },
    restore() {
      mode = 'pass';
      delayMs = 0;
      for (const send of held.splice(0)) send();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => r());
      }),
  };
}
