import { describe, expect, it } from 'vitest';
import { deferredResponseFor, parseInteraction, parseInteractionReply } from '../../../src/http/interaction-payload.js';
import { COMMANDS, commandSetHash, registrationBody } from '../../../src/shared/commands.js';

const base = { id: '123456789012345678', application_id: '223456789012345678', token: 't', guild_id: '323456789012345678' };

describe('deferred responses follow the shared command registry', () => {
  it('an ephemeral command is deferred with the ephemeral flag, a public one without', () => {
    expect(deferredResponseFor(parseInteraction({ ...base, type: 2, data: { name: 'setup', type: 1 } })).body).toEqual({ type: 5, data: { flags: 64 } });
    expect(deferredResponseFor(parseInteraction({ ...base, type: 2, data: { name: 'stats', type: 1 } })).body).toEqual({ type: 5 });
    expect(deferredResponseFor(parseInteraction({ ...base, type: 2, data: { name: 'Report message', type: 3 } })).body).toEqual({ type: 5, data: { flags: 64 } });
  });

  it('an unknown command defers ephemerally; a component defers as an update; autocomplete cannot be deferred', () => {
    expect(deferredResponseFor(parseInteraction({ ...base, type: 2, data: { name: 'nope', type: 1 } })).body).toEqual({ type: 5, data: { flags: 64 } });
    expect(deferredResponseFor(parseInteraction({ ...base, type: 3, data: { custom_id: 'close:1' } }))).toMatchObject({ body: { type: 6 }, needsEdit: true });
    expect(deferredResponseFor(parseInteraction({ ...base, type: 4, data: { name: 'setup' } }))).toMatchObject({ body: { type: 8, data: { choices: [] } }, needsEdit: false });
  });

  it('payloads without a valid id or token are rejected with the field named', () => {
    expect(() => parseInteraction({ ...base, id: 'x', type: 2 })).toThrow(/id/);
    expect(() => parseInteraction({ ...base, token: undefined, type: 2 })).toThrow(/token/);
    expect(() => parseInteraction({ ...base, type: 9 })).toThrow(/type/);
    expect(parseInteraction({ id: base.id, application_id: base.application_id, type: 1 }).guildId).toBeUndefined();
  });

  it("a gateway's reply must be a known response type", () => {
    expect(parseInteractionReply({ type: 4, data: { content: 'x' } })).toEqual({ type: 4, data: { content: 'x' } });
    expect(parseInteractionReply({ type: 99 })).toBeUndefined();
    expect(parseInteractionReply({ type: 4, data: 'x' })).toBeUndefined();
    expect(parseInteractionReply(null)).toBeUndefined();
  });
});

describe('the command registry', () => {
  it('holds /setup, /stats, /reports and the "Report message" context command', () => {
    expect(COMMANDS.map((c) => [c.name, c.type, c.ephemeral])).toEqual([
      ['setup', 1, true],
      ['stats', 1, false],
      ['reports', 1, true],
      ['Report message', 3, true],
    ]);
    expect(COMMANDS[0]?.options.map((o) => o.name)).toEqual(['moderator_role', 'log_channel', 'alert_keywords']);
  });

  it('registers context commands without a description and guild-only, and hashes stably', () => {
    const body = registrationBody();
    expect(body[3]).toEqual({ name: 'Report message', type: 3, contexts: [0], default_member_permissions: null });
    expect(body[0]).toMatchObject({ default_member_permissions: '32', contexts: [0] });
    expect(commandSetHash()).toBe(commandSetHash());
    expect(commandSetHash(COMMANDS.slice(1))).not.toBe(commandSetHash());
  });
});
