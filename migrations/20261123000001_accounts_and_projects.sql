-- Accounts, login throttling and projects: the walking skeleton's tables.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    -- Stored normalised (trimmed, lower-cased) by the application.
    email         text NOT NULL UNIQUE CHECK (email = lower(btrim(email)) AND length(email) BETWEEN 3 AND 254),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Failed log-ins per account ("email:<address>") and per client ("ip:<address>"),
-- shared by every server instance so that throttling holds behind a load balancer.
CREATE TABLE login_failures (
    key            text PRIMARY KEY,
    failures       integer NOT NULL,
    last_failed_at timestamptz NOT NULL
);

CREATE TABLE projects (
    id         uuid PRIMARY KEY,
    owner_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 120),
    format     text NOT NULL DEFAULT '9:16' CHECK (format IN ('9:16', '16:9', '1:1')),
    -- The furthest wizard step reached: 1 vision & brief, 2 mood, 3 storyboard, 4 final video.
    step       smallint NOT NULL DEFAULT 1 CHECK (step BETWEEN 1 AND 4),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX projects_owner_recent ON projects (owner_id, updated_at DESC);
