--[[
  Read a guild's lease state in one round trip, as raw strings; the caller validates.

  KEYS[1] lease  lh:{g}:lease
  KEYS[2] epoch  lh:{g}:epoch
  KEYS[3] until  lh:{g}:until
  KEYS[4] pin    lh:{g}:pin

  Returns {nowMs, leaseType, owner, epoch, since, pttlMs, epochRaw, untilRaw, pin}:
  leaseType is Redis's TYPE of the lease key; fields of a non-hash lease are ''; a string key
  of another type reads as ''.
]]
--- @include "includes/common"

local owner, epoch, since = '', '', ''
local leaseType = redis.call('TYPE', KEYS[1]).ok
if leaseType == 'hash' then
  local v = redis.call('HMGET', KEYS[1], 'owner', 'epoch', 'since')
  owner, epoch, since = v[1] or '', v[2] or '', v[3] or ''
end
return {
  string.format('%d', nowMs()), leaseType, owner, epoch, since, redis.call('PTTL', KEYS[1]),
  getString(KEYS[2]) or '', getString(KEYS[3]) or '', getString(KEYS[4]) or '',
}
