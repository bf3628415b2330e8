// What other folders use of the http edge.
export { createHttpApp, type HttpAppDeps } from './app.js';
export { createEdge, type Edge, type EdgeOptions } from './edge.js';
export { main } from './main.js';
export { Forwarder, type ForwardRequest, type ForwardResult, type RouteSource } from './forwarder.js';
export { InteractionHandler, DEFAULT_INTERACTION_TIMING, type InteractionTiming } from './interaction-handler.js';
export { RoutingView } from './routing-view.js';
