-- Spend limits: what every paid call was expected to cost when it was asked for (its
-- reservation), and what it cost once it ended. A month's spend is the settled actual
-- costs plus the open reservations, so concurrent work cannot pass a budget.

-- An account's own monthly budget in millionths of a US dollar; NULL: the default
-- (REELSMITH_MONTHLY_BUDGET_USD).
ALTER TABLE users ADD COLUMN monthly_budget_microusd bigint
    CHECK (monthly_budget_microusd >= 0);

-- A cap a user sets on one project, over its whole life; NULL: none.
ALTER TABLE projects ADD COLUMN budget_microusd bigint
    CHECK (budget_microusd >= 0);

CREATE TABLE spend (
    id                uuid PRIMARY KEY,
    owner_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Spend outlives its project: money spent this month stays spent.
    project_id        uuid REFERENCES projects (id) ON DELETE SET NULL,
    project_name      text NOT NULL,
    -- The job the reservation was made for; NULL for a call made while the user waits
    -- (a chat reply, a plan).
    job_id            uuid UNIQUE,
    -- What was bought, in the product's words: image, clip, music, director.
    item              text NOT NULL,
    provider          text NOT NULL,
    model             text NOT NULL,
    estimate_microusd bigint NOT NULL CHECK (estimate_microusd >= 0),
    -- NULL while the work runs (the estimate counts); the real cost once it ended.
    actual_microusd   bigint CHECK (actual_microusd >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    settled_at        timestamptz,
    CHECK ((settled_at IS NULL) = (actual_microusd IS NULL))
);

CREATE INDEX spend_owner_month ON spend (owner_id, created_at);
CREATE INDEX spend_project ON spend (project_id);
