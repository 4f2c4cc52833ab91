//! `bench/load`: users at once through the whole journey, over the API, against a fleet
//! behind nginx (see `crate::fleet`) with the offline providers: sign up, the brief, mood
//! boards, the plan, every scene's image and clip approved, the final video rendered and
//! shared. Each user comes from an address of its own (as nginx forwards it), so the
//! sign-up throttle counts them apart.
//!
//! Prints users completed, errors, the latency of API calls and of page loads while the
//! workers are busy, and the jobs each instance ran; and checks that no job ran twice
//! (runs counted by the instances against jobs done in the database).

use super::harness::{id_of, ms_since, percentile, plan_storyboard, Browser, PASSWORD};
use crate::{
    fleet::{Fleet, FleetOptions},
    startup::shutdown_signal,
};
use anyhow::{bail, Context};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::task::JoinSet;

/// How far each user goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Until {
    /// A planned storyboard.
    Plan,
    /// Every scene's image made.
    Images,
    /// Every scene's clip made.
    Clips,
    /// The final video rendered and shared: the whole journey.
    Share,
}

/// Between two looks at work under way, as a page's live view would see it change.
const POLL: Duration = Duration::from_secs(2);
/// Every how many looks the user also reloads the project's page.
const PAGE_EVERY: usize = 5;

/// What the users measured, together.
#[derive(Default)]
struct Figures {
    api_ms: Vec<f64>,
    page_ms: Vec<f64>,
    errors: Vec<String>,
    completed: usize,
    /// When the last user to complete did, from the start of the run.
    last_completed_secs: f64,
}

#[derive(Clone)]
struct User {
    browser: Arc<Browser>,
    figures: Arc<Mutex<Figures>>,
    deadline: Instant,
}

impl User {
    async fn page(&self, path: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        let response = self
            .browser
            .http
            .get(format!("{}{path}", self.browser.base))
            .send()
            .await?;
        let status = response.status();
        response.bytes().await?;
        self.figures
            .lock()
            .expect("no user panicked counting")
            .page_ms
            .push(ms_since(started));
        anyhow::ensure!(status.is_success(), "page {path} answered {status}");
        Ok(())
    }

    /// Looks at the storyboard every [`POLL`] until `done` holds for every scene; a scene
    /// whose stage failed ends the wait with its error.
    async fn wait_for_scenes(
        &self,
        project: &str,
        what: &str,
        status_of: &str,
    ) -> anyhow::Result<()> {
        let mut looks = 0;
        loop {
            let view = self
                .browser
                .call("studio/storyboard", &[("project", project)])
                .await?;
            let scenes = view["scenes"].as_array().context("scenes")?;
            if let Some(failed) = scenes.iter().find(|s| s[status_of] == "failed") {
                bail!("a scene's {what} failed: {}", failed["error"]);
            }
            if let Some(failed) = scenes.iter().find(|s| s["voice_status"] == "failed") {
                bail!("a scene's voiceover failed: {}", failed["error"]);
            }
            // A clip is approved only once the scene's voiceover is spoken (its length
            // sets the clip's): until then "approve all" leaves the scene for later, so
            // the images wait counts as done only with every voice settled too.
            let settled = |s: &serde_json::Value| {
                s[status_of] == "ready"
                    && !matches!(s["voice_status"].as_str(), Some("queued" | "running"))
            };
            if scenes.iter().all(settled) {
                return Ok(());
            }
            self.idle(project, &mut looks).await?;
        }
    }

    /// Waits one [`POLL`], reloading the project's page now and then (the journey's
    /// deadline bounds every wait).
    async fn idle(&self, project: &str, looks: &mut usize) -> anyhow::Result<()> {
        *looks += 1;
        if looks.is_multiple_of(PAGE_EVERY) {
            self.page(&format!("/projects/{project}")).await?;
        }
        tokio::time::sleep(POLL).await;
        Ok(())
    }

    async fn journey(&self, n: usize, until: Until) -> anyhow::Result<()> {
        let email = format!("load{n}@example.com");
        self.browser
            .call("signup", &[("email", &email), ("password", PASSWORD)])
            .await?;
        self.page("/").await?;
        let (project, view) = plan_storyboard(&self.browser, Some(POLL)).await?;
        let storyboard = id_of(&view)?;
        self.page(&format!("/projects/{project}")).await?;
        if until == Until::Plan {
            return Ok(());
        }
        for (stage, status_of, what) in [
            ("text", "image_status", "images"),
            ("image", "video_status", "clips"),
        ] {
            self.browser
                .call(
                    "studio/approve_all",
                    &[("storyboard", &storyboard), ("stage", stage)],
                )
                .await?;
            self.wait_for_scenes(&project, what, status_of).await?;
            if until == Until::Images {
                return Ok(());
            }
        }
        if until == Until::Clips {
            return Ok(());
        }
        self.browser
            .call(
                "studio/approve_all",
                &[("storyboard", &storyboard), ("stage", "video")],
            )
            .await?;
        self.browser
            .call(
                "render/start",
                &[
                    ("project", &project),
                    ("music", "false"),
                    ("volume", "0"),
                    ("captions", "none"),
                ],
            )
            .await?;
        let mut looks = 0;
        let render = loop {
            let state = self
                .browser
                .call("render/state", &[("project", &project)])
                .await?;
            let newest = &state["renders"][0];
            match newest["status"].as_str() {
                Some("succeeded") => break id_of(newest)?,
                Some("failed" | "cancelled") => bail!("the render ended: {}", newest["error"]),
                _ => self.idle(&project, &mut looks).await?,
            }
        };
        let token = self
            .browser
            .call("render/share", &[("render", &render)])
            .await?;
        let token = token.as_str().context("a share link's token")?;
        self.page(&format!("/s/{token}")).await
    }
}

