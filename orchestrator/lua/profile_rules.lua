-- Who holds a profile's lease: the rule every profile script shares (see orchestrator/profiles.py).
-- Uses the generated locals LIVE, CLOSING and SAVED_ENDS (the end reasons after which a session saves).
--
-- The lease key names a session. That session holds the lease while it is live or closing, and after it
-- ended gracefully until its final save is done (its `profile_save` leaves `pending`), for at most
-- `grace_ms`; a session that ended any other way (crash, lost worker), or whose record is gone, holds nothing.
local function lease_holder(lease_key, session_prefix, now, grace_ms)
  local holder = redis.call('GET', lease_key)
  if not holder then return nil end
  local f = redis.call('HMGET', session_prefix .. holder, 'status', 'ended_at_ms', 'end_reason', 'profile_save')
  local status = f[1]
  if not status then return nil end
  if LIVE[status] or status == CLOSING then return holder end
  if f[4] == 'pending' and SAVED_ENDS[f[3] or ''] and now - tonumber(f[2] or '0') < grace_ms then
    return holder
  end
  return nil
end

-- Make an empty profile's metadata, unless the owner is at their profile limit. Returns false when refused.
local function make_profile(meta, index, stats, name, now, limit)
  if redis.call('ZCARD', index) >= limit then return false end
  redis.call('HSET', meta, 'name', name, 'size_bytes', 0, 'raw_bytes', 0, 'cookies', 0, 'origins', 0,
    'created_at_ms', now, 'updated_at_ms', now)
  redis.call('ZADD', index, now, name)
  redis.call('HINCRBY', stats, 'profiles', 1)
  return true
end
