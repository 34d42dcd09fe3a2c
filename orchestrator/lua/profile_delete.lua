-- Delete a profile, unless a session holds its lease.
-- Uses the profile prelude (orchestrator/profiles.py): lease_holder().
--
-- KEYS[1] the profile's metadata hash
-- KEYS[2] the profile's current version
-- KEYS[3] the profile's lease
-- KEYS[4] the owner's profile index (sorted set)
-- KEYS[5] the deployment's counters (hash)
-- ARGV[1] session hash key prefix
-- ARGV[2] now (ms)
-- ARGV[3] the profile's name
-- ARGV[4] how long a gracefully ended holder keeps the lease for its final save (ms)
--
-- Returns {'ok'}, {'missing'} or {'held', holder}.

if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local holder = lease_holder(KEYS[3], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4]))
if holder then return {'held', holder} end
local size = tonumber(redis.call('HGET', KEYS[1], 'size_bytes') or '0')
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[3])
redis.call('HINCRBY', KEYS[5], 'profiles', -1)
redis.call('HINCRBY', KEYS[5], 'profile_bytes', -size)
return {'ok'}
