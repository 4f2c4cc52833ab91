//! The spend ledger: reservations made in the transaction that asks for paid work,
//! settled to the real cost when the work ends, and the budgets checked against them.
//!
//! Lock order: a reservation locks the account's row last, after whatever the action
//! locked (project, storyboard, scenes), and settling takes no lock but the spend row's,
//! so every path takes locks in one order.

use super::{Line, MonthSpend, ProjectSpend, Standing};
use crate::{
    error::AppError,
    generation::{
        llm::measured,
        pricing::{Estimate, Pricing},
    },
};
use sqlx::{PgConnection, PgPool};
use std::future::Future;
use uuid::Uuid;

/// What spending needs to know: the configured models' prices and the default budget.
#[derive(Clone, Debug)]
pub struct Spending {
    pub pricing: Pricing,
    /// An account's monthly budget unless it has its own (`reelsmith accounts set-budget`).
    pub monthly_budget_microusd: i64,
    /// Paid calls an account may ask for in any minute (`REELSMITH_PAID_CALLS_PER_MINUTE`):
    /// a burst limit under the budget, so a script cannot spend a month's budget at once.
    pub paid_calls_per_minute: i64,
}

/// The default of [`Spending::paid_calls_per_minute`]: a storyboard's every image and clip
/// and a mood round fit several times over.
pub const PAID_CALLS_PER_MINUTE: i64 = 60;

impl Spending {
    /// Everything free (the offline preview), with `monthly_budget_microusd` as budget.
    pub fn offline(monthly_budget_microusd: i64) -> Self {
        Self {
            pricing: Pricing::offline(),
            monthly_budget_microusd,
            paid_calls_per_minute: PAID_CALLS_PER_MINUTE,
        }
    }

    pub fn tab(&self, owner: Uuid, project: Option<Uuid>) -> Tab {
        Tab {
            owner,
            project,
            default_budget: self.monthly_budget_microusd,
            per_minute: self.paid_calls_per_minute,
            items: Vec::new(),
        }
    }
}

/// What one user action is about to spend: the estimates of the paid calls it asks for,
/// reserved together, at the end of the action's transaction, by [`Tab::reserve`].
#[must_use = "a tab that is not reserved lets work run unpaid for"]
pub struct Tab {
    owner: Uuid,
    project: Option<Uuid>,
    default_budget: i64,
    per_minute: i64,
    /// The job each estimate is for (none for a call made while the user waits).
    items: Vec<(Option<Uuid>, Estimate)>,
}

impl Tab {
    pub fn add(&mut self, job: Option<Uuid>, estimate: Estimate) {
        self.items.push((job, estimate));
    }

    pub fn total(&self) -> i64 {
        self.items.iter().map(|(_, e)| e.microusd).sum()
    }

