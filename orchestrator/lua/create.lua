-- Write a new session record and its indexes, unless its owner is at their live-session limit.
-- Uses the prelude every script starts with (orchestrator/scripts.py): INITIAL, deadline().
--
-- KEYS[1] session hash
-- KEYS[2] the owner's live-session index (sorted set)
-- KEYS[3] the deadline index (sorted set)
-- KEYS[4] the holding worker's session set
-- KEYS[5] the deployment's counters (hash)
-- KEYS[6] the owner's event stream
-- KEYS[7] the owner's user hash (its `max_sessions` field, if set, overrides ARGV[1])
-- ARGV[1] the default live-session limit per user (0: none)
-- ARGV[2] session id
-- ARGV[3] created at (ms)
-- ARGV[4] the most events an owner's stream keeps
-- ARGV[5..] the record's hash, as field, value pairs (its status is INITIAL)
--
-- Returns 0 when written, or the limit that refused it.

local limit = tonumber(redis.call('HGET', KEYS[7], 'max_sessions') or ARGV[1])
if limit > 0 and redis.call('ZCARD', KEYS[2]) >= limit then
  return limit
end

local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
local times = redis.call('HMGET', KEYS[1], 'expires_at_ms', 'last_activity_ms', 'idle_timeout')
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[3], deadline(tonumber(times[1]), tonumber(times[2]), tonumber(times[3])), ARGV[2])
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('HINCRBY', KEYS[5], 'status:' .. INITIAL, 1)
redis.call('HINCRBY', KEYS[5], 'created', 1)
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[4], '*',
  'type', 'created', 'session_id', ARGV[2], 'status', INITIAL, 'reason', '', 'at_ms', ARGV[3])
return 0
