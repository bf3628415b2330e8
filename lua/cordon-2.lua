--[[
  Cordon a pod (it owns nothing until uncordoned) or uncordon it.

  KEYS[1] cordon  lh:cordon:<podId>
  KEYS[2] events  lh:events

  ARGV[1] podId
  ARGV[2] reason  '' to uncordon
  ARGV[3] maxlen

  Returns {0, wasCordoned} or {7, message}.
]]
--- @include "includes/common"

local pod, reason, maxlen = ARGV[1], ARGV[2], ARGV[3]
if not isPodId(pod) then return { ERR_BAD_ARGUMENT, 'cordon: bad pod id' } end
local was = redis.call('EXISTS', KEYS[1])
if reason == '' then
  redis.call('DEL', KEYS[1])
  emit(KEYS[2], maxlen, 'type', 'uncordon', 'guild', '', 'owner', pod, 'epoch', '')
else
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[1], reason)
  emit(KEYS[2], maxlen, 'type', 'cordon', 'guild', '', 'owner', pod, 'epoch', '', 'reason', reason)
end
return { 0, was }
