--[[
  A pod with the answer to an interaction asks what to do with it (see interaction-defer-2.lua
  for the state machine).

  mode 'resolve' (the owner that computed the answer):
    no record                 -> records 'answered'; reply: return the answer in the HTTP response
    answered                  -> unchanged; same reply (a repeat)
  mode 'take' (the edge receiving a late answer, or a later owner completing leftovers):
    no record                 -> 'missing', nothing written
  both modes:
    deferred | deferred_late  -> 'completing' claimed by ARGV[2]; the caller edits the original
                                 response with the token, then calls interaction-complete
    completing, claim older than ARGV[4] ms -> re-claimed likewise (the claimant died)
    completing, fresh claim   -> 'busy'
    completed                 -> 'completed'

  KEYS[1] record  lh:interaction:{<interactionId>}
  KEYS[2] index   lh:interactions:deferred

  ARGV[1] mode     'resolve' | 'take'
  ARGV[2] by       pod id of the caller
  ARGV[3] ttlMs    lifetime of a new 'answered' record
  ARGV[4] staleMs  a completion claim older than this may be taken over
  ARGV[5] guildId  '' for a DM interaction (recorded with 'answered')

  Returns {0, outcome, guildId, applicationId, token, responseType, flags, deadlineAt, state}
  where outcome is 'answered' | 'complete' | 'busy' | 'completed' | 'missing' and the token
  fields are '' unless outcome is 'complete'. {7, message} on bad arguments.
]]
--- @include "includes/common"

local mode, by, ttl, stale, guild = ARGV[1], ARGV[2], toInt(ARGV[3]), toInt(ARGV[4]), ARGV[5]
if (mode ~= 'resolve' and mode ~= 'take') or by == '' or ttl == nil or ttl < 1 or stale == nil then
  return { ERR_BAD_ARGUMENT, 'interaction-resolve: bad mode, caller, ttl or staleMs' }
end

local now = nowMs()
local keyType = redis.call('TYPE', KEYS[1]).ok
if keyType ~= 'hash' and keyType ~= 'none' then
  redis.call('DEL', KEYS[1])
  keyType = 'none'
end

local function reply(outcome, state)
  return { 0, outcome, '', '', '', '', '', '', state }
end

if keyType == 'none' then
  if mode == 'take' then return reply('missing', '') end
  redis.call('HSET', KEYS[1], 'state', 'answered', 'guild', guild, 'by', by, 'answeredAt', string.format('%d', now))
  redis.call('PEXPIRE', KEYS[1], ttl)
  return reply('answered', 'answered')
end

local v = redis.call('HMGET', KEYS[1], 'state', 'guild', 'app', 'token', 'type', 'flags', 'deadline', 'claimedAt')
local state = v[1] or ''
if state == 'answered' then
  if mode == 'take' then return reply('missing', state) end
  return reply('answered', state)
end
if state == 'completed' then return reply('completed', state) end
if state == 'completing' then
  local claimedAt = toInt(v[8]) or 0
  if now - claimedAt < stale then return reply('busy', state) end
elseif state ~= 'deferred' and state ~= 'deferred_late' then
  -- An unknown state (hand edit): nobody can complete it safely.
  return reply('busy', state)
end
if (v[4] or '') == '' then return reply('busy', state) end

redis.call('HSET', KEYS[1], 'state', 'completing', 'by', by, 'claimedAt', string.format('%d', now), 'from', state)
return { 0, 'complete', v[2] or '', v[3] or '', v[4], v[5] or '', v[6] or '', v[7] or '', state }
