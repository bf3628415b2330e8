// Helpers for the stand-in's tests: waiting on conditions with a deadline, discord.js clients
// logged in to a stand-in, and a raw gateway connection for driving the protocol by hand.
import { Client, GatewayIntentBits, type ClientOptions } from 'discord.js';
import WebSocket from 'ws';
import { GatewayOpcodes, type GatewayReceivePayload } from 'discord-api-types/v10';
import type { Sim } from '../../../src/sim/index.js';

export async function waitUntil(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const DEFAULT_INTENTS = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent];

/** A discord.js client against the stand-in, logged in and ready (every guild of its shards arrived). */
export async function readyClient(sim: Sim, o: Partial<ClientOptions> & { token?: string; appendix?: string } = {}): Promise<Client> {
  const { token, appendix, ...rest } = o;
  const client = new Client({
    intents: DEFAULT_INTENTS,
    ...rest,
    rest: { api: sim.restUrl, ...(appendix !== undefined ? { userAgentAppendix: appendix } : {}), ...rest.rest },
  });
  const ready = new Promise<void>((resolve) => client.once('clientReady', () => resolve()));
  await client.login(token ?? 'sim-token');
  await ready;
  return client;
}

/** A hand-driven gateway connection: every payload it received, and its close code. */
export class RawGateway {
  readonly received: GatewayReceivePayload[] = [];
  closeCode: number | undefined;
  private readonly ws: WebSocket;
  readonly opened: Promise<void>;

  constructor(url: string) {
    this.ws = new WebSocket(`${url}?v=10&encoding=json`);
    this.ws.on('message', (data: Buffer) => this.received.push(JSON.parse(data.toString('utf8')) as GatewayReceivePayload));
    this.ws.on('close', (code) => (this.closeCode = code));
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  send(op: GatewayOpcodes, d: unknown): void {
    this.ws.send(JSON.stringify({ op, d }));
  }

  identify(token: string, shard: [number, number] = [0, 1], intents = 513): void {
    this.send(GatewayOpcodes.Identify, { token, intents, shard, properties: { os: 'linux', browser: 'raw-test', device: 'raw-test' } });
  }

  dispatches(t?: string): (GatewayReceivePayload & { op: GatewayOpcodes.Dispatch })[] {
    return this.received.filter((p): p is GatewayReceivePayload & { op: GatewayOpcodes.Dispatch } => p.op === GatewayOpcodes.Dispatch && (t === undefined || p.t === t));
  }

  ops(op: GatewayOpcodes): GatewayReceivePayload[] {
    return this.received.filter((p) => p.op === op);
  }

  close(): void {
    this.ws.terminate();
  }
}
