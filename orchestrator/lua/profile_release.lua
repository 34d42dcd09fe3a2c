-- Give up a profile's lease if the session still holds it (a create that did not go through).
--
-- KEYS[1] the profile's lease
-- ARGV[1] the session's id

if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
