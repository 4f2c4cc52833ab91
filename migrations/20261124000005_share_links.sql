-- Public links to renders, and the still shown before a render plays (and in link previews).

ALTER TABLE compositions ADD COLUMN poster_asset_id uuid REFERENCES assets (id) ON DELETE SET NULL;

CREATE TABLE share_links (
    -- 128 random bits, base64url: the link's only secret.
    token          text PRIMARY KEY CHECK (length(token) >= 22),
    composition_id uuid NOT NULL REFERENCES compositions (id) ON DELETE CASCADE,
    owner_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    views          bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);
CREATE INDEX share_links_composition ON share_links (composition_id) WHERE revoked_at IS NULL;