    /// Reserves every estimate on the tab, or refuses with what was spent, what is
    /// reserved, what is left and what this would cost, when the account's month or the
    /// project's cap would be passed (the caller's transaction then rolls back, so nothing
    /// changes). Returns the reservations' ids, in the order they were added.
    pub async fn reserve(self, tx: &mut PgConnection) -> Result<Vec<Uuid>, AppError> {
        let cost = self.total();
        if cost == 0 {
            // Free work (the offline preview) is not recorded and never refused.
            return Ok(Vec::new());
        }
        // One reservation at a time per account: the row lock makes concurrent actions
        // take turns, each seeing what the ones before it reserved. NO KEY UPDATE, not
        // UPDATE: the action's own inserts hold key-share locks on this row (foreign
        // keys to the account), which a plain UPDATE lock would deadlock against.
        let budget = sqlx::query_scalar!(
            "SELECT COALESCE(monthly_budget_microusd, $2) AS \"budget!\" FROM users WHERE id = $1 FOR NO KEY UPDATE",
            self.owner,
            self.default_budget
        )
        .fetch_one(&mut *tx)
        .await?;
        self.check_rate(&mut *tx).await?;
        let month = month_total(&mut *tx, self.owner).await?;
        if month.spent + month.reserved + cost > budget {
            return Err(AppError::OverBudget(format!(
                "This would cost {}, more than is left of your monthly budget: {} of {} left \
                 ({} spent, {} reserved for work under way). Wait for running work to end, \
                 or ask the operator for a larger budget.",
                super::estimate_label(cost),
                super::dollars((budget - month.spent - month.reserved).max(0)),
                super::dollars(budget),
                super::dollars(month.spent),
                super::dollars(month.reserved),
            )));
        }
        let mut project_name = String::new();
        if let Some(project) = self.project {
            let row = sqlx::query!(
                "SELECT name, budget_microusd FROM projects WHERE id = $1",
                project
            )
            .fetch_one(&mut *tx)
            .await?;
            project_name = row.name;
            if let Some(cap) = row.budget_microusd {
                let total = project_total(&mut *tx, project).await?;
                if total.spent + total.reserved + cost > cap {
                    return Err(AppError::OverBudget(format!(
                        "This would cost {}, more than is left of this project's cap: {} of {} \
                         left ({} spent, {} reserved). Raise the cap on your account page.",
                        super::estimate_label(cost),
                        super::dollars((cap - total.spent - total.reserved).max(0)),
                        super::dollars(cap),
                        super::dollars(total.spent),
                        super::dollars(total.reserved),
                    )));
                }
            }
        }
        let mut ids = Vec::with_capacity(self.items.len());
        for (job, estimate) in &self.items {
            let id = Uuid::new_v4();
            sqlx::query!(
                "INSERT INTO spend (id, owner_id, project_id, project_name, job_id, item, provider,
                                    model, estimate_microusd)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                id,
                self.owner,
                self.project,
                project_name,
                *job,
                estimate.item,
                estimate.provider,
                estimate.model,
                estimate.microusd
            )
            .execute(&mut *tx)
            .await?;
            ids.push(id);
        }
        Ok(ids)
    }
}

impl Tab {
    /// Refuses with a 429 (and when to try again) an action that would pass the account's
    /// paid calls per minute. Runs under the account's row lock, so concurrent actions
    /// count each other.
    async fn check_rate(&self, tx: &mut PgConnection) -> Result<(), AppError> {
        let calls = self.items.iter().filter(|(_, e)| e.microusd > 0).count() as i64;
        // Free work (the offline provider) is never throttled, nor counted.
        if calls == 0 {
            return Ok(());
        }
        let recent = sqlx::query!(
            "SELECT COUNT(*) AS \"count!\",
                    CEIL(EXTRACT(EPOCH FROM MIN(created_at) + interval '1 minute' - now()))::bigint AS wait
             FROM spend
             WHERE owner_id = $1 AND estimate_microusd > 0 AND created_at > now() - interval '1 minute'",
            self.owner
        )
        .fetch_one(&mut *tx)
        .await?;
        if recent.count + calls <= self.per_minute {
            return Ok(());
        }
        let wait = recent.wait.unwrap_or(60).clamp(1, 60) as u64;
        Err(AppError::Throttled {
            message: format!(
                "This asks for {calls} paid generations, and {} were asked for in the last \
                 minute; an account may ask for {} a minute. Try again in {wait} seconds.",
                recent.count, self.per_minute
            ),
            retry_after_secs: wait,
        })
    }
}

struct Totals {
    spent: i64,
    reserved: i64,
}

/// The account's monthly budget: its own, or the default.
async fn monthly_budget(
    conn: &mut PgConnection,
    spending: &Spending,
    owner: Uuid,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "SELECT COALESCE(monthly_budget_microusd, $2) AS \"budget!\" FROM users WHERE id = $1",
        owner,
        spending.monthly_budget_microusd
    )
    .fetch_one(&mut *conn)
    .await
}

/// This month's (UTC) settled spend and open reservations of an account.
async fn month_total(conn: &mut PgConnection, owner: Uuid) -> sqlx::Result<Totals> {
    let row = sqlx::query!(
        "SELECT COALESCE(SUM(actual_microusd), 0)::bigint AS \"spent!\",
                COALESCE(SUM(estimate_microusd) FILTER (WHERE settled_at IS NULL), 0)::bigint AS \"reserved!\"
         FROM spend
         WHERE owner_id = $1
           AND created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
        owner
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Totals {
        spent: row.spent,
        reserved: row.reserved,
    })
}

