// Registers the bot's commands with Discord once per change of the command set (DESIGN §8): the
// set's hash is kept in Redis, and only a pod that finds a different hash registers.
import { Routes } from 'discord-api-types/v10';
import type { REST } from '@discordjs/rest';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { Keys } from '../cluster/keys.js';
import { commandSetHash, registrationBody } from '../shared/commands.js';

export async function registerCommands(o: { redis: Redis; keys: Keys; rest: REST; applicationId: string; logger: Logger }): Promise<'registered' | 'unchanged'> {
  const hash = commandSetHash();
  if ((await o.redis.get(o.keys.commandsHash).catch(() => null)) === hash) return 'unchanged';
  await o.rest.put(Routes.applicationCommands(o.applicationId), { body: registrationBody() });
  await o.redis.set(o.keys.commandsHash, hash);
  o.logger.info({ hash, commands: registrationBody().length }, 'registered the command set with Discord');
  return 'registered';
}
