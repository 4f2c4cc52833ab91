//! What an operator watches: Prometheus text at `GET /metrics`, one scrape per instance.
//!
//! Counters and histograms are recorded where things happen, through the `metrics`
//! facade (HTTP requests here; jobs in the worker, events in the live streams), into one
//! recorder for the process. Figures that are a state rather than a count (jobs waiting
//! and running in the whole fleet, live streams open here, database connections in use)
//! are read at each scrape, so they are never stale.
//!
//! Served to loopback only, unless `REELSMITH_METRICS_TOKEN` is set: then to whoever
//! sends it as a bearer token (a Prometheus server elsewhere). The figures name routes
//! and job kinds, never users.

use app::{events::viewers::Viewers, secret::Secret};
use axum::{
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::{header, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use std::{net::SocketAddr, sync::OnceLock, time::Instant};

/// Latency buckets for every `_seconds` histogram: from a page answered from memory to a
/// render of a minute.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 120.0,
];

/// The process's recorder, installed by the first caller. Tests start several apps in one
/// process: they share it. `None` if another recorder was installed first.
pub fn recorder() -> Option<&'static PrometheusHandle> {
    static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    RECORDER
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
                .and_then(|builder| builder.install_recorder());
            match installed {
                Ok(handle) => Some(handle),
                Err(error) => {
                    tracing::warn!(%error, "metrics unavailable: no recorder");
                    None
                }
            }
        })
        .as_ref()
}

/// Counts every request by route (the route's pattern, so ids do not multiply the
/// series), method and status, and times it to its response's head (a live stream's
/// time is its start, not its life).
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        "reelsmith_http_requests_total",
        "method" => method,
        "route" => route.clone(),
        "status" => status
    )
    .increment(1);
    metrics::histogram!(
        "reelsmith_http_request_duration_seconds",
        "method" => method,
        "route" => route
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// A method as a label: the standard ones by name, anything else as one.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// What a scrape reads besides the recorder.
#[derive(Clone)]
pub struct Scrape {
    pub pool: PgPool,
    pub viewers: Viewers,
    /// Every job kind the app has, so a kind with nothing waiting reads 0, not nothing.
    pub job_kinds: Vec<&'static str>,
    pub token: Option<Secret>,
}

/// `GET /metrics`.
pub async fn scrape(
    State(scrape): State<Scrape>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !scrape.allowed(peer, &headers) {
        return (
            StatusCode::FORBIDDEN,
            "Metrics are served to loopback, or with the bearer token REELSMITH_METRICS_TOKEN.",
        )
            .into_response();
    }
    let Some(recorder) = recorder() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "Metrics are unavailable.").into_response();
    };
    scrape.read_states().await;
    recorder.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        recorder.render(),
    )
        .into_response()
}

impl Scrape {
    fn allowed(&self, peer: SocketAddr, headers: &HeaderMap) -> bool {
        match &self.token {
            Some(token) => headers
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .is_some_and(|given| token.matches(given.trim())),
            None => peer.ip().is_loopback(),
        }
    }

    /// Sets the gauges that are read rather than counted.
    async fn read_states(&self) {
        metrics::gauge!("reelsmith_live_streams_open").set(self.viewers.open() as f64);
        let idle = self.pool.num_idle() as f64;
        let size = f64::from(self.pool.size());
        metrics::gauge!("reelsmith_db_connections", "state" => "idle").set(idle);
        metrics::gauge!("reelsmith_db_connections", "state" => "in_use").set(size - idle);
        // The whole fleet's queue, as every instance sees it.
        let waiting = sqlx::query!(
            r#"SELECT kind AS "kind!", status AS "status!", count(*) AS "jobs!" FROM jobs
               WHERE status IN ('queued', 'running') GROUP BY kind, status"#
        )
        .fetch_all(&self.pool)
        .await;
        match waiting {
            Ok(rows) => {
                for kind in &self.job_kinds {
                    for status in ["queued", "running"] {
                        let jobs = rows
                            .iter()
                            .find(|row| row.kind == *kind && row.status == status)
                            .map_or(0, |row| row.jobs);
                        metrics::gauge!("reelsmith_jobs", "kind" => *kind, "status" => status)
                            .set(jobs as f64);
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "could not count the jobs for /metrics"),
        }
    }
}
