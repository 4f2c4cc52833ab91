//! Building and running the application: database, sessions, router.

use crate::{config::Settings, http, postgres::LocalCluster};
use anyhow::Context;
use app::jobs::{Worker, WorkerSettings};
use app::{shell, state::AppState, App};
use axum::{middleware, routing::get, serve::ListenerExt, Router};
use leptos::prelude::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use sqlx::{postgres::PgPoolOptions, PgPool};
use std::{
    future::{Future, IntoFuture},
    net::SocketAddr,
    sync::Arc,
    time::Duration,
};
use tokio::net::TcpListener;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_sessions::{cookie::SameSite, Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;
use tracing::Level;

/// How long a pooled connection may sit unused before it is tested again when a request
/// takes it.
pub const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The database the app runs on, and the private cluster behind it if we started one.
pub struct Database {
    pub pool: PgPool,
    pub cluster: Option<LocalCluster>,
}

impl Database {
    /// `DATABASE_URL` if set; otherwise the private cluster in the data directory.
    /// Migrations are applied either way.
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        match &settings.database_url {
            Some(url) => {
                let options = url.parse().context("DATABASE_URL is not a valid URL")?;
                Self::connect_with(options, None).await
            }
            None => {
                Self::connect_cluster(LocalCluster::new(settings.data_dir.join("postgres"))?).await
            }
        }
    }

    /// Starts the private cluster if needed and connects to its `reelsmith` database.
    pub async fn connect_cluster(cluster: LocalCluster) -> anyhow::Result<Self> {
        let started = cluster.clone();
        tokio::task::spawn_blocking(move || started.start()).await??;
        ensure_database(&cluster, "reelsmith").await?;
        let options = cluster.connect_options("reelsmith");
        Self::connect_with(options, Some(cluster)).await
    }

    pub async fn connect_with(
        options: sqlx::postgres::PgConnectOptions,
        cluster: Option<LocalCluster>,
    ) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            // sqlx pings every connection it takes back (a round trip), and by default
            // pings it again when it is handed out: under load that second ping is a
            // third of the round trips of a page, to test a connection that was tested
            // microseconds ago. Only one that sat idle is tested again, so that one
            // broken while idle (PostgreSQL restarted) is replaced, not handed to a
            // request.
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_BEFORE_PING {
                        sqlx::Connection::ping(connection).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await
            .context("connecting to PostgreSQL")?;
        MIGRATOR.run(&pool).await.context("applying migrations")?;
        Ok(Self { pool, cluster })
    }
}

/// Creates `name` in a private cluster if it is not there yet.
pub async fn ensure_database(cluster: &LocalCluster, name: &str) -> anyhow::Result<()> {
    use sqlx::{Connection, PgConnection};
    let mut admin = PgConnection::connect_with(&cluster.connect_options("postgres")).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        sqlx::query(&format!(
            "CREATE DATABASE \"{}\"",
            name.replace('"', "\"\"")
        ))
        .execute(&mut admin)
        .await?;
    }
    Ok(())
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    sessions: PostgresStore,
    run_worker: bool,
    job_lease_secs: u64,
    /// `REELSMITH_PUBLIC_URL` as configured: providers fetch stored files through it.
    configured_public_url: Option<String>,
    product_check: app::product::check::ProductCheck,
}

