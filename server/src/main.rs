use anyhow::Context;
use clap::Parser;
use server::{
    config::{AccountsAction, Cli, Command, PostgresAction},
    postgres::LocalCluster,
    startup::{shutdown_signal, Application, Database},
    telemetry,
};

/// Rendering pages allocates a great deal: under load glibc's malloc took a third of the
/// server's CPU (arena locks, consolidation). With mimalloc `bench/http` serves the
/// dashboard at about 1,100 requests/s instead of 778 (p99 about 42 ms instead of 61),
/// for more memory held when idle (47 MB instead of 31).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Arenas committed as they are used rather than all at once: each idle live stream then
/// holds 29 KB instead of 41 (`bench/sse` at 10,000) at no cost in requests a second. The
/// option is read when the first arena is reserved, at the first allocation, which comes
/// before `main`; so it is set from the ELF initialisers, which run before Rust's own
/// start-up allocates anything. `mi_option_arena_eager_commit` is 4 in both mimalloc v2's
/// and v3's `mi_option_e`; the crate exports no name for it.
#[used]
#[unsafe(link_section = ".init_array")]
static LAZY_ARENA_COMMIT: extern "C" fn() = {
    extern "C" fn lazy_arena_commit() {
        // SAFETY: stores an option's value; nothing else runs yet.
        unsafe { libmimalloc_sys::mi_option_set(4, 0) };
    }
    lazy_arena_commit
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A missing .env is normal; settings then come from the environment and defaults.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let settings = cli.settings;
    telemetry::init(settings.log_format);

    if let Some(Command::Postgres { action }) = &cli.command {
        let dir = settings.data_dir.join("postgres");
        return match *action {
            PostgresAction::Start { ephemeral } => {
                let cluster = if ephemeral {
                    LocalCluster::ephemeral(dir)?
                } else {
                    LocalCluster::new(dir)?
                };
                let url = cluster.url("reelsmith");
                Database::connect_cluster(cluster).await?.pool.close().await;
                println!("{url}");
                Ok(())
            }
            PostgresAction::Stop => LocalCluster::new(dir)?.stop(),
        };
    }

    if let Some(Command::Accounts { action }) = &cli.command {
        let AccountsAction::SetBudget { email, usd } = action;
        let budget = match usd.trim() {
            "default" => None,
            text => Some(app::budget::parse_dollars(text).with_context(|| {
                format!("{text} is not an amount of US dollars (or `default`)")
            })?),
        };
        // The private cluster may be serving a running app: it is stopped again only if
        // this command started it.
        let was_running = settings.database_url.is_some()
            || LocalCluster::new(settings.data_dir.join("postgres"))?.is_running()?;
        let database = Database::connect(&settings).await?;
        let found = app::budget::ssr::set_monthly_budget(&database.pool, email, budget).await?;
        database.pool.close().await;
        if let (Some(cluster), false) = (database.cluster, was_running) {
            tokio::task::spawn_blocking(move || cluster.stop()).await??;
        }
        anyhow::ensure!(found, "no account has the email {email}");
        match budget {
            Some(microusd) => {
                println!("{email}: monthly budget {}", app::budget::dollars(microusd))
            }
            None => println!("{email}: the default monthly budget"),
        }
        return Ok(());
    }

    if let Some(Command::BenchCompose { runs, keep }) = &cli.command {
        return server::bench::bench_compose(*runs, keep.clone()).await;
    }
    if let Some(Command::BenchFleet { workers, web_only }) = &cli.command {
        return server::bench::bench_fleet(&settings, *workers, *web_only).await;
    }
    if let Some(Command::BenchLoad {
        users,
        until,
        workers,
        web_only,
        minutes,
    }) = &cli.command
    {
        return server::bench::bench_load(
            &settings.site_root,
            *users,
            *until,
            *workers,
            *web_only,
            *minutes,
        )
        .await;
    }
    if let Some(Command::BenchHttp {
        projects,
        connections,
        seconds,
        page,
        accept_encoding,
        server,
    }) = &cli.command
    {
        return server::bench::bench_http(
            server.clone(),
            page,
            accept_encoding,
            *projects,
            *connections,
            *seconds,
        )
        .await;
    }
    if let Some(Command::BenchSse {
        subscribers,
        storyboards,
        edits,
        edits_per_second,
        server,
    }) = &cli.command
    {
        return server::bench::bench_sse(
            server.clone(),
            subscribers.clone(),
            *storyboards,
            *edits,
            *edits_per_second,
        )
        .await;
    }
    if let Some(Command::SampleMedia {
        email,
        format,
        seconds,
    }) = &cli.command
    {
        return server::sample::sample_media(&settings, email, format, *seconds).await;
    }

    // Before anything starts: a mistyped preset would fail every render, and a site from
    // another build would serve dead pages.
    app::generation::ffmpeg::preset_from_env()?;
    server::site::check_site(&settings.site_root, settings.allow_stale_site)?;
    let database = Database::connect(&settings).await?;
    let application = Application::build(&settings, database.pool.clone()).await?;
    tracing::info!(
        "Reelsmith is running at http://{} (press Ctrl-C to stop)",
        application.local_addr()
    );
    let served = application.run_until(shutdown_signal()).await;

    database.pool.close().await;
    if let Some(cluster) = database.cluster {
        tokio::task::spawn_blocking(move || cluster.stop())
            .await?
            .context("stopping the private PostgreSQL cluster")?;
    }
    Ok(served?)
}
