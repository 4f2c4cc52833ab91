-- The pieces of a final video the smart render made (crossfades, spans with titles over
-- them, the end card, the sound), named by the hash of what went into them (see
-- app/src/render/smart/pieces.rs): made in the background once every scene is
-- approved, or by a render, and fetched by the next render that needs the same piece.
-- `used_at` is when a render last made or fetched it: after a render, the project's
-- pieces it did not use are deleted.
CREATE TABLE render_pieces (
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key         text NOT NULL,
    asset_id    uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    frames      integer NOT NULL CHECK (frames >= 0),
    used_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, key)
);
