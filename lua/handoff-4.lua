--[[
  Move a lease from its current owner to another pod: compare-and-set on (owner, epoch).
  The old owner has already stopped applying the guild's events and sent its database.

  KEYS[1] lease   lh:{g}:lease
  KEYS[2] epoch   lh:{g}:epoch
  KEYS[3] until   lh:{g}:until
  KEYS[4] events  lh:events

  ARGV[1] fromOwner   the current owner
  ARGV[2] fromEpoch   the current owner's epoch
  ARGV[3] toOwner     the target pod
  ARGV[4] floor       highest epoch Postgres has committed for the guild
  ARGV[5] ttlMs
  ARGV[6] guildId
  ARGV[7] maxlen

  Returns
    {0, epoch, untilMs, nowMs}     moved; the target holds the lease under the new epoch
    {4, owner, epoch}              ERR_NOT_OWNER: the lease is not (fromOwner, fromEpoch) now
                                   (owner and epoch are '' when there is no valid lease)
    {7, message}                   ERR_BAD_ARGUMENT
]]
--- @include "includes/common"

local from, fromEpoch, to, floor, ttl, guild, maxlen =
  ARGV[1], toInt(ARGV[2]), ARGV[3], toInt(ARGV[4]), toInt(ARGV[5]), ARGV[6], ARGV[7]
if not isPodId(from) or not isPodId(to) or fromEpoch == nil or floor == nil or ttl == nil or ttl < 1 then
  return { ERR_BAD_ARGUMENT, 'handoff: bad owner, epoch, floor or ttl' }
end

local lease = readLease(KEYS[1])
if not lease or lease.owner ~= from or lease.epoch ~= fromEpoch then
  if lease then return { ERR_NOT_OWNER, lease.owner, string.format('%d', lease.epoch) } end
  return { ERR_NOT_OWNER, '', '' }
end

local now = nowMs()
local epoch = nextEpoch(KEYS[2], floor, fromEpoch + 1)
local newUntil = writeLease(KEYS[1], KEYS[3], to, epoch, now, ttl)
emit(KEYS[4], maxlen, 'type', 'handoff', 'guild', guild, 'owner', to, 'epoch', string.format('%d', epoch), 'from', from)
return { 0, string.format('%d', epoch), string.format('%d', newUntil), string.format('%d', now) }
