//! Who watches the live streams: caps on open streams per account and per instance (a
//! 429 with `Retry-After` past them), and the end of a stream whose session was logged
//! out (or expired) or whose project is no longer the viewer's.

use crate::error::AppError;
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use uuid::Uuid;

/// How often an open stream checks that its viewer may still see it.
pub const RECHECK: Duration = Duration::from_secs(5);
/// What a refused client is told to wait before trying again.
const RETRY_AFTER_SECS: u64 = 10;

/// The open streams of this instance.
#[derive(Clone)]
pub struct Viewers {
    inner: Arc<Inner>,
}

struct Inner {
    per_account: usize,
    total: usize,
    open: Mutex<HashMap<Uuid, usize>>,
}

impl Viewers {
    pub fn new(per_account: usize, total: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                per_account,
                total,
                open: Mutex::default(),
            }),
        }
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.inner.lock().values().sum()
    }

    /// A stream for `owner`'s session on `project` (when the stream is about one), or
    /// the answer refusing it past a cap.
    pub fn watch(
        &self,
        pool: &PgPool,
        session: &tower_sessions::Session,
        owner: Uuid,
        project: Option<Uuid>,
    ) -> Result<Watch, Refused> {
        let mut open = self.inner.lock();
        let total: usize = open.values().sum();
        let mine = open.get(&owner).copied().unwrap_or(0);
        let refusal = if mine >= self.inner.per_account {
            Some(format!(
                "You have {mine} live views open; close a tab or wait a little."
            ))
        } else if total >= self.inner.total {
            Some("This server is at its limit of live views; trying again shortly.".to_string())
        } else {
            None
        };
        if let Some(message) = refusal {
            return Err(Refused(message));
        }
        *open.entry(owner).or_default() += 1;
        Ok(Watch {
            pool: pool.clone(),
            session: session.id().map(|id| id.to_string()),
            owner,
            project,
            seat: Seat {
                inner: self.inner.clone(),
                owner,
            },
        })
    }
}

/// A stream refused past a cap: a 429 saying why, with `Retry-After`.
#[derive(Debug)]
pub struct Refused(String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut response = AppError::Busy(self.0).into_response();
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from(RETRY_AFTER_SECS),
        );
        response
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, usize>> {
        // A poisoned count is still a count.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An open stream's place under the caps, given back when the stream ends.
struct Seat {
    inner: Arc<Inner>,
    owner: Uuid,
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut open = self.inner.lock();
        if let Some(count) = open.get_mut(&self.owner) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.owner);
            }
        }
    }
}

/// Who watches a stream, held for as long as the stream is open.
pub struct Watch {
    pool: PgPool,
    session: Option<String>,
    owner: Uuid,
    project: Option<Uuid>,
    #[allow(dead_code)] // Held for its Drop.
    seat: Seat,
}

impl Watch {
    /// Completes once the viewer may no longer see the stream: the session is gone
    /// (logged out, expired) or the project is no longer theirs (deleted). A database
    /// that does not answer does not end streams; the next check decides.
    pub async fn revoked(&self) {
        loop {
            tokio::time::sleep(RECHECK).await;
            match self.allowed().await {
                Ok(false) => return,
                Ok(true) => {}
                Err(error) => tracing::warn!(%error, "could not check a stream's viewer"),
            }
        }
    }

    async fn allowed(&self) -> sqlx::Result<bool> {
        let Some(session) = &self.session else {
            return Ok(false);
        };
        // The session table is tower-sessions' own (made at start-up), hence no macro.
        let signed_in: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM tower_sessions.session WHERE id = $1 AND expiry_date > now())",
        )
        .bind(session)
        .fetch_one(&self.pool)
        .await?;
        if !signed_in {
            return Ok(false);
        }
        match self.project {
            None => Ok(true),
            Some(project) => sqlx::query_scalar!(
                "SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1 AND owner_id = $2) AS \"owned!\"",
                project,
                self.owner
            )
            .fetch_one(&self.pool)
            .await,
        }
    }
}
