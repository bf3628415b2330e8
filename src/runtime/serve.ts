// Process conventions every role keeps (DESIGN §1): bind HOST:PORT (0 = a free port), work out
// ADVERTISE_ADDR, and log one `"msg":"listening"` line with the `url` once serving.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';

export interface Listening {
  readonly server: Server;
  readonly port: number;
  /** http://host:port others use (from ADVERTISE_ADDR, else the bound address). */
  readonly url: string;
  readonly advertiseAddr: string;
  close(): Promise<void>;
}

export async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  opts: { host: string; port: number; advertiseAddr: string | undefined; logger: Logger; fields?: (l: { url: string; port: number }) => Record<string, unknown> },
): Promise<Listening> {
  const server = createServer({ keepAliveTimeout: 65_000 }, handler);
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const advertiseAddr = opts.advertiseAddr ?? `${host}:${port}`;
  const url = `http://${advertiseAddr}`;
  opts.logger.info({ url, port, advertiseAddr, ...(opts.fields?.({ url, port }) ?? {}) }, 'listening');
  return {
    server,
    port,
    url,
    advertiseAddr,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