pub async fn bench_load(
    site_root: &std::path::Path,
    users: usize,
    until: Until,
    workers: usize,
    web_only: usize,
    minutes: u64,
) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding the reelsmith binary")?;
    let mut options = FleetOptions::new(exe, std::path::absolute(site_root)?);
    options.workers = workers;
    options.web_only = web_only;
    let fleet = Fleet::start(options).await?;
    println!(
        "fleet up at {}: {workers} instances with workers, {web_only} web only; {users} users \
         until {until:?}",
        fleet.url
    );
    // Whatever happens to the run, the fleet's processes and database are stopped.
    let result = drive(&fleet, users, until, minutes).await;
    fleet.stop().await;
    result
}

async fn drive(fleet: &Fleet, users: usize, until: Until, minutes: u64) -> anyhow::Result<()> {
    let figures = Arc::new(Mutex::new(Figures::default()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(minutes * 60);
    let api_ms = Arc::new(Mutex::new(Vec::new()));
    let mut running = JoinSet::new();
    for n in 0..users {
        let mut headers = reqwest::header::HeaderMap::new();
        // 10.x.y.z: one address a user, as nginx passes on what it was given.
        let address = format!("10.{}.{}.{}", n / 65_536 % 256, n / 256 % 256, n % 256);
        headers.insert("x-forwarded-for", address.parse()?);
        let mut browser = Browser::with_headers(&fleet.url, headers)?;
        browser.latencies = Some(api_ms.clone());
        let user = User {
            browser: Arc::new(browser),
            figures: figures.clone(),
            deadline,
        };
        running.spawn(async move {
            // Arrivals spread over the first seconds, as people do.
            tokio::time::sleep(Duration::from_millis(20 * n as u64)).await;
            // A user still under way at the deadline gives up, as an error.
            let left = user.deadline.saturating_duration_since(Instant::now());
            let result = match tokio::time::timeout(left, user.journey(n, until)).await {
                Ok(result) => result,
                Err(_) => Err(anyhow::anyhow!("still under way at the deadline")),
            };
            let mut figures = user.figures.lock().expect("no user panicked counting");
            match result {
                Ok(()) => {
                    figures.completed += 1;
                    figures.last_completed_secs = started.elapsed().as_secs_f64();
                }
                Err(error) => figures.errors.push(format!("user {n}: {error:#}")),
            }
        });
    }
    // Ctrl-C (or SIGTERM) ends the run early: the users still under way count as errors,
    // and the figures so far are printed and the fleet stopped all the same, rather than
    // leaving its processes and database running behind.
    let interrupted = tokio::select! {
        () = async { while running.join_next().await.is_some() {} } => false,
        () = shutdown_signal() => true,
    };
    let took = started.elapsed();
    if interrupted {
        println!("interrupted after {:.0} s", took.as_secs_f64());
        let left = running.len();
        running.shutdown().await;
        let mut figures = figures.lock().expect("no user panicked counting");
        for _ in 0..left {
            figures
                .errors
                .push("interrupted while under way".to_owned());
        }
    }

    let (jobs_done, runs) = spread(fleet).await?;
    let mut figures = std::mem::take(&mut *figures.lock().expect("no user panicked counting"));
    figures.api_ms = std::mem::take(&mut *api_ms.lock().expect("no user panicked counting"));
    for list in [&mut figures.api_ms, &mut figures.page_ms] {
        list.sort_by(f64::total_cmp);
    }
    println!("users={users}");
    println!("until={until:?}");
    println!("users_completed={}", figures.completed);
    println!("errors={}", figures.errors.len());
    println!("seconds={:.0}", took.as_secs_f64());
    // The run lasts until its slowest user; this is when the completed ones were done.
    println!("last_completed_seconds={:.0}", figures.last_completed_secs);
    println!("api_calls={}", figures.api_ms.len());
    println!("api_p50_ms={:.1}", percentile(&figures.api_ms, 0.5));
    println!("api_p99_ms={:.1}", percentile(&figures.api_ms, 0.99));
    println!("page_loads={}", figures.page_ms.len());
    println!("page_p50_ms={:.1}", percentile(&figures.page_ms, 0.5));
    println!("page_p99_ms={:.1}", percentile(&figures.page_ms, 0.99));
    println!(
        "jobs_per_instance={}",
        runs.iter()
            .map(|&n| (n as i64).to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let ran: f64 = runs.iter().sum();
    println!("jobs_done={jobs_done}");
    println!("job_runs={}", ran as i64);
    for error in figures.errors.iter().take(10) {
        println!("error: {error}");
    }
    Ok(())
}

/// The jobs done, by the database, and the runs each instance counted that ended them
/// (a job run twice would show as more runs than jobs).
async fn spread(fleet: &Fleet) -> anyhow::Result<(i64, Vec<f64>)> {
    let pool = sqlx::PgPool::connect(&fleet.database_url).await?;
    let done: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'succeeded'")
        .fetch_one(&pool)
        .await?;
    let http = reqwest::Client::new();
    let mut runs = Vec::new();
    for instance in &fleet.instances {
        let text = http
            .get(format!("{}/metrics", instance.url()))
            .send()
            .await?
            .text()
            .await?;
        runs.push(
            text.lines()
                .filter(|line| {
                    line.starts_with("reelsmith_job_runs_total{")
                        && line.contains(r#"ended="succeeded""#)
                })
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum(),
        );
    }
    Ok((done, runs))
}
