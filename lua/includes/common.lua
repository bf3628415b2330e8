-- Shared fragments included by every leasehold script (see src/cluster/scripts.ts).
-- Hand-edited keys may hold anything: every read checks the type and shape first and treats
-- garbage as "absent", so a bad key never raises inside a script.

local ERR_LEASE_HELD = 1
local ERR_LEASE_NOT_EXPIRED = 2
local ERR_UNTIL_UNKNOWN = 3
local ERR_NOT_OWNER = 4
local ERR_POD_ID_TAKEN = 5
local ERR_RING_MISMATCH = 6
local ERR_BAD_ARGUMENT = 7

-- Redis server time in ms: every pod compares against the same clock.
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A non-negative integer of at most 15 digits (exact in a Lua double), else nil.
local function toInt(s)
  if type(s) ~= 'string' or #s == 0 or #s > 15 or not string.match(s, '^%d+$') then return nil end
  return tonumber(s)
end

local function isPodId(s)
  return type(s) == 'string' and #s >= 1 and #s <= 63 and string.match(s, '^[A-Za-z0-9][A-Za-z0-9._-]*$') ~= nil
end

-- GET of a key that should be a string; nil when missing or of another type.
local function getString(key)
  if redis.call('TYPE', key).ok ~= 'string' then return nil end
  return redis.call('GET', key)
end

-- The lease hash as {owner, epoch, since}, or nil when missing or malformed.
local function readLease(key)
  if redis.call('TYPE', key).ok ~= 'hash' then return nil end
  local v = redis.call('HMGET', key, 'owner', 'epoch', 'since')
  local epoch = toInt(v[2])
  if not isPodId(v[1]) or epoch == nil or epoch < 1 then return nil end
  return { owner = v[1], epoch = epoch, since = toInt(v[3]) or 0 }
end

-- Append a change to the capped event stream. A hand-broken stream key must not undo the
-- change itself: readers fall back to a full reconcile, so a failed XADD is tolerated.
local function emit(stream, maxlen, ...)
  redis.pcall('XADD', stream, 'MAXLEN', '~', maxlen, '*', ...)
end

-- The next fencing epoch: above the last one issued here and above Postgres's floor.
local function nextEpoch(epochKey, floor, atLeast)
  local cur = toInt(getString(epochKey)) or 0
  local e = math.max(cur + 1, floor + 1, atLeast or 0)
  if redis.call('TYPE', epochKey).ok ~= 'string' then redis.call('DEL', epochKey) end
  redis.call('SET', epochKey, string.format('%d', e))
  return e
end

-- Write a lease (replacing whatever garbage was there) and its `until`.
local function writeLease(leaseKey, untilKey, owner, epoch, now, ttl)
  redis.call('DEL', leaseKey)
  redis.call('HSET', leaseKey, 'owner', owner, 'epoch', string.format('%d', epoch), 'since', string.format('%d', now))
  redis.call('PEXPIRE', leaseKey, ttl)
  redis.call('SET', untilKey, string.format('%d', now + ttl))
  return now + ttl
end
