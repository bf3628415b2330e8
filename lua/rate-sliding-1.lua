--[[
  Take one use of a shared sliding-window budget (Discord's global REST limit): at most `limit`
  uses in any `windowMs` span, whatever the server's own window alignment. A fixed window lets a
  burst at the end of one window and one at the start of the next reach Discord inside a single
  second of its own (which starts at a first request), so up to twice the limit arrived there.

  KEYS[1] log       e.g. lh:rate:rest:global:sliding (sorted set: member per use, score = ms)

  ARGV[1] limit     uses allowed in any window
  ARGV[2] windowMs
  ARGV[3] cost      uses to take (0 = only read)

  Returns {allowed (1/0), count, waitMs}: when not allowed, nothing is taken and waitMs says
  how long until the oldest use in the window leaves it.
]]
--- @include "includes/common"

local limit, windowMs, cost = toInt(ARGV[1]), toInt(ARGV[2]), toInt(ARGV[3])
if limit == nil or windowMs == nil or windowMs < 1 or cost == nil then return { ERR_BAD_ARGUMENT, 'rate: bad limit, window or cost' } end
local key = KEYS[1]
local kind = redis.call('TYPE', key).ok
-- Garbage (a hand edit): start a fresh log rather than fail every REST call.
if kind ~= 'zset' and kind ~= 'none' then redis.call('DEL', key) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now - windowMs))
local count = redis.call('ZCARD', key)
if count + cost > limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  local wait = windowMs
  if oldest[2] then wait = math.max(1, tonumber(oldest[2]) + windowMs - now + 1) end
  return { 0, count, wait }
end
for i = 1, cost do
  -- Unique per use: the microsecond and the log's size after it (a second script in the same
  -- microsecond sees a larger log).
  redis.call('ZADD', key, now, string.format('%s.%s-%d', t[1], t[2], count + i))
end
if cost > 0 then redis.call('PEXPIRE', key, windowMs) end
return { 1, count + cost, 0 }
