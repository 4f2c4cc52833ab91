-- Whether a scene shows the user's product (its main photo guides the seed image), or is
-- a pure mood shot. The director decides per scene; the user can change it.
ALTER TABLE scenes ADD COLUMN shows_product boolean NOT NULL DEFAULT true;
