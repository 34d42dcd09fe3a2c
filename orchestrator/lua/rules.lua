-- The deadline rules, written once: every script starts with this file (see orchestrator/scripts.py),
-- after the generated locals LIVE, INITIAL, REASON_TIMEOUT and REASON_IDLE.

-- The moment a session ends unless something moves it: its hard deadline or its idle limit, the earlier.
local function deadline(expires_at, last_activity, idle_timeout_s)
  return math.min(expires_at, last_activity + idle_timeout_s * 1000)
end

-- Why a session is due to end at `now` (its hard deadline before its idle limit), or nil when it is not.
local function due_reason(expires_at, last_activity, idle_timeout_s, now)
  if expires_at <= now then return REASON_TIMEOUT end
  if last_activity + idle_timeout_s * 1000 <= now then return REASON_IDLE end
  return nil
end
