-- Voiceover: each scene has a line the project's voice speaks over it. The line is spoken
-- (and measured) when the scene's text is approved, before its clip is asked for, so
-- that the scene's length is fitted to the voice and no clip is paid for twice.

-- The project's voice, one of the speech provider's; NULL means the provider's first.
-- `voiceover = false` is "no voiceover".
ALTER TABLE projects
    ADD COLUMN voice text,
    ADD COLUMN voiceover boolean NOT NULL DEFAULT true;

ALTER TABLE scenes
    ADD COLUMN voiceover text NOT NULL DEFAULT '',
    ADD COLUMN voice_status text NOT NULL DEFAULT 'none'
        CHECK (voice_status IN ('none', 'queued', 'running', 'ready', 'failed')),
    ADD COLUMN voice_asset_id uuid REFERENCES assets (id) ON DELETE SET NULL,
    -- The spoken line's measured length.
    ADD COLUMN voice_ms integer CHECK (voice_ms > 0),
    -- Bumped by every change to the line or the voice: a voice job made for an older one
    -- is dropped. Apart from `generation`, so that a new line leaves the picture alone.
    ADD COLUMN voice_generation integer NOT NULL DEFAULT 0;

-- The lines a render speaks: [{"asset_id": …, "scene": index of the clip}], snapshotted
-- with the clips when the render is queued.
ALTER TABLE compositions ADD COLUMN voice_lines jsonb NOT NULL DEFAULT '[]';
