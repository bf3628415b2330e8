--[[
  Renew a chunk of one pod's leases (at most 1000 guilds a call: DESIGN §3).

  KEYS    two per guild, in order: lh:{g}:lease, lh:{g}:until  (numkeys is given at call time)

  ARGV[1] owner   pod id renewing
  ARGV[2] ttlMs   lease TTL
  ARGV[3..] epoch of each guild, in KEYS order (one per pair of keys)

  Returns {nowMs, untilMs, lost...}: lost are the 1-based guild indexes whose lease is no
  longer (owner, epoch) — expired, deleted, moved or garbage. Those guilds must stop at once.
]]
--- @include "includes/common"

local owner, ttl = ARGV[1], toInt(ARGV[2])
local n = #KEYS / 2
if not isPodId(owner) or ttl == nil or ttl < 1 or #KEYS % 2 ~= 0 or #ARGV ~= n + 2 then
  return { ERR_BAD_ARGUMENT, 'renew: bad owner, ttl or key/epoch count' }
end

local now = nowMs()
local untilMs = string.format('%d', now + ttl)
local result = { string.format('%d', now), untilMs }
for i = 1, n do
  local leaseKey, untilKey = KEYS[2 * i - 1], KEYS[2 * i]
  -- Hot path (DESIGN §3: ~2–3 µs a lease): one HMGET under pcall instead of TYPE + HMGET. Exact
  -- equality with the caller's (owner, epoch) already proves the fields valid, and a key of
  -- another type (a hand edit) makes pcall return an error table, which counts as lost.
  local v = redis.pcall('HMGET', leaseKey, 'owner', 'epoch')
  if v[1] == owner and v[2] == ARGV[i + 2] then
    redis.call('PEXPIRE', leaseKey, ttl)
    redis.call('SET', untilKey, untilMs)
  else
    result[#result + 1] = i
  end
end
return result
