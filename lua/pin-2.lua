--[[
  Pin a guild to a pod, or unpin it. A pin is a wish: the pinned pod becomes the guild's
  desired owner while it is a live ring member, and the move happens through a handoff.

  KEYS[1] pin     lh:{g}:pin
  KEYS[2] events  lh:events

  ARGV[1] guildId
  ARGV[2] podId   '' to unpin
  ARGV[3] maxlen

  Returns {0, previousPod} ('' when there was none or it was garbage), or {7, message}.
]]
--- @include "includes/common"

local guild, pod, maxlen = ARGV[1], ARGV[2], ARGV[3]
local prev = getString(KEYS[1])
if prev == nil or not isPodId(prev) then prev = '' end
if pod == '' then
  redis.call('DEL', KEYS[1])
  emit(KEYS[2], maxlen, 'type', 'unpin', 'guild', guild, 'owner', '', 'epoch', '', 'from', prev)
  return { 0, prev }
end
if not isPodId(pod) then return { ERR_BAD_ARGUMENT, 'pin: bad pod id' } end
redis.call('SET', KEYS[1], pod)
emit(KEYS[2], maxlen, 'type', 'pin', 'guild', guild, 'owner', pod, 'epoch', '', 'from', prev)
return { 0, prev }
