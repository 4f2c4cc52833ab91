//! Who watches the live streams: caps on open streams per account and per instance (a
//! 429 with `Retry-After` past them), and the end of a stream whose session was logged
//! out (or expired) or whose project is no longer the viewer's. One sweep a few seconds
//! checks every open stream of the instance in two queries, whatever their number: ten
//! thousand viewers must not mean ten thousand queries.

use crate::error::AppError;
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use sqlx::PgPool;
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, Weak},
    time::Duration,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How often the open streams are checked: their viewers may still see them.
pub const RECHECK: Duration = Duration::from_secs(5);
/// What a refused client is told to wait before trying again.
const RETRY_AFTER_SECS: u64 = 10;

/// The open streams of this instance.
#[derive(Clone)]
pub struct Viewers {
    inner: Arc<Inner>,
}

/// One open stream, as the sweep sees it.
struct Viewer {
    owner: Uuid,
    session: Option<String>,
    project: Option<Uuid>,
    /// Cancelled when the viewer may no longer see the stream.
    revoked: CancellationToken,
}

#[derive(Default)]
struct Open {
    per_owner: HashMap<Uuid, usize>,
    viewers: HashMap<u64, Viewer>,
    next: u64,
}

struct Inner {
    per_account: usize,
    total: usize,
    open: Mutex<Open>,
}

impl Viewers {
    /// The caps, and the sweep over `pool` (it ends when the last clone is dropped).
    pub fn start(pool: PgPool, per_account: usize, total: usize) -> Self {
        let inner = Arc::new(Inner {
            per_account,
            total,
            open: Mutex::default(),
        });
        tokio::spawn(sweep(Arc::downgrade(&inner), pool));
        Self { inner }
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.inner.lock().viewers.len()
    }

    /// A stream for `owner`'s session on `project` (when the stream is about one), or
    /// the answer refusing it past a cap.
    pub fn watch(
        &self,
        session: &tower_sessions::Session,
        owner: Uuid,
        project: Option<Uuid>,
    ) -> Result<Watch, Refused> {
        let mut open = self.inner.lock();
        let total = open.viewers.len();
        let mine = open.per_owner.get(&owner).copied().unwrap_or(0);
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
        *open.per_owner.entry(owner).or_default() += 1;
        let id = open.next;
        open.next += 1;
        let revoked = CancellationToken::new();
        open.viewers.insert(
            id,
            Viewer {
                owner,
                session: session.id().map(|id| id.to_string()),
                project,
                revoked: revoked.clone(),
            },
        );
        Ok(Watch {
            revoked,
            seat: Seat {
                inner: self.inner.clone(),
                id,
            },
        })
    }
}

/// Every `RECHECK`, ends the streams whose viewers may no longer see them: the session
/// is gone (logged out, expired) or the project is no longer theirs (deleted). A
/// database that does not answer ends nothing; the next sweep decides.
async fn sweep(viewers: Weak<Inner>, pool: PgPool) {
    loop {
        tokio::time::sleep(RECHECK).await;
        let Some(inner) = viewers.upgrade() else {
            return;
        };
        // Streams opened after this look are left to the next sweep.
        let (sessions, projects, looked_at) = {
            let open = inner.lock();
            let sessions: HashSet<String> = open
                .viewers
                .values()
                .filter_map(|viewer| viewer.session.clone())
                .collect();
            let projects: HashSet<Uuid> = open
                .viewers
                .values()
                .filter_map(|viewer| viewer.project)
                .collect();
            (sessions, projects, open.next)
        };
        if sessions.is_empty() && projects.is_empty() {
            continue;
        }
        match still_allowed(&pool, sessions, projects).await {
            Ok((signed_in, owners)) => {
                let open = inner.lock();
                for (_, viewer) in open.viewers.iter().filter(|(id, _)| **id < looked_at) {
                    let session_ok = viewer
                        .session
                        .as_ref()
                        .is_some_and(|session| signed_in.contains(session));
                    let project_ok = viewer
                        .project
                        .is_none_or(|project| owners.get(&project) == Some(&viewer.owner));
                    if !(session_ok && project_ok) {
                        viewer.revoked.cancel();
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "could not check the streams' viewers"),
        }
    }
}

/// Of `sessions`, those signed in; of `projects`, each one's owner.
async fn still_allowed(
    pool: &PgPool,
    sessions: HashSet<String>,
    projects: HashSet<Uuid>,
) -> sqlx::Result<(HashSet<String>, HashMap<Uuid, Uuid>)> {
    let sessions: Vec<String> = sessions.into_iter().collect();
    // The session table is tower-sessions' own (made at start-up), hence no macro.
    let signed_in: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM tower_sessions.session WHERE id = ANY($1) AND expiry_date > now()",
    )
    .bind(&sessions)
    .fetch_all(pool)
    .await?;
    let projects: Vec<Uuid> = projects.into_iter().collect();
    let owners = sqlx::query!(
        "SELECT id, owner_id FROM projects WHERE id = ANY($1)",
        &projects
    )
    .fetch_all(pool)
    .await?;
    Ok((
        signed_in.into_iter().collect(),
        owners
            .into_iter()
            .map(|row| (row.id, row.owner_id))
            .collect(),
    ))
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
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // A poisoned count is still a count.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An open stream's place under the caps, given back when the stream ends.
struct Seat {
    inner: Arc<Inner>,
    id: u64,
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut open = self.inner.lock();
        let Some(viewer) = open.viewers.remove(&self.id) else {
            return;
        };
        if let Some(count) = open.per_owner.get_mut(&viewer.owner) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.per_owner.remove(&viewer.owner);
            }
        }
    }
}

/// Who watches a stream, held for as long as the stream is open.
pub struct Watch {
    revoked: CancellationToken,
    seat: Seat,
}

impl Watch {
    /// `events` until the viewer may no longer see them (see [`sweep`]); the seat is
    /// given back when the stream is dropped. Combinators rather than a generator: a
    /// generator would hold a second copy of `events`, moved into it, for the stream's
    /// whole life.
    pub fn guard<S: Stream>(self, events: S) -> impl Stream<Item = S::Item> {
        let Self { revoked, seat } = self;
        events
            .take_until(revoked.cancelled_owned())
            .map(move |event| {
                let _held = &seat;
                event
            })
    }
}
