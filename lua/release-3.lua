--[[
  Release a lease.

  An owner's release (ARGV[1] = its pod id) checks owner and epoch, deletes the lease and sets
  `until` to now: the owner has stopped, so the guild is claimable at once.
  A forced release (ARGV[1] = '') deletes whatever lease is there and leaves `until` alone:
  the old owner may still act until then, so nobody can claim before it passes (DESIGN §3).

  KEYS[1] lease   lh:{g}:lease
  KEYS[2] until   lh:{g}:until
  KEYS[3] events  lh:events

  ARGV[1] owner   '' to force
  ARGV[2] epoch   the owner's epoch ('' when forced)
  ARGV[3] guildId
  ARGV[4] maxlen
  ARGV[5] reason  free text for the event (e.g. 'left', 'drain', 'admin')

  Returns
    {0, previousOwner, previousEpoch}   released ('' when there was no valid lease)
    {4, owner, epoch}                   ERR_NOT_OWNER
    {7, message}                        ERR_BAD_ARGUMENT
]]
--- @include "includes/common"

local owner, epoch, guild, maxlen, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5] or ''
local lease = readLease(KEYS[1])
local prevOwner = lease and lease.owner or ''
local prevEpoch = lease and string.format('%d', lease.epoch) or ''

if owner == '' then
  local existed = redis.call('DEL', KEYS[1])
  if existed == 1 then
    emit(KEYS[3], maxlen, 'type', 'force_release', 'guild', guild, 'owner', '', 'epoch', prevEpoch, 'from', prevOwner, 'reason', reason)
  end
  return { 0, prevOwner, prevEpoch }
end

if not isPodId(owner) or toInt(epoch) == nil then return { ERR_BAD_ARGUMENT, 'release: bad owner or epoch' } end
if not lease or lease.owner ~= owner or prevEpoch ~= epoch then return { ERR_NOT_OWNER, prevOwner, prevEpoch } end

redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], string.format('%d', nowMs()))
emit(KEYS[3], maxlen, 'type', 'release', 'guild', guild, 'owner', '', 'epoch', prevEpoch, 'from', owner, 'reason', reason)
return { 0, prevOwner, prevEpoch }
