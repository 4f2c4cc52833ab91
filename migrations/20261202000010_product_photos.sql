-- The user's own product: up to five photos per project, one of them the main photo
-- that scene images are made from, each with an optional cut-out (background removed).
ALTER TABLE assets DROP CONSTRAINT assets_kind_check;
ALTER TABLE assets ADD CONSTRAINT assets_kind_check
    CHECK (kind IN ('image', 'video', 'audio', 'render', 'photo'));

CREATE TABLE product_photos (
    asset_id        uuid PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    cutout_asset_id uuid REFERENCES assets (id) ON DELETE SET NULL,
    -- The uploaded file's name, shown to tell photos apart.
    file_name       text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 120),
    main            boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX product_photos_one_main ON product_photos (project_id) WHERE main;
CREATE INDEX product_photos_project ON product_photos (project_id, created_at);
