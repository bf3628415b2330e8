// Every Redis key leasehold uses is built here and nowhere else (DESIGN §3).
// Per-guild keys share the hash tag {guildId} so one script touches one slot.

export interface Keys {
  readonly prefix: string;
  lease(guildId: string): string;
  epoch(guildId: string): string;
  until(guildId: string): string;
  pin(guildId: string): string;
  member(podId: string): string;
  cordon(podId: string): string;
  /** Shared rate-limit window counters (REST global limit, invalid-request budget). */
  rate(name: string): string;
  /** Hash of the registered command set (commands are registered once per change). */
  readonly commandsHash: string;
  readonly members: string;
  readonly ring: string;
  readonly events: string;
  /** SCAN patterns for a full reconcile. */
  readonly leasePattern: string;
  readonly pinPattern: string;
  readonly untilPattern: string;
  readonly cordonPattern: string;
  /** Inverse of lease()/pin()/until(): the guild id inside a per-guild key, or undefined. */
  guildOf(key: string): string | undefined;
  /** Inverse of cordon(): the pod id, or undefined. */
  podOfCordon(key: string): string | undefined;
}

export function createKeys(prefix: string): Keys {
  const guildKey = (suffix: string) => (g: string) => `${prefix}{${g}}:${suffix}`;
  const guildRe = new RegExp(`^${escapeRe(prefix)}\\{([^}]+)\\}:[a-z]+$`);
  const cordonPrefix = `${prefix}cordon:`;
  return {
    prefix,
    lease: guildKey('lease'),
    epoch: guildKey('epoch'),
    until: guildKey('until'),
    pin: guildKey('pin'),
    member: (podId) => `${prefix}member:${podId}`,
    cordon: (podId) => `${cordonPrefix}${podId}`,
    rate: (name) => `${prefix}rate:${name}`,
    commandsHash: `${prefix}commands:hash`,
    members: `${prefix}members`,
    ring: `${prefix}ring`,
    events: `${prefix}events`,
    leasePattern: `${escapeGlob(prefix)}{*}:lease`,
    pinPattern: `${escapeGlob(prefix)}{*}:pin`,
    untilPattern: `${escapeGlob(prefix)}{*}:until`,
    cordonPattern: `${escapeGlob(cordonPrefix)}*`,
    guildOf: (key) => guildRe.exec(key)?.[1],
    podOfCordon: (key) => (key.startsWith(cordonPrefix) ? key.slice(cordonPrefix.length) : undefined),
  };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
