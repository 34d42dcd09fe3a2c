-- A user's profiles (or one of them), oldest first, each with the session holding its lease, in one round trip.
-- Uses the profile prelude (orchestrator/profiles.py): lease_holder().
--
-- KEYS[1] the owner's profile index (sorted set)
-- ARGV[1] the owner's profile key prefix (a profile's metadata hash is this followed by its name)
-- ARGV[2] session hash key prefix
-- ARGV[3] now (ms)
-- ARGV[4] how long a gracefully ended holder keeps the lease for its final save (ms)
-- ARGV[5] one profile's name, or "" for all of them
--
-- Returns one array per profile: name, size_bytes, raw_bytes, cookies, origins, created_at_ms, updated_at_ms,
-- holder session id (or "").

local names
if ARGV[5] ~= '' then
  names = {}
  if redis.call('ZSCORE', KEYS[1], ARGV[5]) then names[1] = ARGV[5] end
else
  names = redis.call('ZRANGE', KEYS[1], 0, -1)
end
local now, grace = tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for _, name in ipairs(names) do
  local meta = ARGV[1] .. name
  local f = redis.call('HMGET', meta, 'size_bytes', 'raw_bytes', 'cookies', 'origins', 'created_at_ms', 'updated_at_ms')
  if f[5] then
    out[#out + 1] = {name, f[1], f[2], f[3], f[4], f[5], f[6], lease_holder(meta .. ':lease', ARGV[2], now, grace) or ''}
  end
end
return out