async fn project_total(conn: &mut PgConnection, project: Uuid) -> sqlx::Result<Totals> {
    let row = sqlx::query!(
        "SELECT COALESCE(SUM(actual_microusd), 0)::bigint AS \"spent!\",
                COALESCE(SUM(estimate_microusd) FILTER (WHERE settled_at IS NULL), 0)::bigint AS \"reserved!\"
         FROM spend WHERE project_id = $1",
        project
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Totals {
        spent: row.spent,
        reserved: row.reserved,
    })
}

/// The project's spend and reservations, and what is left before a budget refuses work.
pub async fn standing(
    pool: &PgPool,
    spending: &Spending,
    owner: Uuid,
    project: Uuid,
) -> sqlx::Result<Standing> {
    let mut conn = pool.acquire().await?;
    let budget = monthly_budget(&mut conn, spending, owner).await?;
    let month = month_total(&mut conn, owner).await?;
    let total = project_total(&mut conn, project).await?;
    let cap = sqlx::query_scalar!(
        "SELECT budget_microusd FROM projects WHERE id = $1",
        project
    )
    .fetch_optional(&mut *conn)
    .await?
    .flatten();
    let mut left = budget - month.spent - month.reserved;
    if let Some(cap) = cap {
        left = left.min(cap - total.spent - total.reserved);
    }
    Ok(Standing {
        spent_microusd: total.spent,
        reserved_microusd: total.reserved,
        left_microusd: left.max(0),
    })
}

/// The project's settled spend and open reservations, inside any transaction (for the
/// live figures its events carry).
pub async fn project_spend(conn: &mut PgConnection, project: Uuid) -> sqlx::Result<(i64, i64)> {
    let total = project_total(conn, project).await?;
    Ok((total.spent, total.reserved))
}

/// Settles a job's reservation to what the job really cost, inside the transaction that
/// records the job's end.
pub async fn settle_job(tx: &mut PgConnection, job: Uuid, actual: i64) -> sqlx::Result<()> {
    let actual = actual.max(0);
    let settled = sqlx::query!(
        "UPDATE spend SET actual_microusd = $2, settled_at = now()
         WHERE job_id = $1 AND settled_at IS NULL RETURNING provider, model",
        job,
        actual
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(paid) = &settled {
        count_spent(&paid.provider, &paid.model, actual);
    } else if actual > 0 {
        // Work that cost money without a reservation (queued as free by an instance
        // configured without the provider this worker used): the money was spent all the
        // same, so it is recorded.
        sqlx::query!(
            "INSERT INTO spend (id, owner_id, project_id, project_name, job_id, item, provider, model,
                                estimate_microusd, actual_microusd, settled_at)
             SELECT $2, p.owner_id, p.id, p.name, j.id, j.kind, 'unreserved', 'unknown', 0, $3, now()
             FROM jobs j JOIN projects p ON p.id = j.project_id
             WHERE j.id = $1
             ON CONFLICT (job_id) DO NOTHING",
            job,
            Uuid::new_v4(),
            actual
        )
        .execute(&mut *tx)
        .await?;
        count_spent("unreserved", "unknown", actual);
    }
    Ok(())
}

/// Money spent, for `/metrics`: `reelsmith_spent_microusd_total{provider,model}`, counted
/// as each reservation is settled. The spend table is the ledger; this shows the rate at
/// which each provider is paid (a transaction that fails after settling counts once too
/// many, which a rate can bear). Providers and models come from the operator's
/// configuration, so the series are few.
fn count_spent(provider: &str, model: &str, microusd: i64) {
    if microusd > 0 {
        metrics::counter!(
            "reelsmith_spent_microusd_total",
            "provider" => provider.to_string(),
            "model" => model.to_string()
        )
        .increment(microusd.unsigned_abs());
    }
}

