-- The wizard's state (chat, brief, moods, storyboard and scenes), durable jobs, and the
-- events that drive live updates.

CREATE TABLE chat_messages (
    id         bigserial PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('user', 'assistant')),
    content    text NOT NULL CHECK (length(content) BETWEEN 1 AND 8000),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_project ON chat_messages (project_id, id);

-- The brief as JSON (see creative::Brief); edited_by_hand stops the chat from overwriting it.
ALTER TABLE projects
    ADD COLUMN brief                jsonb,
    ADD COLUMN brief_edited_by_hand boolean NOT NULL DEFAULT false;

CREATE TABLE moods (
    id              uuid PRIMARY KEY,
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    position        smallint NOT NULL CHECK (position BETWEEN 0 AND 2),
    mood            jsonb NOT NULL,
    image_asset_ids uuid[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, position)
);

ALTER TABLE projects ADD COLUMN chosen_mood_id uuid REFERENCES moods (id) ON DELETE SET NULL;

CREATE TABLE storyboards (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL UNIQUE REFERENCES projects (id) ON DELETE CASCADE,
    owner_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The chosen mood as it was when the storyboard was planned.
    mood        jsonb NOT NULL,
    target_secs integer NOT NULL CHECK (target_secs BETWEEN 15 AND 70),
    -- The newest event's sequence number; bumping it under the row lock orders events.
    last_seq    bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE scenes (
    id             uuid PRIMARY KEY,
    storyboard_id  uuid NOT NULL REFERENCES storyboards (id) ON DELETE CASCADE,
    position       smallint NOT NULL CHECK (position >= 0),
    role           text NOT NULL CHECK (role IN ('hook', 'intro', 'feature', 'call_to_action')),
    text           text NOT NULL CHECK (length(btrim(text)) BETWEEN 1 AND 400),
    visual         text NOT NULL,
    duration_secs  integer NOT NULL CHECK (duration_secs BETWEEN 3 AND 10),
    text_approved  boolean NOT NULL DEFAULT false,
    image_status   text NOT NULL DEFAULT 'none'
                   CHECK (image_status IN ('none', 'queued', 'running', 'ready', 'failed')),
    image_asset_id uuid REFERENCES assets (id) ON DELETE SET NULL,
    image_approved boolean NOT NULL DEFAULT false,
    video_status   text NOT NULL DEFAULT 'none'
                   CHECK (video_status IN ('none', 'queued', 'running', 'ready', 'failed')),
    video_asset_id uuid REFERENCES assets (id) ON DELETE SET NULL,
    video_approved boolean NOT NULL DEFAULT false,
    error          text,
    -- Bumped by every change that makes running work obsolete; a job carries the value it
    -- was made for and its result is dropped when they differ.
    generation     integer NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (storyboard_id, position) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE storyboard_events (
    storyboard_id uuid NOT NULL REFERENCES storyboards (id) ON DELETE CASCADE,
    seq           bigint NOT NULL,
    kind          text NOT NULL,
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (storyboard_id, seq)
);

CREATE TABLE jobs (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    run_at          timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL DEFAULT 5,
    locked_by       text,
    lease_until     timestamptz,
    last_error      text,
    -- The provider's prediction, saved before waiting on it: a retry resumes it.
    prediction_id   text,
    idempotency_key text UNIQUE,
    project_id      uuid REFERENCES projects (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_claimable ON jobs (run_at) WHERE status IN ('queued', 'running');
