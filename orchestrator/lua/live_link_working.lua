-- Whether a live link still opens anything: its hash is there (neither expired nor revoked), the credential
-- that minted it still works (its key exists; a link minted before links were bound to one has none), and
-- its session is live. Used by the live-link scripts after the prelude (LIVE).
local function link_working(link_key, session_prefix)
  local fields = redis.call('HMGET', link_key, 'session_id', 'credential')
  local session_id, credential = fields[1], fields[2]
  if not session_id then return false end
  if credential and credential ~= '' and redis.call('EXISTS', credential) == 0 then return false end
  return LIVE[redis.call('HGET', session_prefix .. session_id, 'status')] == true
end