impl Application {
    /// Binds the listener (port 0 picks a free port) and builds the router.
    pub async fn build(settings: &Settings, pool: PgPool) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.site_addr)
            .await
            .with_context(|| format!("binding {}", settings.site_addr))?;
        // A release bundle's folder is named after its contents; the page's links (and
        // Leptos's preloads of the parts a page needs) follow it.
        let bundle = crate::site::Bundle::of_site(&settings.site_root)?;
        let leptos_options = LeptosOptions::builder()
            .output_name(app::SITE_NAME)
            .site_pkg_dir(bundle.dir.as_str())
            .site_root(settings.site_root.to_string_lossy().as_ref())
            .site_addr(listener.local_addr()?)
            .build();
        let sessions_policy = settings.sessions()?;
        let sessions = PostgresStore::new(pool.clone());
        sessions
            .migrate()
            .await
            .context("creating the session table")?;
        let session_layer = SessionManagerLayer::new(sessions.clone())
            .with_name("reelsmith_session")
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(settings.secure_cookies())
            // Renewed while in use (see `auth::ssr::session_user_id`), ended when idle.
            .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
                sessions_policy.idle_secs,
            )));

        let storage = settings.storage()?;
        let state = AppState {
            leptos_options,
            pool: pool.clone(),
            storage: storage.storage,
            local_files: storage.local_files,
            media: settings.media_providers()?,
            spending: Arc::new(settings.spending()?),
            sessions: sessions_policy,
            trusted_proxies: app::proxies::TrustedProxies::parse(&settings.trusted_proxies)
                .map_err(|problem| anyhow::anyhow!("REELSMITH_TRUSTED_PROXIES: {problem}"))?,
            viewers: app::events::viewers::Viewers::start(
                pool.clone(),
                settings.streams_per_account,
                settings.streams_total,
            ),
            director: settings.director()?,
            notifier: app::events::Notifier::start(pool.clone()),
            public_url: settings.public_url.clone().unwrap_or_else(|| {
                format!(
                    "http://{}",
                    listener
                        .local_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default()
                )
            }),
        };
        crate::site::serve::precompress_in_background(&settings.site_root);
        let routes = generate_route_list(App);
        // Installed before the first request is counted.
        crate::metrics::recorder();
        let scrape = crate::metrics::Scrape {
            pool: pool.clone(),
            viewers: state.viewers.clone(),
            job_kinds: app::job_handlers().kinds().collect(),
            token: settings.metrics_token.clone(),
        };
        let router = Router::new()
            .route("/healthz", get(http::healthz))
            .route("/metrics", get(crate::metrics::scrape).with_state(scrape))
            .route("/readyz", get(http::readyz))
            .route("/files/{*key}", get(http::serve_local_file))
            .route("/s/{token}/{file}", get(app::share::media::shared_media))
            .route(
                "/api/client-problems",
                axum::routing::post(http::client_problem)
                    .layer(axum::extract::DefaultBodyLimit::max(16 * 1024)),
            )
            .route(
                "/api/storyboards/{id}/stream",
                get(app::storyboard::stream::storyboard_stream),
            )
            .route(
                "/api/compositions/{id}/stream",
                get(app::render::stream::render_stream),
            )
            .route(
                "/api/compositions/{id}/captions.vtt",
                get(app::render::caption_files::owner_vtt),
            )
            .route(
                "/api/compositions/{id}/captions.srt",
                get(app::render::caption_files::owner_srt),
            )
            .route(
                "/api/voices/{voice}/sample",
                get(app::storyboard::voice_sample::voice_sample),
            )
            .route(
                "/api/projects/{id}/chat",
                axum::routing::post(app::brief::chat::chat),
            )
            .route(
                "/api/projects/{id}/photos",
                axum::routing::post(app::product::upload::upload_photo).layer(
                    axum::extract::DefaultBodyLimit::max(app::product::upload::BODY_LIMIT),
                ),
            )
            .route(
                "/api/brand/logo",
                axum::routing::post(app::brand::upload::upload_logo).layer(
                    axum::extract::DefaultBodyLimit::max(app::brand::upload::BODY_LIMIT),
                ),
            )
            .route(
                "/api/brand/font",
                axum::routing::post(app::brand::upload::upload_font).layer(
                    axum::extract::DefaultBodyLimit::max(app::brand::upload::BODY_LIMIT),
                ),
            )
            .route(
                "/api/projects/{id}/stream",
                get(app::projects::stream::project_stream),
            )
            .leptos_routes_with_context(&state, routes, || (), {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            })
            .nest(
                "/pkg",
                crate::site::serve::pkg_service(&settings.site_root, &bundle),
            )
            .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
            .layer(middleware::from_fn_with_state(
                crate::page_cache::PageCache::new(pool.clone()),
                crate::page_cache::dashboard,
            ))
            .layer(middleware::from_fn(http::require_login_for_pages))
            .layer(session_layer)
            .layer(middleware::from_fn(http::reject_cross_site))
            .layer(middleware::from_fn_with_state(
                settings.secure_cookies(),
                http::security_headers,
            ))
            .layer(http::compression())
            .layer(middleware::from_fn(crate::metrics::track_requests))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|request: &axum::http::Request<_>| {
                        let id = request
                            .headers()
                            .get("x-request-id")
                            .and_then(|id| id.to_str().ok())
                            .unwrap_or_default();
                        tracing::info_span!(
                            "request",
                            request_id = id,
                            method = %request.method(),
                            path = %request.uri().path(),
                        )
                    })
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            // Outermost: the id is set before the request's span is made.
            .layer(middleware::from_fn_with_state(
                state.trusted_proxies.clone(),
                http::request_id,
            ))
            .with_state(state.clone());
        Ok(Self {
            listener,
            router,
            state,
            sessions,
            run_worker: settings.run_worker,
            job_lease_secs: settings.job_lease_secs,
            configured_public_url: settings.public_url.clone(),
            product_check: settings.product_check()?,
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let housekeeping = tokio::spawn(crate::housekeeping::run(
            self.state.pool.clone(),
            self.sessions,
        ));
        let stop_worker = tokio_util::sync::CancellationToken::new();
        let worker = self.run_worker.then(|| {
            tokio::spawn(
                Worker::new(
                    self.state.pool.clone(),
                    self.state.storage.clone(),
                    self.state.media.clone(),
                    WorkerSettings {
                        lease: Duration::from_secs(self.job_lease_secs.max(3)),
                        public_url: self.configured_public_url.clone(),
                        spending: self.state.spending.clone(),
                        product_check: self.product_check.clone(),
                        ..WorkerSettings::default()
                    },
                    app::job_handlers(),
                )
                .run(stop_worker.clone()),
            )
        });
        // At the signal the worker stops at once (handing its jobs over) rather than
        // after the last connection closes: open live streams never close by themselves.
        // Those the listener carries end when it stops accepting, at the signal; one that
        // hyper serves (asked for on a kept-alive connection) gets a short grace period
        // and is then dropped.
        let (signalled, mut on_signal) = tokio::sync::watch::channel(false);
        let shutdown = {
            let stop_worker = stop_worker.clone();
            async move {
                shutdown.await;
                stop_worker.cancel();
                let _ = signalled.send(true);
            }
        };
        // Live streams' connections are carried by the listener itself (see
        // `live_connections`). For the rest, small writes (a short answer) leave at once
        // rather than waiting for the previous one's acknowledgement; `tap_io` also gives
        // handlers the client's address.
        let listener = crate::live_connections::Listener::new(self.listener, self.router.clone())
            .tap_io(|connection| {
                let _ = connection.set_nodelay(true);
            });
        let serving = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .into_future();
        let grace = async {
            if on_signal.wait_for(|signalled| *signalled).await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        let served = tokio::select! {
            served = serving => served,
            () = grace => {
                tracing::info!("closing the connections still open (live streams)");
                Ok(())
            }
        };
        housekeeping.abort();
        stop_worker.cancel();
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        served
    }
}

/// How long, after the signal to stop, connections still open may go on.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
