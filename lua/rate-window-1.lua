--[[
  Count one use of a shared fixed-window budget (Discord's global REST limit, the invalid-request
  budget, identify buckets): INCR and set the window's expiry in one step, so a crash between
  the two can never leave a counter without a TTL.

  KEYS[1] counter   e.g. lh:rest:global:<window start>

  ARGV[1] limit      uses allowed in the window
  ARGV[2] windowMs
  ARGV[3] cost       uses to take (0 = only read)

  Returns {allowed (1/0), count, pttlMs}: when not allowed, nothing is taken and pttlMs says
  how long until the window resets.
]]
--- @include "includes/common"

local limit, windowMs, cost = toInt(ARGV[1]), toInt(ARGV[2]), toInt(ARGV[3])
if limit == nil or windowMs == nil or windowMs < 1 or cost == nil then return { ERR_BAD_ARGUMENT, 'rate: bad limit, window or cost' } end
local count = toInt(getString(KEYS[1]))
local pttl = redis.call('PTTL', KEYS[1])
if count == nil or pttl < 0 then
  -- Missing, garbage or without TTL (a hand edit): start a fresh window.
  redis.call('SET', KEYS[1], '0', 'PX', windowMs)
  count, pttl = 0, windowMs
end
if count + cost > limit then return { 0, count, pttl } end
if cost > 0 then count = redis.call('INCRBY', KEYS[1], cost) end
return { 1, count, pttl }
