-- Make a session the one writer of a profile (creating the profile, empty, if it does not exist yet).
-- Uses the profile prelude (orchestrator/profiles.py): lease_holder(), make_profile().
--
-- KEYS[1] the profile's metadata hash
-- KEYS[2] the profile's lease
-- KEYS[3] the owner's profile index (sorted set)
-- KEYS[4] the deployment's counters (hash)
-- ARGV[1] session hash key prefix
-- ARGV[2] the claiming session's id (its record is already written)
-- ARGV[3] now (ms)
-- ARGV[4] the profile's name
-- ARGV[5] the most profiles a user may keep
-- ARGV[6] how long a gracefully ended holder keeps the lease for its final save (ms)
--
-- Returns {'ok'}, {'held', holder session id} or {'quota', limit}.

local holder = lease_holder(KEYS[2], ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[6]))
if holder and holder ~= ARGV[2] then return {'held', holder} end
if redis.call('EXISTS', KEYS[1]) == 0 then
  if not make_profile(KEYS[1], KEYS[3], KEYS[4], ARGV[4], ARGV[3], tonumber(ARGV[5])) then
    return {'quota', ARGV[5]}
  end
end
redis.call('SET', KEYS[2], ARGV[2])
return {'ok'}
