// createHttpApp(deps): the edge's Koa app, built without a port (tests call app.callback()).
// The error middleware comes first; then one router per area.
import Koa from 'koa';
import type Router from '@koa/router';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { AdminDeps } from '../admin/operations.js';
import type { AssignmentStore } from '../store/index.js';
import type { ClusterClient } from '../cluster/client.js';
import { createOpsRouter, type ReadyCheck } from '../runtime/ops.js';
import { AppError } from '../errors.js';
import { DiscordSignatureVerifier } from './discord-signature.js';
import { errorMiddleware } from './errors.js';
import type { Forwarder } from './forwarder.js';
import type { InteractionHandler } from './interaction-handler.js';
import type { RoutingView } from './routing-view.js';
import { interactionsRouter } from './interactions.js';
import { apiRouter } from './api.js';
import { adminRouter } from './admin-api.js';
import { portalRouter } from './portal.js';
import { DEFAULT_BODY_LIMIT } from '../runtime/raw-body.js';

export interface HttpAppDeps {
  readonly podId: string;
  /** DISCORD_PUBLIC_KEY (64 hex). */
  readonly publicKey: string;
  readonly applicationId: string;
  readonly adminTokens: readonly string[];
  readonly cluster: ClusterClient;
  readonly store: AssignmentStore;
  readonly admin: AdminDeps;
  readonly routing: RoutingView;
  readonly forwarder: Forwarder;
  readonly interactions: InteractionHandler;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Extra readiness checks; the routing view's is always there. */
  readonly readyChecks?: Record<string, ReadyCheck>;
  readonly bodyLimit?: number;
}

export function createHttpApp(d: HttpAppDeps): Koa {
  const app = new Koa();
  const routers: Router[] = [
    interactionsRouter({ signatures: new DiscordSignatureVerifier(d.publicKey), applicationId: d.applicationId, handler: d.interactions, clock: d.clock, bodyLimit: d.bodyLimit ?? DEFAULT_BODY_LIMIT }),
    portalRouter({ ...d, forwarder: d.forwarder }),
    apiRouter(d),
    adminRouter({ adminTokens: d.adminTokens, ops: d.admin, logger: d.logger }),
    createOpsRouter({
      routing: () => {
        if (!d.routing.ready) throw new Error('no routing view yet (the first reconcile has not finished)');
      },
      ...d.readyChecks,
    }),
  ];
  app.use(errorMiddleware(d.logger));
  for (const r of routers) {
    app.use(r.routes());
    app.use(
      r.allowedMethods({
        throw: true,
        methodNotAllowed: () => new AppError(405, 'METHOD_NOT_ALLOWED', 'method not allowed on this route'),
        notImplemented: () => new AppError(501, 'NOT_IMPLEMENTED', 'method not implemented'),
      }),
    );
  }
  return app;
}
