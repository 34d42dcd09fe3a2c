-- Put a new version of a profile in place: it was written whole at KEYS[1]; renaming it over the current
-- version is the commit, so a save that failed half-way never touches what was there.
-- Uses the profile prelude (orchestrator/profiles.py): lease_holder(), make_profile().
--
-- KEYS[1] the new version (written by the caller)
-- KEYS[2] the profile's current version
-- KEYS[3] the profile's metadata hash
-- KEYS[4] the profile's lease
-- KEYS[5] the owner's profile index (sorted set)
-- KEYS[6] the deployment's counters (hash)
-- KEYS[7] the writing session's hash (an upload passes the lease key again; it is not written)
-- ARGV[1] session hash key prefix
-- ARGV[2] the writing session's id ("" for an upload)
-- ARGV[3] now (ms)
-- ARGV[4] the profile's name
-- ARGV[5..8] the new version's compressed size, JSON size, cookie count, origin count
-- ARGV[9] the most profiles a user may keep
-- ARGV[10] how long a gracefully ended holder keeps the lease for its final save (ms)
-- ARGV[11] 'upload' (refused while a session holds the lease), 'checkpoint' or 'final' (the holder's own
--          saves; 'final' also marks its save done and gives the lease up)
--
-- Returns {'created'} or {'updated'}, {'held', holder} (upload), {'lost'} (a session that no longer holds
-- the lease) or {'quota', limit}. The new version is deleted unless it was put in place.

local now, mode = tonumber(ARGV[3]), ARGV[11]
local function refuse(answer)
  redis.call('DEL', KEYS[1])
  return answer
end

local outcome = 'updated'
if mode == 'upload' then
  local holder = lease_holder(KEYS[4], ARGV[1], now, tonumber(ARGV[10]))
  if holder then return refuse({'held', holder}) end
  if redis.call('EXISTS', KEYS[3]) == 0 then
    if not make_profile(KEYS[3], KEYS[5], KEYS[6], ARGV[4], now, tonumber(ARGV[9])) then
      return refuse({'quota', ARGV[9]})
    end
    outcome = 'created'
  end
else
  if redis.call('GET', KEYS[4]) ~= ARGV[2] or redis.call('EXISTS', KEYS[3]) == 0 then
    return refuse({'lost'})
  end
end

local previous = tonumber(redis.call('HGET', KEYS[3], 'size_bytes') or '0')
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('PERSIST', KEYS[2])
redis.call('HSET', KEYS[3], 'size_bytes', ARGV[5], 'raw_bytes', ARGV[6], 'cookies', ARGV[7], 'origins', ARGV[8],
  'updated_at_ms', now)
redis.call('HINCRBY', KEYS[6], 'profile_bytes', tonumber(ARGV[5]) - previous)
if mode ~= 'upload' then
  redis.call('HSET', KEYS[7], 'profile_saved_at_ms', now)
  if mode == 'final' then
    redis.call('HSET', KEYS[7], 'profile_save', 'saved')
    redis.call('DEL', KEYS[4])
  end
end
return {outcome}
