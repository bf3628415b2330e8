--[[
  Agree on the ring parameters every pod must share (a pod with others refuses to join).
  The first pod sets them; later pods must match.

  KEYS[1] ring    lh:ring  (hash version, vnodes, hash)
  KEYS[2] events  lh:events

  ARGV[1] version   ring algorithm version
  ARGV[2] vnodes    virtual nodes per member
  ARGV[3] hash      hash function name
  ARGV[4] maxlen

  Returns {0, created} or {6, version, vnodes, hash} (ERR_RING_MISMATCH, the stored values).
]]
--- @include "includes/common"

local version, vnodes, hash, maxlen = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('TYPE', KEYS[1]).ok == 'hash' then
  local v = redis.call('HMGET', KEYS[1], 'version', 'vnodes', 'hash')
  if v[1] and v[2] and v[3] then
    if v[1] == version and v[2] == vnodes and v[3] == hash then return { 0, 0 } end
    return { ERR_RING_MISMATCH, v[1], v[2], v[3] }
  end
end
-- Missing or incomplete (hand edit): (re)write it.
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'version', version, 'vnodes', vnodes, 'hash', hash)
emit(KEYS[2], maxlen, 'type', 'ring', 'guild', '', 'owner', '', 'epoch', '')
return { 0, 1 }
