// Message (and optionally interaction) load at a given rate: guilds picked with a Zipf spread (a
// few busy guilds, a long quiet tail), channels, authors and words from a seeded stream, so a run
// with the same seed posts the same sequence whatever the timing.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { InteractionInput } from './interactions/sender.js';
import type { Messages } from './messages.js';
import { createRandom, ZipfSampler } from './random.js';
import type { InteractionKind, InteractionRecord } from './records.js';
import type { GuildRecord, World } from './world.js';

export interface TrafficOptions {
  /** Messages a second (0 with `interactions` for interactions only). */
  ratePerSec: number;
  /** Stop after this long (default: when `count` is reached, or when stopped). */
  durationMs?: number;
  /** Stop after this many messages. */
  count?: number;
  /** Only these guilds (default: every guild when the run starts). */
  guildIds?: string[];
  /** Also send interactions to `url` at this rate; every `badSignatureEvery`-th is mis-signed, as Discord's probes are. */
  interactions?: { url: string; ratePerSec: number; badSignatureEvery?: number };
}

export interface TrafficSummary {
  readonly id: string;
  readonly messages: number;
  readonly interactions: number;
  readonly durationMs: number;
  readonly stoppedEarly: boolean;
}

export interface TrafficHandle {
  readonly id: string;
  /** Messages posted so far. */
  sent(): number;
  stop(): void;
  readonly done: Promise<TrafficSummary>;
}

export interface TrafficDeps {
  readonly world: World;
  readonly messages: Messages;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly sendInteraction: (input: InteractionInput & { url: string }) => Promise<InteractionRecord>;
}

const TICK_MS = 10;
/** After a stall, catch up at most this much time's worth in one tick. */
const MAX_CATCH_UP_MS = 500;

export function startTraffic(d: TrafficDeps, o: TrafficOptions, seed: number): TrafficHandle {
  if (!(o.ratePerSec > 0) && !(o.ratePerSec === 0 && o.interactions !== undefined)) throw new RangeError('ratePerSec must be above 0 (or 0 with interactions)');
  const id = randomBytes(4).toString('hex');
  const rnd = createRandom(seed);
  const guilds = (o.guildIds ?? d.world.guildList.filter((g) => !g.removed).map((g) => g.id)).map((gid) => d.world.activeGuild(gid));
  if (guilds.length === 0) throw new RangeError('no guilds to send traffic to');
  const zipf = new ZipfSampler(guilds.length);
  const startedAt = d.clock.now();
  let messages = 0;
  let interactions = 0;
  let stopped = false;
  const inFlight = new Set<Promise<unknown>>();
  let resolveDone!: (s: TrafficSummary) => void;
  const done = new Promise<TrafficSummary>((r) => (resolveDone = r));

  const pickGuild = (): GuildRecord | undefined => {
    for (let tries = 0; tries < 20; tries++) {
      const g = guilds[zipf.sample(rnd)];
      if (g && !g.removed) return g;
    }
    return guilds.find((g) => !g.removed);
  };

  const postOne = (): boolean => {
    const g = pickGuild();
    if (g === undefined) return false;
    const channelId = rnd.pick(g.channelIds);
    const authorId = g.memberIds.length > 0 ? rnd.pick(g.memberIds) : undefined;
    d.messages.post({ guildId: g.id, channelId, ...(authorId !== undefined ? { authorId } : {}), content: d.world.words(rnd, 3 + rnd.int(8)) });
    return true;
  };

  const kinds: InteractionKind[] = ['command', 'command', 'command', 'command', 'command', 'command', 'command', 'message_command', 'message_command', 'component'];
  const sendOne = (url: string, badEvery: number | undefined): void => {
    const g = pickGuild();
    if (g === undefined) return;
    interactions += 1;
    const kind = rnd.pick(kinds);
    const p = d
      .sendInteraction({ url, guildId: g.id, kind, ...(kind === 'component' ? { customId: `traffic-${interactions}` } : {}), badSignature: badEvery !== undefined && interactions % badEvery === 0 })
      .catch((err: unknown) => d.logger.warn({ err: errorMessage(err) }, 'traffic interaction failed to send'));
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  const finish = (early: boolean) => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    void Promise.allSettled([...inFlight]).then(() => resolveDone({ id, messages, interactions, durationMs: Math.round(d.clock.now() - startedAt), stoppedEarly: early }));
  };

  const timer = setInterval(() => {
    const elapsed = d.clock.now() - startedAt;
    const limitByCount = o.count ?? Number.POSITIVE_INFINITY;
    let due = Math.min(Math.floor((o.ratePerSec * elapsed) / 1000), limitByCount) - messages;
    due = Math.min(due, Math.ceil((o.ratePerSec * MAX_CATCH_UP_MS) / 1000));
    try {
      for (let i = 0; i < due; i++) {
        if (!postOne()) return finish(true);
        messages += 1;
      }
      if (o.interactions) {
        const dueInteractions = Math.floor((o.interactions.ratePerSec * elapsed) / 1000) - interactions;
        for (let i = 0; i < Math.min(dueInteractions, 50); i++) sendOne(o.interactions.url, o.interactions.badSignatureEvery);
      }
    } catch (err) {
      d.logger.warn({ err: errorMessage(err), traffic: id }, 'traffic stopped by an error');
      return finish(true);
    }
    if (messages >= limitByCount || (o.durationMs !== undefined && elapsed >= o.durationMs)) finish(false);
  }, TICK_MS);

  return { id, sent: () => messages, stop: () => finish(true), done };
}

