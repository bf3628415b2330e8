--[[
  The edge records that it answered Discord with a deferred response (DESIGN §6), so whoever
  finishes the interaction edits the original response instead of answering it directly.

  The record's state machine (one hash per interaction):
    (none) --defer--> deferred        the owner will complete it with the token
    (none) --resolve--> answered      the owner's reply goes back in the HTTP response
    answered --defer late--> deferred_late
                                      the reply was sent but had not reached the edge at ~2.9 s;
                                      whoever receives it first (edge, or a later owner) edits
    deferred | deferred_late --take--> completing --complete--> completed

  KEYS[1] record  lh:interaction:{<interactionId>}
  KEYS[2] index   lh:interactions:deferred (sorted set: interaction id -> token expiry, Redis ms)

  ARGV[1] late            '1' at the last moment (~2.9 s): an `answered` record becomes deferred_late
  ARGV[2] interactionId
  ARGV[3] guildId         '' for a DM interaction
  ARGV[4] applicationId
  ARGV[5] token           the interaction token (valid 15 min for follow-ups)
  ARGV[6] responseType    the deferred response the edge sent (5 or 6)
  ARGV[7] flags           message flags of that response (64 = ephemeral)
  ARGV[8] deadlineAt      wall ms by which the edge answered Discord
  ARGV[9] ttlMs           lifetime of the record (the token's: 15 min)
  ARGV[10] edge           pod id of the edge that deferred
  ARGV[11] payload        the interaction JSON as Discord sent it, so a guild's next owner can
                          compute the answer when the owner died with the request

  Returns {0, state, previousState}: state is the record's state after the call ('deferred',
  'deferred_late', or unchanged 'answered' when an in-time defer lost to the owner's answer);
  previousState is '' when there was no record. {7, message} on bad arguments.
]]
--- @include "includes/common"

local late, id, guild, app, token = ARGV[1] == '1', ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local responseType, flags, deadlineAt, ttl, edge = toInt(ARGV[6]), toInt(ARGV[7]), toInt(ARGV[8]), toInt(ARGV[9]), ARGV[10]
if id == '' or token == '' or responseType == nil or flags == nil or deadlineAt == nil or ttl == nil or ttl < 1 then
  return { ERR_BAD_ARGUMENT, 'interaction-defer: bad id, token, type, flags, deadline or ttl' }
end

local now = nowMs()
-- Tokens older than 15 minutes can no longer be used: keep the index bounded.
redis.pcall('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)

local prev = ''
local keyType = redis.call('TYPE', KEYS[1]).ok
if keyType == 'hash' then
  prev = redis.call('HGET', KEYS[1], 'state') or ''
elseif keyType ~= 'none' then
  -- A hand edit left garbage here: it carries no state.
  redis.call('DEL', KEYS[1])
end

local function record(state)
  redis.call('HSET', KEYS[1], 'state', state, 'id', id, 'guild', guild, 'app', app, 'token', token,
    'type', string.format('%d', responseType), 'flags', string.format('%d', flags),
    'deadline', string.format('%d', deadlineAt), 'edge', edge, 'deferredAt', string.format('%d', now),
    'payload', ARGV[11] or '')
  if prev == '' then redis.call('PEXPIRE', KEYS[1], ttl) end
  redis.pcall('ZADD', KEYS[2], now + ttl, id)
  return { 0, state, prev }
end

if prev == '' then return record('deferred') end
if prev == 'answered' and late then return record('deferred_late') end
-- Lost to the owner's answer, or a repeat: leave the record as it is.
return { 0, prev, prev }
