//! Running a [`Composition`]: FFmpeg in the background with its `-progress` output read as
//! the render's progress, stopped by cancelling or by the render's wall-clock limit, then
//! the loudness set on the sound alone. Its errors are for operators (the log); users read
//! that the render failed.

use super::compose::Composition;
use super::mix;
use super::smart::{self, pieces::Pieces, Made, Normalised, Plan, Work};
use anyhow::Context;
use std::{path::Path, process::Stdio, time::Duration};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    process::Command,
};
use tokio_util::sync::CancellationToken;

/// Why a render stopped.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the render was cancelled")]
    Cancelled,
    /// FFmpeg ran past the render's wall-clock limit and was killed.
    #[error("the render took longer than {} s and was stopped", .0.as_secs())]
    TimedOut(Duration),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// How a render was made.
#[derive(Clone, Copy, Debug)]
pub enum Way {
    OnePass,
    Smart(Made),
}

/// Most of the video to make afresh anyway (a logo over every scene, captions throughout,
/// and nothing made ahead): the one pass does it with less ado.
const SMART_AT_MOST: f64 = 0.8;

/// Renders `composition` the cheapest way: the smart render over its clips' normalised
/// files (`normalised`, one per clip) when they fit it, reusing the pieces kept in
/// `pieces` and keeping the ones it makes; else, or if it fails, the one pass. Cancelling
/// or the time limit stops either. Input files under `work_dir` are named by content.
pub async fn render_best(
    composition: &Composition,
    normalised: &[Normalised],
    work_dir: &Path,
    output: &Path,
    pieces: &dyn Pieces,
    mut on_progress: impl FnMut(f64) + Send,
    cancel: &CancellationToken,
) -> Result<Way, RenderError> {
    let limit = composition.time_limit();
    let smart_dir = tempfile::Builder::new()
        .prefix("smart-")
        .tempdir_in(work_dir)
        .context("making a folder for the render")?;
    if let Some(plan) = Plan::of(composition, normalised, smart_dir.path())? {
        let smart = async {
            let work = Work::gather(
                composition,
                normalised,
                &plan,
                smart_dir.path(),
                work_dir,
                pieces,
            )
            .await?;
            if work.left_share() >= SMART_AT_MOST {
                return Ok(None);
            }
            let made = smart::render(
                normalised,
                &plan,
                work,
                smart_dir.path(),
                output,
                pieces,
                &mut on_progress,
                limit,
            )
            .await?;
            Ok(Some(made))
        };
        let made = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(RenderError::Cancelled),
            _ = tokio::time::sleep(limit) => return Err(RenderError::TimedOut(limit)),
            made = smart => made,
        };
        match made {
            Ok(Some(made)) => return Ok(Way::Smart(made)),
            Ok(None) => {}
            // The one pass needs nothing the smart render made: it is the way out.
            Err(RenderError::Failed(error)) => {
                tracing::warn!(error = %format!("{error:#}"), "the smart render failed; rendering in one pass");
            }
            Err(stopped) => return Err(stopped),
        }
    }
    drop(smart_dir);
    render(composition, work_dir, output, on_progress, cancel).await?;
    Ok(Way::OnePass)
}

/// Runs the render, calling `on_progress` with 0–1 as FFmpeg reports it, within the
/// composition's [`Composition::time_limit`]. Cancelling kills FFmpeg. `work_dir` must be
/// a path FFmpeg filters accept (see `filter_path`).
pub async fn render(
    composition: &Composition,
    work_dir: &Path,
    output: &Path,
    on_progress: impl FnMut(f64) + Send,
    cancel: &CancellationToken,
) -> Result<(), RenderError> {
    let limit = composition.time_limit();
    render_within(composition, work_dir, output, on_progress, cancel, limit).await
}

/// [`render`] with its own wall-clock limit.
pub async fn render_within(
    composition: &Composition,
    work_dir: &Path,
    output: &Path,
    mut on_progress: impl FnMut(f64) + Send,
    cancel: &CancellationToken,
    limit: Duration,
) -> Result<(), RenderError> {
    let started = std::time::Instant::now();
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    let text_dir = tempfile::Builder::new()
        .prefix("render-")
        .tempdir_in(work_dir)
        .context("making a folder for the render")?;
    let args = composition.ffmpeg_args(text_dir.path(), output)?;
    let total_us = composition.duration_secs() * 1_000_000.0;
    let mut child = Command::new("ffmpeg")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("running ffmpeg (is the `ffmpeg` package installed?)")?;
    let stdout = child.stdout.take().context("ffmpeg's progress")?;
    let mut stderr = child.stderr.take().context("ffmpeg's errors")?;
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut lines = BufReader::new(stdout).lines();
    // FFmpeg's progress until it closes its output, then its exit.
    let finish = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(value) = line.strip_prefix("out_time_us=") {
                if let Ok(us) = value.trim().parse::<f64>() {
                    on_progress((us / total_us).clamp(0.0, 0.999));
                }
            }
        }
        child.wait().await
    };
    let outcome = tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(RenderError::Cancelled),
        _ = &mut deadline => Err(RenderError::TimedOut(limit)),
        status = finish => Ok(status),
    };
    let status = match outcome {
        Ok(status) => status.context("waiting for ffmpeg")?,
        Err(stopped) => {
            let _ = child.kill().await;
            return Err(stopped);
        }
    };
    let errors = errors.await.unwrap_or_default();
    if !status.success() {
        // Operators read FFmpeg's words in the log; users read that the render failed.
        tracing::warn!(%status, stderr = %errors.trim(), "the render's FFmpeg failed");
        return Err(RenderError::Failed(anyhow::anyhow!(
            "FFmpeg failed ({status}); the details are in the server log"
        )));
    }
    // The sound alone, twice over (a second or two): the loudness the platforms expect.
    let remaining = limit
        .saturating_sub(started.elapsed())
        .max(Duration::from_secs(30));
    tokio::select! {
        _ = cancel.cancelled() => return Err(RenderError::Cancelled),
        normalised = mix::normalise_loudness(output, remaining) => normalised?,
    }
    on_progress(1.0);
    Ok(())
}
