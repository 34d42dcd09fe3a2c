-- Record use of a live session: move last_activity, optionally push expires_at, re-score its deadline.
-- Uses the prelude every script starts with (orchestrator/scripts.py): LIVE, deadline().
--
-- KEYS[1] session hash
-- KEYS[2] the deadline index (sorted set)
-- ARGV[1] now (ms)
-- ARGV[2] session id
-- ARGV[3] "1" to push expires_at to now + the session's timeout (keepalive)
--
-- Returns the session's status (written to only when live), or false when it does not exist.

local fields = redis.call('HMGET', KEYS[1], 'status', 'expires_at_ms', 'timeout_seconds', 'idle_timeout')
local status = fields[1]
if not status then return false end
if not LIVE[status] then return status end

local now = tonumber(ARGV[1])
local expires_at = tonumber(fields[2])
if ARGV[3] == '1' then
  expires_at = now + tonumber(fields[3]) * 1000
  redis.call('HSET', KEYS[1], 'expires_at_ms', expires_at)
end
redis.call('HSET', KEYS[1], 'last_activity_ms', now)
redis.call('ZADD', KEYS[2], deadline(expires_at, now, tonumber(fields[4])), ARGV[2])
return status
