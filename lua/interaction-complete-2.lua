--[[
  The original response of a deferred interaction has been edited: mark it completed and drop
  it from the index of leftovers. The record stays until its TTL so a repeat sees 'completed'.

  KEYS[1] record  lh:interaction:{<interactionId>}
  KEYS[2] index   lh:interactions:deferred

  ARGV[1] interactionId
  ARGV[2] by      pod id that edited the response

  Returns {0, previousState} ('' when the record had expired or was never there).
]]
--- @include "includes/common"

local id, by = ARGV[1], ARGV[2]
if id == '' or by == '' then return { ERR_BAD_ARGUMENT, 'interaction-complete: bad id or caller' } end
redis.pcall('ZREM', KEYS[2], id)
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return { 0, '' } end
local prev = redis.call('HGET', KEYS[1], 'state') or ''
redis.call('HSET', KEYS[1], 'state', 'completed', 'completedBy', by, 'completedAt', string.format('%d', nowMs()))
return { 0, prev }
