-- A persisting session's final save failed (or could not be made): the profile keeps its previous version,
-- the session's record says so, the lease is free, and the failure is counted.
--
-- KEYS[1] the profile's lease
-- KEYS[2] the session's hash
-- KEYS[3] the deployment's counters (hash)
-- ARGV[1] the session's id
-- ARGV[2] what its record's `profile_save` becomes (orchestrator/profiles.py: SAVE_FAILED)

if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('HGET', KEYS[2], 'profile_save') == 'pending' then
  redis.call('HSET', KEYS[2], 'profile_save', ARGV[2])
end
redis.call('HINCRBY', KEYS[3], 'profile_save_failures', 1)
return 1
