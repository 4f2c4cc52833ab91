//! Hourly clean-up of rows that only matter for a while: expired sessions, old failed
//! log-in counts, events of streams quiet for a week, and director calls a crash left
//! reserved. Any instance may run it;
//! every step is idempotent.

use sqlx::PgPool;
use std::time::Duration;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions_sqlx_store::PostgresStore;

const EVERY: Duration = Duration::from_secs(60 * 60);

pub async fn run(pool: PgPool, sessions: PostgresStore) {
    let mut interval = tokio::time::interval(EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(error) = sessions.delete_expired().await {
            tracing::warn!(%error, "could not delete expired sessions");
        }
        match sqlx::query!(
            "DELETE FROM login_failures WHERE last_failed_at < now() - interval '1 hour'"
        )
        .execute(&pool)
        .await
        {
            Ok(done) if done.rows_affected() > 0 => {
                tracing::info!(rows = done.rows_affected(), "forgot old failed log-ins")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not delete old failed log-ins"),
        }
        match app::events::prune(&pool, 7).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "pruned the events of quiet streams"),
            Err(error) => tracing::warn!(%error, "could not prune old events"),
        }
        match app::budget::ssr::settle_abandoned(&pool).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "settled director calls cut off by a crash"),
            Err(error) => tracing::warn!(%error, "could not settle abandoned director calls"),
        }
    }
}
