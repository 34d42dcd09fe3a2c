-- A user's live sessions, newest first, in one round trip.
-- Uses the prelude every script starts with (orchestrator/scripts.py): LIVE.
--
-- KEYS[1] the user's live-session index (sorted set scored by creation time)
-- ARGV[1] session hash key prefix (the hash key is this followed by the session id)
-- ARGV[2..] the hash fields to return, in order; 'status' must be among them
--
-- Returns one array of field values per live session.

local fields = {}
local status_at = nil
for i = 2, #ARGV do
  fields[#fields + 1] = ARGV[i]
  if ARGV[i] == 'status' then status_at = #fields end
end

local out = {}
local ids = redis.call('ZREVRANGE', KEYS[1], 0, -1)
for _, id in ipairs(ids) do
  local values = redis.call('HMGET', ARGV[1] .. id, unpack(fields))
  local status = values[status_at]
  if LIVE[status] then
    out[#out + 1] = values
  end
end
return out
