-- How well a scene's image or clip preserves the user's product: a score from 0 to 1
-- (the share of the product photo matched, or a vision model's judgement), what it found,
-- and whether it fell below the drift threshold when it was made.
ALTER TABLE assets ADD COLUMN product_match real CHECK (product_match BETWEEN 0 AND 1);
ALTER TABLE assets ADD COLUMN product_match_note text;
ALTER TABLE assets ADD COLUMN product_drift boolean NOT NULL DEFAULT false;
