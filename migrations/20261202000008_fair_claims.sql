-- Fair turns between accounts: when each account last had a job claimed, so that the
-- queue serves the account waiting longest instead of the oldest job (one account's
-- two hundred scenes do not hold everyone else's up).
CREATE TABLE job_turns (
    owner_id   uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    claimed_at timestamptz NOT NULL
);