/// Settles the reservations of jobs cancelled before they ran (nothing was paid) and of
/// jobs stopped while running (their provider may have billed the time: the estimate
/// counts, to be safe).
pub async fn settle_cancelled(
    tx: &mut PgConnection,
    stopped_while_running: &[Uuid],
    cancelled_queued: &[Uuid],
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE spend SET actual_microusd = CASE WHEN job_id = ANY($1) THEN estimate_microusd ELSE 0 END,
                          settled_at = now()
         WHERE (job_id = ANY($1) OR job_id = ANY($2)) AND settled_at IS NULL",
        stopped_while_running,
        cancelled_queued
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Runs a director call the user waits for (a chat reply, directions, a plan) against the
/// budgets: reserved before, settled after to the tokens the model reported using (at
/// the estimate when it answered without saying, at nothing when it failed before).
pub async fn metered<T, Fut>(
    pool: &PgPool,
    spending: &Spending,
    owner: Uuid,
    project: Uuid,
    estimate: Estimate,
    call: Fut,
) -> Result<T, AppError>
where
    Fut: Future<Output = Result<T, AppError>>,
{
    let cost = estimate.microusd;
    let mut tab = spending.tab(owner, Some(project));
    tab.add(None, estimate);
    let mut tx = pool.begin().await?;
    let ids = tab.reserve(&mut tx).await?;
    tx.commit().await?;
    let (result, usage) = measured(call).await;
    let actual = spending.pricing.director_used(usage, result.is_ok(), cost);
    for id in ids {
        settle(pool, id, actual).await?;
    }
    result
}

/// Settles a reservation made for a call the user waited for (see [`Tab::reserve`]).
pub async fn settle(pool: &PgPool, reservation: Uuid, actual: i64) -> sqlx::Result<()> {
    let actual = actual.max(0);
    let settled = sqlx::query!(
        "UPDATE spend SET actual_microusd = $2, settled_at = now()
         WHERE id = $1 AND settled_at IS NULL RETURNING provider, model",
        reservation,
        actual
    )
    .fetch_optional(pool)
    .await?;
    if let Some(paid) = settled {
        count_spent(&paid.provider, &paid.model, actual);
    }
    Ok(())
}

/// Refuses, before anything is asked of a provider, an action whose whole cost would pass
/// a budget as it stands (the reservations made on the way hold the budget exactly; this
/// spares a first paid step when the rest could not follow).
pub async fn check(
    pool: &PgPool,
    spending: &Spending,
    owner: Uuid,
    project: Uuid,
    cost: i64,
) -> Result<(), AppError> {
    if cost == 0 {
        return Ok(());
    }
    let standing = standing(pool, spending, owner, project).await?;
    if cost > standing.left_microusd {
        return Err(AppError::OverBudget(format!(
            "This would cost {}, and {} is left before a budget is reached ({} spent on this \
             project, {} reserved). Raise the project's cap on your account page, or ask the \
             operator for a larger monthly budget.",
            super::estimate_label(cost),
            super::dollars(standing.left_microusd),
            super::dollars(standing.spent_microusd),
            super::dollars(standing.reserved_microusd),
        )));
    }
    Ok(())
}

/// Settles what a project still has reserved, before it is deleted: work that was running
/// at its estimate (the provider may have billed it), queued work at nothing.
pub async fn close_project(tx: &mut PgConnection, owner: Uuid, project: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE spend s
         SET actual_microusd = CASE WHEN EXISTS (SELECT 1 FROM jobs j WHERE j.id = s.job_id AND j.status = 'queued')
                                    THEN 0 ELSE s.estimate_microusd END,
             settled_at = now()
         WHERE s.project_id = $1 AND s.owner_id = $2 AND s.settled_at IS NULL",
        project,
        owner
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Director calls still reserved after ten minutes were cut off by a crash: they count
/// at their estimate (the model may have answered).
pub async fn settle_abandoned(pool: &PgPool) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "UPDATE spend SET actual_microusd = estimate_microusd, settled_at = now()
         WHERE job_id IS NULL AND settled_at IS NULL AND created_at < now() - interval '10 minutes'"
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Sets an account's own monthly budget (None: back to the default); false when no
/// account has that email.
pub async fn set_monthly_budget(
    pool: &PgPool,
    email: &str,
    microusd: Option<i64>,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE users SET monthly_budget_microusd = $2 WHERE email = lower(btrim($1))",
        email,
        microusd
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets a project's cap (None: no cap).
pub async fn set_project_cap(
    pool: &PgPool,
    owner: Uuid,
    project: Uuid,
    microusd: Option<i64>,
) -> Result<(), AppError> {
    let done = sqlx::query!(
        "UPDATE projects SET budget_microusd = $3 WHERE id = $1 AND owner_id = $2",
        project,
        owner,
        microusd
    )
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("Project"));
    }
    Ok(())
}

/// This month's spend of an account, by project, provider and day.
pub async fn month_spend(
    pool: &PgPool,
    spending: &Spending,
    owner: Uuid,
) -> sqlx::Result<MonthSpend> {
    let mut conn = pool.acquire().await?;
    let budget = monthly_budget(&mut conn, spending, owner).await?;
    let month = month_total(&mut conn, owner).await?;
    let name = sqlx::query_scalar!(
        "SELECT to_char(now() AT TIME ZONE 'UTC', 'FMMonth YYYY') AS \"name!\""
    )
    .fetch_one(&mut *conn)
    .await?;
    // Every project of the account (with or without spend this month, so that a cap can
    // be set before spending), and deleted ones that spent this month.
    let projects = sqlx::query!(
        "SELECT p.id AS \"id?\", p.name AS \"name!\", p.budget_microusd AS cap,
                COALESCE((SELECT SUM(COALESCE(s.actual_microusd, s.estimate_microusd)) FROM spend s
                          WHERE s.project_id = p.id
                            AND s.created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'), 0)::bigint AS \"month!\",
                COALESCE((SELECT SUM(COALESCE(s.actual_microusd, s.estimate_microusd)) FROM spend s
                          WHERE s.project_id = p.id), 0)::bigint AS \"total!\"
         FROM projects p WHERE p.owner_id = $1
         UNION ALL
         SELECT NULL, project_name || ' (deleted)', NULL,
                SUM(COALESCE(actual_microusd, estimate_microusd))::bigint, 0
         FROM spend
         WHERE owner_id = $1 AND project_id IS NULL
           AND created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
         GROUP BY project_name
         ORDER BY 4 DESC, 2",
        owner
    )
    .fetch_all(&mut *conn)
    .await?;
    let providers = sqlx::query!(
        "SELECT provider AS \"label!\", SUM(COALESCE(actual_microusd, estimate_microusd))::bigint AS \"microusd!\"
         FROM spend
         WHERE owner_id = $1
           AND created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
         GROUP BY provider ORDER BY 2 DESC",
        owner
    )
    .fetch_all(&mut *conn)
    .await?;
    let days = sqlx::query!(
        "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS \"label!\",
                SUM(COALESCE(actual_microusd, estimate_microusd))::bigint AS \"microusd!\"
         FROM spend
         WHERE owner_id = $1
           AND created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
         GROUP BY 1 ORDER BY 1",
        owner
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(MonthSpend {
        month: name,
        budget_microusd: budget,
        spent_microusd: month.spent,
        reserved_microusd: month.reserved,
        projects: projects
            .into_iter()
            .map(|row| ProjectSpend {
                id: row.id,
                name: row.name,
                month_microusd: row.month,
                total_microusd: row.total,
                cap_microusd: row.cap,
            })
            .collect(),
        providers: providers
            .into_iter()
            .map(|row| Line {
                label: row.label,
                microusd: row.microusd,
            })
            .collect(),
        days: days
            .into_iter()
            .map(|row| Line {
                label: row.label,
                microusd: row.microusd,
            })
            .collect(),
        offline: !spending.pricing.for_pages().paid(),
    })
}
