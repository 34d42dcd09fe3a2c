-- Move one session to a new status, atomically, and keep its indexes true.
-- Uses the prelude every script starts with (orchestrator/scripts.py): LIVE, deadline(), due_reason().
--
-- KEYS[1] session hash
-- KEYS[2] the owner's live-session index (sorted set)
-- KEYS[3] the deadline index (sorted set)
-- KEYS[4] the holding worker's session set
-- KEYS[5] the owner's event stream
-- KEYS[6] the deployment's counters (hash: status:<s> live counts, ended:<reason> totals)
-- ARGV[1] target status
-- ARGV[2] allowed source statuses, space separated
-- ARGV[3] now (ms)
-- ARGV[4] "1" if the target is terminal
-- ARGV[5] retention of an ended record (seconds)
-- ARGV[6] end reason ("" for none)
-- ARGV[7] "1" to act only if the session is due to end now (the reaper's check); the reason is then worked out here
-- ARGV[8] session id
-- ARGV[9] the most events an owner's stream keeps
--
-- Returns {previous status, end reason} on success, false when the session is missing,
-- in a status the move may not start from, or (with ARGV[7]) not due.

local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  redis.call('ZREM', KEYS[3], ARGV[8])
  redis.call('ZREM', KEYS[2], ARGV[8])
  return false
end

local allowed = false
for source in string.gmatch(ARGV[2], '%S+') do
  if source == status then allowed = true end
end
if not allowed then return false end

local now = tonumber(ARGV[3])
local reason = ARGV[6]
if ARGV[7] == '1' then
  local fields = redis.call('HMGET', KEYS[1], 'expires_at_ms', 'last_activity_ms', 'idle_timeout')
  local expires_at, last_activity, idle = tonumber(fields[1]), tonumber(fields[2]), tonumber(fields[3])
  reason = due_reason(expires_at, last_activity, idle, now)
  if not reason then
    redis.call('ZADD', KEYS[3], deadline(expires_at, last_activity, idle), ARGV[8])
    return false
  end
end

redis.call('HSET', KEYS[1], 'status', ARGV[1])
if not LIVE[ARGV[1]] then
  redis.call('ZREM', KEYS[2], ARGV[8])
  redis.call('ZREM', KEYS[3], ARGV[8])
end
if reason ~= '' then
  redis.call('HSET', KEYS[1], 'end_reason', reason)
end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'ended_at_ms', ARGV[3])
  redis.call('SREM', KEYS[4], ARGV[8])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
end

redis.call('HINCRBY', KEYS[6], 'status:' .. status, -1)
redis.call('HINCRBY', KEYS[6], 'status:' .. ARGV[1], 1)
local event = ARGV[1]
if ARGV[4] == '1' then
  event = 'ended'
  redis.call('HINCRBY', KEYS[6], 'ended:' .. (reason ~= '' and reason or ARGV[1]), 1)
end
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[9], '*',
  'type', event, 'session_id', ARGV[8], 'status', ARGV[1], 'reason', reason, 'at_ms', ARGV[3])
return {status, reason}
