//! What the benchmarks share: a `reelsmith` process of their own (its own private
//! PostgreSQL, the offline providers), a user's browser calling it as a page does, and
//! percentiles.

use anyhow::{bail, Context};
use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};
use tokio::process::Command;

pub const PASSWORD: &str = "correct horse battery";

/// The server binary a bench measures: `given` (another build, to compare), or this one.
pub fn server_binary(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match given {
        Some(other) => Ok(other),
        None => std::env::current_exe().context("finding the reelsmith binary"),
    }
}

/// A `reelsmith` process of the bench's own, stopped (gracefully, so that it stops its
/// PostgreSQL) when the run ends. It runs no worker, and serves no site (a page's
/// HTML is what the benches measure, not its bundle).
pub struct Server {
    child: tokio::process::Child,
    pub base: String,
    _data: tempfile::TempDir,
}

impl Server {
    pub async fn start(exe: &Path, settings: &[(&str, String)]) -> anyhow::Result<Self> {
        // The process starts in its data directory: a relative path must not change meaning.
        let exe = std::fs::canonicalize(exe)
            .with_context(|| format!("finding the server binary {}", exe.display()))?;
        let data = tempfile::tempdir().context("a data directory")?;
        // PostgreSQL runs as the `postgres` user when we are root: it must enter it.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(data.path().join("server.log"))?;
        let child = Command::new(&exe)
            // Away from the checkout: a developer's .env (with API keys) must not apply.
            .current_dir(data.path())
            .arg("--data-dir")
            .arg(data.path())
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("REELSMITH_ALLOW_STALE_SITE", "true")
            .env("REELSMITH_RUN_WORKER", "false")
            .env("RUST_LOG", "warn")
            .envs(settings.iter().map(|(name, value)| (name, value)))
            .env_remove("DATABASE_URL")
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .env_remove("REPLICATE_API_TOKEN")
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting reelsmith")?;
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _data: data,
        };
        let started = Instant::now();
        let probe = reqwest::Client::new();
        loop {
            let ready = probe
                .get(format!("{}/readyz", server.base))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if ready {
                return Ok(server);
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!(
                    "the server did not become ready: {}",
                    std::fs::read_to_string(server._data.path().join("server.log"))
                        .unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The server's resident memory, in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("the server has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .context("reading the server's memory")
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await?;
        }
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
        }
        Ok(())
    }
}

/// A user's browser: keeps the session cookie, calls server functions as a page does.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    cookies: std::sync::Arc<reqwest::cookie::Jar>,
    /// Where each call's latency goes, in milliseconds, for a bench that reports it.
    pub latencies: Option<std::sync::Arc<std::sync::Mutex<Vec<f64>>>>,
}

impl Browser {
    pub fn new(base: &str) -> anyhow::Result<Self> {
        Self::with_headers(base, reqwest::header::HeaderMap::new())
    }

    /// A browser whose every request carries `headers` (a user's address, as a
    /// trusted proxy would forward it).
    pub fn with_headers(base: &str, headers: reqwest::header::HeaderMap) -> anyhow::Result<Self> {
        let cookies = std::sync::Arc::new(reqwest::cookie::Jar::default());
        Ok(Self {
            http: reqwest::Client::builder()
                .cookie_provider(cookies.clone())
                .default_headers(headers)
                .build()?,
            base: base.to_string(),
            cookies,
            latencies: None,
        })
    }

    /// The `Cookie` header this browser sends (its session, once logged in).
    pub fn cookie_header(&self) -> anyhow::Result<String> {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().context("the server's address")?;
        let value = self.cookies.cookies(&url).context("no cookies yet")?;
        Ok(value.to_str()?.to_string())
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .header("sec-fetch-site", "same-origin")
            .header("accept", "application/json")
    }

    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> anyhow::Result<Value> {
        let started = Instant::now();
        let response = self
            .post(&format!("/api/{endpoint}"))
            .form(form)
            .send()
            .await?;
        let status = response.status();
        let body = response.text().await?;
        if let Some(latencies) = &self.latencies {
            let ms = ms_since(started);
            latencies.lock().expect("no caller panicked").push(ms);
        }
        anyhow::ensure!(status.is_success(), "{endpoint} answered {status}: {body}");
        Ok(if body.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body).with_context(|| format!("{endpoint}: {body}"))?
        })
    }
}

/// The brief, as a person would give it to the offline director.
pub const ANSWERS: [&str; 5] = [
    "It's called Lumen, a desk lamp that adapts its light to your day.",
    "Remote workers who spend long hours at a desk",
    "Calm, focused",
    "Light that follows your day\nNo glare on screens\nSet up in 30 seconds",
    "Order yours today",
];

/// A project of `browser`'s user taken from the brief chat through the first mood board
/// to a planned storyboard: the project's id and the storyboard as the page gets it.
/// With `boards_made`, the user waits for the boards' images (looking every so often)
/// before choosing, as a person does; a server without workers makes none.
pub async fn plan_storyboard(
    browser: &Browser,
    boards_made: Option<Duration>,
) -> anyhow::Result<(String, Value)> {
    let project = id_of(
        &browser
            .call(
                "projects/create",
                &[("name", "Lumen launch"), ("format", "9:16")],
            )
            .await?,
    )?;
    for answer in ANSWERS {
        let response = browser
            .post(&format!("/api/projects/{project}/chat"))
            .json(&serde_json::json!({ "message": answer }))
            .send()
            .await?
            .error_for_status()?;
        response.text().await?;
    }
    let moods = browser
        .call("studio/generate_moods", &[("project", &project)])
        .await?;
    if let Some(every) = boards_made {
        loop {
            let boards = browser
                .call("studio/moods", &[("project", &project)])
                .await?;
            let boards = boards.as_array().context("mood boards")?;
            if boards.iter().any(|board| board["error"].is_string()) {
                bail!("a mood board failed: {boards:?}");
            }
            if boards.iter().all(|board| board["pending"] == 0) {
                break;
            }
            tokio::time::sleep(every).await;
        }
    }
    let mood = id_of(&moods[0])?;
    browser
        .call(
            "studio/choose_mood",
            &[("project", &project), ("mood", &mood)],
        )
        .await?;
    let view = browser
        .call("studio/plan_storyboard", &[("project", &project)])
        .await?;
    Ok((project, view))
}

/// Milliseconds since `started`.
pub fn ms_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

pub fn id_of(value: &Value) -> anyhow::Result<String> {
    value["id"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no id in {value}"))
}

/// The value `share` of the way up `sorted` (by rank: `0.99` is the 99th percentile).
pub fn percentile(sorted: &[f64], share: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_taken_by_rank() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 0.5), 50.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
