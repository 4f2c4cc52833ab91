-- Every stored object: what it is, where it is, and what it cost to make.
CREATE TABLE assets (
    id             uuid PRIMARY KEY,
    owner_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id     uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('image', 'video', 'audio', 'render')),
    storage_key    text NOT NULL UNIQUE,
    mime           text NOT NULL,
    bytes          bigint NOT NULL CHECK (bytes >= 0),
    width          integer CHECK (width > 0),
    height         integer CHECK (height > 0),
    duration_ms    integer CHECK (duration_ms >= 0),
    provider       text NOT NULL,
    prediction_id  text,
    prompt         text,
    -- Estimated cost in millionths of a US dollar.
    cost_microusd  bigint NOT NULL DEFAULT 0 CHECK (cost_microusd >= 0),
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX assets_project ON assets (project_id, created_at);
