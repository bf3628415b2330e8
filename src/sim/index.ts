// The Discord stand-in (`leasehold sim`): what tests, the demo and benchmarks use in-process.
export { startSim, type Sim, type SimGatewayControl } from './sim.js';
export { SIM_DEFAULTS, type SimOptions } from './options.js';
export type { SimState, SimStateSnapshot, GuildInfo } from './state.js';
export type { SimLog, RecordKind } from './sim-log.js';
export type { DispatchRecord, EffectRecord, InteractionKind, InteractionRecord, MessageRecord, Page } from './records.js';
export type { SessionInfo, SessionStatus } from './gateway/session.js';
export type { SimCounters } from './counters.js';
export type { InteractionInput } from './interactions/sender.js';
export type { TrafficHandle, TrafficOptions, TrafficSummary } from './traffic.js';
export type { PostMessageInput } from './messages.js';
export type { ChannelRecord, MemberRecord, CreateGuildInput } from './world.js';
export { DEFAULT_ROUTE_LIMITS, type RouteLimit, type RouteName } from './rest/rate-limits.js';
export { RESPONSE_DEADLINE_MS, TOKEN_LIFETIME_MS } from './interactions/tracker.js';
export { DISCORD_EPOCH_MS, shardOf, snowflakeTime } from './snowflake.js';
