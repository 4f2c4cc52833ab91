-- Brand kits: one per account, reusable across its projects, and optionally one of a
-- project's own that replaces the account's for that project. The logo and an uploaded
-- font are assets of the account (no project), shared by the kits that use them.
ALTER TABLE assets ALTER COLUMN project_id DROP NOT NULL;
ALTER TABLE assets DROP CONSTRAINT assets_kind_check;
ALTER TABLE assets ADD CONSTRAINT assets_kind_check
    CHECK (kind IN ('image', 'video', 'audio', 'render', 'photo', 'logo', 'font'));

CREATE TABLE brand_kits (
    id             uuid PRIMARY KEY,
    owner_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- NULL: the account's kit; else the project's own.
    project_id     uuid REFERENCES projects (id) ON DELETE CASCADE,
    -- `#rrggbb`, the first the main brand colour (the end card's background).
    colors         text[] NOT NULL CHECK (cardinality(colors) BETWEEN 1 AND 5),
    logo_asset_id  uuid REFERENCES assets (id) ON DELETE SET NULL,
    logo_corner    text NOT NULL DEFAULT 'top_right'
                   CHECK (logo_corner IN ('top_left', 'top_right', 'bottom_left', 'bottom_right')),
    -- The logo's width as a share of the frame's shorter side.
    logo_size      real NOT NULL DEFAULT 0.16 CHECK (logo_size BETWEEN 0.08 AND 0.3),
    -- One of the bundled fonts, used unless an uploaded font is set.
    bundled_font   text NOT NULL DEFAULT 'sans',
    font_asset_id  uuid REFERENCES assets (id) ON DELETE SET NULL,
    -- The uploaded font's family name, as its name table gives it.
    font_name      text,
    -- Draw with the uploaded font (when there is one) rather than the bundled one.
    use_uploaded_font boolean NOT NULL DEFAULT true,
    -- The website or social handle shown on the end card.
    handle         text NOT NULL DEFAULT '' CHECK (length(handle) <= 60),
    end_card       boolean NOT NULL DEFAULT true,
    end_card_secs  real NOT NULL DEFAULT 2 CHECK (end_card_secs BETWEEN 1.5 AND 3),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX brand_kits_account ON brand_kits (owner_id) WHERE project_id IS NULL;
CREATE UNIQUE INDEX brand_kits_project ON brand_kits (project_id) WHERE project_id IS NOT NULL;

-- What a render drew its brand from: the kit as it was when the render was asked for, so
-- that editing the kit mid-render changes nothing and each version can be told apart.
ALTER TABLE compositions ADD COLUMN brand jsonb;
