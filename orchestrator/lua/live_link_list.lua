-- A session's working live links, with how many viewers each has open, in one round trip.
-- Uses the prelude (LIVE) and live_link_working.lua.
--
-- KEYS[1] the session's link index (sorted set: link id -> end, ms)
-- KEYS[2] the session's open viewers (sorted set: '<link id>:<viewer id>' -> lease end, ms)
-- ARGV[1] now (ms)   ARGV[2] live-link hash key prefix   ARGV[3] session hash key prefix
--
-- Returns, soonest end first, per working link:
-- {link id, mode, created_at_ms, expires_at_ms, api_key_id ('' for a bearer token's), viewers}.

local viewers = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf')) do
  local id = string.match(member, '^([^:]+):')
  if id then viewers[id] = (viewers[id] or 0) + 1 end
end

local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')) do
  local key = ARGV[2] .. id
  if link_working(key, ARGV[3]) then
    local f = redis.call('HMGET', key, 'mode', 'created_at_ms', 'expires_at_ms', 'api_key_id')
    out[#out + 1] = {id, f[1] or '', f[2] or '0', f[3] or '0', f[4] or '', viewers[id] or 0}
  end
end
return out
