//! Server functions of spending: a project's prices and standing (for the estimates on
//! its buttons), the account's month, and a project's cap.

use super::{MonthSpend, Prices, Standing};
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::{error::parse_id, state::signed_in};

/// What a project's pages need to show what an action will cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectBudget {
    pub prices: Prices,
    pub standing: Standing,
}

#[server(endpoint = "budget/project")]
pub async fn get_project_budget(project: String) -> Result<ProjectBudget, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        let state = &me.state;
        let mut conn = state.pool.acquire().await?;
        crate::projects::ssr::project_facts(&mut conn, me.owner, project).await?;
        drop(conn);
        Ok(ProjectBudget {
            prices: state.spending.pricing.for_pages(),
            standing: super::ssr::standing(&state.pool, &state.spending, me.owner, project).await?,
        })
    })
    .await
}

#[server(endpoint = "budget/month")]
pub async fn get_month_spend() -> Result<MonthSpend, AppError> {
    signed_in(|me| async move {
        Ok(super::ssr::month_spend(&me.state.pool, &me.state.spending, me.owner).await?)
    })
    .await
}

/// Sets a project's cap in US dollars; an empty `dollars` removes it.
#[server(endpoint = "budget/set_cap")]
pub async fn set_project_cap(project: String, dollars: String) -> Result<(), AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        let cap = match dollars.trim() {
            "" => None,
            text => Some(super::parse_dollars(text).ok_or_else(|| {
                AppError::invalid(
                    "A project's cap is an amount of US dollars, such as 5 or 12.50 (at most $1,000,000).",
                )
            })?),
        };
        super::ssr::set_project_cap(&me.state.pool, me.owner, project, cap).await
    })
    .await
}
