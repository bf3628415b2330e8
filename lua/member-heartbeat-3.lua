--[[
  A pod's heartbeat: write its member hash, extend its TTL and its score in the members set,
  reap members whose score has passed (their key has expired too), and report changes.

  KEYS[1] member   lh:member:<podId>  (hash addr, pid, role, started, version, ring, ready,
                                       draining, instance)
  KEYS[2] members  lh:members         (sorted set podId -> expiry ms)
  KEYS[3] events   lh:events

  ARGV[1] podId
  ARGV[2] instance   random id of this process; a live member key with another instance means
                     a second process runs under the same POD_ID
  ARGV[3] ttlMs
  ARGV[4] maxlen
  ARGV[5..] field, value pairs (addr, pid, role, started, version, ring, ready, draining)

  Returns
    {0, nowMs, joined, changed}    joined = 1 when the key was new; changed = 1 when ready or
                                   draining flipped or the address changed
    {5, otherInstance, pttlMs}     ERR_POD_ID_TAKEN
    {7, message}                   ERR_BAD_ARGUMENT
]]
--- @include "includes/common"

local pod, instance, ttl, maxlen = ARGV[1], ARGV[2], toInt(ARGV[3]), ARGV[4]
if not isPodId(pod) or type(instance) ~= 'string' or #instance < 8 or ttl == nil or ttl < 1 or (#ARGV - 4) % 2 ~= 0 then
  return { ERR_BAD_ARGUMENT, 'heartbeat: bad pod id, instance, ttl or fields' }
end

local now = nowMs()
local membersOk = redis.call('TYPE', KEYS[2]).ok
if membersOk ~= 'zset' and membersOk ~= 'none' then redis.call('DEL', KEYS[2]) end

-- Reap members whose expiry passed: their key expired with the same TTL.
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - 1)
for _, id in ipairs(expired) do
  if id ~= pod then
    redis.call('ZREM', KEYS[2], id)
    emit(KEYS[3], maxlen, 'type', 'member_expire', 'guild', '', 'owner', id, 'epoch', '')
  end
end

local kind = redis.call('TYPE', KEYS[1]).ok
local before = nil
if kind == 'hash' then
  local v = redis.call('HMGET', KEYS[1], 'instance', 'ready', 'draining', 'addr')
  if v[1] and v[1] ~= instance then
    local pttl = redis.call('PTTL', KEYS[1])
    -- A member key without TTL (hand edit) would block the id forever: treat it as garbage.
    if pttl > 0 then return { ERR_POD_ID_TAKEN, v[1], pttl } end
  elseif v[1] == instance then
    before = { ready = v[2], draining = v[3], addr = v[4] }
  end
end
if kind ~= 'none' then redis.call('DEL', KEYS[1]) end

local fields = {}
for i = 5, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
redis.call('HSET', KEYS[1], 'instance', instance, unpack(fields))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now + ttl, pod)

local after = redis.call('HMGET', KEYS[1], 'ready', 'draining', 'addr')
local joined, changed = 0, 0
if before == nil then
  joined = 1
  emit(KEYS[3], maxlen, 'type', 'member_join', 'guild', '', 'owner', pod, 'epoch', '')
elseif before.ready ~= after[1] or before.draining ~= after[2] or before.addr ~= after[3] then
  changed = 1
  emit(KEYS[3], maxlen, 'type', 'member_update', 'guild', '', 'owner', pod, 'epoch', '')
end
return { 0, string.format('%d', now), joined, changed }
