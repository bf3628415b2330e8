// Builds the edge's parts from its configuration and connections — routing view, forwarder,
// pending interactions, interaction handler — and the Koa app over them; start and stop them.
import type { Redis } from 'ioredis';
import type Koa from 'koa';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ClusterClient } from '../cluster/client.js';
import type { RingParams } from '../cluster/types.js';
import { PendingInteractions } from '../cluster/pending-interactions.js';
import type { AssignmentStore } from '../store/index.js';
import type { ReadyCheck } from '../runtime/ops.js';
import { createHttpApp, type HttpAppDeps } from './app.js';
import { DiscordWebhooks, type WebhookClient } from './discord-webhooks.js';
import { Forwarder, type ForwarderOptions } from './forwarder.js';
import { InteractionHandler, type InteractionTiming } from './interaction-handler.js';
import { RoutingView } from './routing-view.js';

export interface EdgeOptions {
  readonly podId: string;
  readonly publicKey: string;
  readonly applicationId: string;
  readonly adminTokens: readonly string[];
  /** INTERNAL_SECRET's list: the first signs. */
  readonly internalSecrets: readonly string[];
  readonly discordApiUrl: string;
  readonly reconcileEveryMs: number;
  readonly ringParams: RingParams;
  readonly cluster: ClusterClient;
  /** A second Redis connection for the blocking read of lh:events. */
  readonly streamRedis: Redis;
  readonly store: AssignmentStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly timing?: Partial<InteractionTiming>;
  readonly forwarding?: Omit<ForwarderOptions, 'secret'>;
  /** Where late answers are edited in (default: Discord's webhook API at discordApiUrl). */
  readonly webhooks?: WebhookClient;
  readonly readyChecks?: Record<string, ReadyCheck>;
  readonly bodyLimit?: number;
}

export interface Edge {
  readonly app: Koa;
  readonly deps: HttpAppDeps;
  readonly routing: RoutingView;
  readonly forwarder: Forwarder;
  readonly interactions: InteractionHandler;
  readonly pending: PendingInteractions;
  /** First full reconcile, then the event stream. */
  start(): Promise<void>;
  /** Let late edits finish (bounded), stop reading events, close the pools. */
  stop(o?: { drainMs?: number }): Promise<void>;
}

export function createEdge(o: EdgeOptions): Edge {
  const secret = o.internalSecrets[0];
  if (secret === undefined) throw new Error('INTERNAL_SECRET is empty');
  const routing = new RoutingView({ cluster: o.cluster, streamRedis: o.streamRedis, store: o.store, ringParams: o.ringParams, clock: o.clock, logger: o.logger, reconcileEveryMs: o.reconcileEveryMs });
  const forwarder = new Forwarder(routing, o.clock, o.logger, { ...o.forwarding, secret });
  const pending = new PendingInteractions(o.cluster.redis, o.cluster.scripts, o.cluster.keys.prefix);
  const interactions = new InteractionHandler({
    forwarder,
    pending,
    webhooks: o.webhooks ?? new DiscordWebhooks(o.discordApiUrl, o.logger),
    podId: o.podId,
    clock: o.clock,
    logger: o.logger,
    timing: o.timing,
  });
  const deps: HttpAppDeps = {
    podId: o.podId,
    publicKey: o.publicKey,
    applicationId: o.applicationId,
    adminTokens: o.adminTokens,
    cluster: o.cluster,
    store: o.store,
    admin: { cluster: o.cluster, store: o.store, ringParams: o.ringParams },
    routing,
    forwarder,
    interactions,
    clock: o.clock,
    logger: o.logger,
    readyChecks: o.readyChecks,
    bodyLimit: o.bodyLimit,
  };
  const app = createHttpApp(deps);
  // Pools of gateways that left are closed; a pool per live member stays warm.
  routing.onChange(() => forwarder.retain(new Set([...routing.table.clusterView.members.values()].map((m) => m.addr))));
  return {
    app,
    deps,
    routing,
    forwarder,
    interactions,
    pending,
    start: () => routing.start(),
    async stop(s = {}) {
      await interactions.drain(s.drainMs ?? 5000);
      await routing.stop();
      await forwarder.close();
    },
  };
}
