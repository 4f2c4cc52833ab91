-- A job handed back at shutdown does not count the attempt (attempts goes back down), so
-- the next worker could not tell from `attempts` that someone ran it before. It may have
-- been dropped while creating a prediction whose id was never saved: `handed_over` tells
-- the next worker to look for that prediction before paying for another.
ALTER TABLE jobs ADD COLUMN handed_over boolean NOT NULL DEFAULT false;
