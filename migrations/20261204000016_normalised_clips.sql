-- Each approved clip in the output's frame, encoded for the smart render (see
-- app/src/render/smart): made in the background when the clip is approved, found again
-- by every render of that clip in that format with those encoder settings.
CREATE TABLE normalised_clips (
    clip_asset_id  uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    format         text NOT NULL,
    settings       text NOT NULL,
    asset_id       uuid NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    frames         integer NOT NULL CHECK (frames > 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (clip_asset_id, format, settings)
);
