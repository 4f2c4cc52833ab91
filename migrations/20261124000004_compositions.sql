-- The final step: the soundtrack made for a project, its renders (each a version, kept),
-- and the events that report a render's progress.

CREATE TABLE soundtracks (
    project_id uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    asset_id   uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    prompt     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE compositions (
    id           uuid PRIMARY KEY,
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    owner_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    version      integer NOT NULL,
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    -- 0–100, as FFmpeg reports it.
    percent      real NOT NULL DEFAULT 0 CHECK (percent BETWEEN 0 AND 100),
    stage        text NOT NULL DEFAULT 'Waiting to start',
    -- What it was made from: the approved clips' assets in order, the titles, the music.
    clip_asset_ids uuid[] NOT NULL,
    title        text,
    call_to_action text,
    music_asset_id uuid REFERENCES assets (id) ON DELETE SET NULL,
    music_volume real NOT NULL DEFAULT 0.3 CHECK (music_volume BETWEEN 0 AND 1),
    asset_id     uuid REFERENCES assets (id) ON DELETE SET NULL,
    duration_ms  integer,
    error        text,
    last_seq     bigint NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    UNIQUE (project_id, version)
);
CREATE INDEX compositions_project ON compositions (project_id, version DESC);

CREATE TABLE composition_events (
    composition_id uuid NOT NULL REFERENCES compositions (id) ON DELETE CASCADE,
    seq            bigint NOT NULL,
    kind           text NOT NULL,
    payload        jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (composition_id, seq)
);
