-- Mint a live link unless its session or its user holds as many working links as allowed: counted and
-- written in one step, so concurrent mints on any API nodes cannot pass a cap together. Links that no
-- longer work are dropped from the indexes on the way (and their hashes deleted).
-- Uses the prelude (LIVE) and live_link_working.lua.
--
-- KEYS[1] the new link's hash         KEYS[2] the session's link index (sorted set: link id -> end, ms)
-- KEYS[3] the user's link index       KEYS[4] the minting credential's key (exists while it works)
-- ARGV[1] now (ms)                    ARGV[2] the end asked for (ms)
-- ARGV[3] the cap per session         ARGV[4] the cap per user (0: no cap)
-- ARGV[5] live-link hash key prefix   ARGV[6] session hash key prefix
-- ARGV[7] the link id                 ARGV[8..] the link hash's fields and values, less expires_at_ms
--
-- Returns {'ok', end} (the link's end, never past its credential's), {'session', n} or {'user', n} (that cap
-- is reached: n working links counted), or {'credential', 0} (the credential was revoked meanwhile).

local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[4]) == 0 then return {'credential', 0} end
local ends = tonumber(ARGV[2])
local left = redis.call('PTTL', KEYS[4])
if left > 0 and now + left < ends then ends = now + left end

local function working_count(index)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  local n = 0
  for _, id in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    if link_working(ARGV[5] .. id, ARGV[6]) then
      n = n + 1
    else
      redis.call('ZREM', index, id)
      redis.call('DEL', ARGV[5] .. id)
    end
  end
  return n
end

local caps = {{KEYS[2], tonumber(ARGV[3]), 'session'}, {KEYS[3], tonumber(ARGV[4]), 'user'}}
for _, cap in ipairs(caps) do
  local n = working_count(cap[1])
  if cap[2] > 0 and n >= cap[2] then return {cap[3], n} end
end

local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], 'expires_at_ms', ends, unpack(fields))
redis.call('PEXPIREAT', KEYS[1], math.max(ends, now + 1))
for _, index in ipairs({KEYS[2], KEYS[3]}) do
  redis.call('ZADD', index, ends, ARGV[7])
  local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', index, math.max(tonumber(last[2]), now + 1))
end
return {'ok', ends}
