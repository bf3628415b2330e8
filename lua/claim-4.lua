--[[
  Claim a free lease for a guild, issuing a new fencing epoch.

  KEYS[1] lease   lh:{g}:lease  (hash owner, epoch, since)
  KEYS[2] epoch   lh:{g}:epoch  (last epoch issued)
  KEYS[3] until   lh:{g}:until  (Redis time in ms when the current lease runs out)
  KEYS[4] events  lh:events

  ARGV[1] owner          pod id claiming
  ARGV[2] floor          highest epoch Postgres has committed for the guild (0 if none)
  ARGV[3] ttlMs          lease TTL
  ARGV[4] guildId
  ARGV[5] maxlen         approximate cap of the event stream
  ARGV[6] waitedFullTtl  '1' when the caller has seen this lease missing, with no `until`,
                         for at least one full TTL (a wiped Redis)

  Returns
    {0, epoch, untilMs, nowMs}          claimed
    {1, owner, epoch, pttlMs}           ERR_LEASE_HELD: a valid lease exists
    {2, untilMs, nowMs}                 ERR_LEASE_NOT_EXPIRED: the lease vanished before its
                                        `until` (hand DEL, garbage); the old owner may still act
    {3, nowMs}                          ERR_UNTIL_UNKNOWN: lease and `until` both gone while the
                                        guild has a history; wait one full TTL, then retry
    {7, message}                        ERR_BAD_ARGUMENT
]]
--- @include "includes/common"

local owner, floor, ttl, guild, maxlen = ARGV[1], toInt(ARGV[2]), toInt(ARGV[3]), ARGV[4], ARGV[5]
if not isPodId(owner) or floor == nil or ttl == nil or ttl < 1 then
  return { ERR_BAD_ARGUMENT, 'claim: bad owner, floor or ttl' }
end

local now = nowMs()
local lease = readLease(KEYS[1])
if lease then
  return { ERR_LEASE_HELD, lease.owner, string.format('%d', lease.epoch), redis.call('PTTL', KEYS[1]) }
end

local untilMs = toInt(getString(KEYS[3]))
if untilMs ~= nil then
  if now < untilMs then return { ERR_LEASE_NOT_EXPIRED, string.format('%d', untilMs), string.format('%d', now) } end
else
  -- No `until`: a brand-new guild (no epoch anywhere) is claimable at once; a guild with a
  -- history lost its `until` (wiped Redis, hand edit), so the last owner's deadline is unknown.
  local hasHistory = floor > 0 or redis.call('EXISTS', KEYS[2]) == 1
  if hasHistory and ARGV[6] ~= '1' then return { ERR_UNTIL_UNKNOWN, string.format('%d', now) } end
end

local epoch = nextEpoch(KEYS[2], floor)
local newUntil = writeLease(KEYS[1], KEYS[3], owner, epoch, now, ttl)
emit(KEYS[4], maxlen, 'type', 'claim', 'guild', guild, 'owner', owner, 'epoch', string.format('%d', epoch))
return { 0, string.format('%d', epoch), string.format('%d', newUntil), string.format('%d', now) }
