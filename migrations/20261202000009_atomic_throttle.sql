-- Throttling that counts each attempt atomically: the failure before the current one is
-- kept, so one statement both counts an attempt and tells whether it must wait.
ALTER TABLE login_failures ADD COLUMN previous_failed_at timestamptz;
