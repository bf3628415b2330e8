--[[
  A pod leaves the cluster cleanly (after its drain): delete its member key and set entry.

  KEYS[1] member   lh:member:<podId>
  KEYS[2] members  lh:members
  KEYS[3] events   lh:events

  ARGV[1] podId
  ARGV[2] instance   only the process that wrote the key may delete it
  ARGV[3] maxlen

  Returns {0, left} (left = 1 when a key was removed), or {5, otherInstance, pttlMs}.
]]
--- @include "includes/common"

local pod, instance, maxlen = ARGV[1], ARGV[2], ARGV[3]
if redis.call('TYPE', KEYS[1]).ok == 'hash' then
  local other = redis.call('HGET', KEYS[1], 'instance')
  if other and other ~= instance then return { ERR_POD_ID_TAKEN, other, redis.call('PTTL', KEYS[1]) } end
end
local left = redis.call('DEL', KEYS[1])
if redis.call('TYPE', KEYS[2]).ok == 'zset' then redis.call('ZREM', KEYS[2], pod) end
emit(KEYS[3], maxlen, 'type', 'member_leave', 'guild', '', 'owner', pod, 'epoch', '')
return { 0, left }
