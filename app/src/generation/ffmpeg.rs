//! Running FFmpeg and ffprobe, each within a wall-clock limit: a hung tool is killed
//! rather than kept alive by a job's heartbeat forever. Their stderr (which names our
//! temporary paths) goes to the server's log for operators; errors say only what failed.

use anyhow::{bail, Context};
use std::{path::Path, process::Stdio, sync::OnceLock, time::Duration};
use tokio::process::Command;

/// x264's presets, fastest first: a faster one makes bigger files of the same quality.
pub const PRESETS: [&str; 9] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
];

/// The x264 preset this process encodes with unless `REELSMITH_ENCODER_PRESET` names
/// another: about real time for a 1080×1920 render on two cores.
pub const DEFAULT_PRESET: &str = "veryfast";

/// The x264 preset named by `REELSMITH_ENCODER_PRESET` (unset: [`DEFAULT_PRESET`]), or
/// why it is not one. The server checks it at start; [`preset`] then uses it.
pub fn preset_from_env() -> anyhow::Result<&'static str> {
    match std::env::var("REELSMITH_ENCODER_PRESET") {
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_PRESET),
        Ok(name) if name.trim().is_empty() => Ok(DEFAULT_PRESET),
        Ok(name) => PRESETS
            .into_iter()
            .find(|p| *p == name.trim())
            .with_context(|| {
                format!(
                    "REELSMITH_ENCODER_PRESET is {name:?}; it must be one of {}",
                    PRESETS.join(", ")
                )
            }),
        Err(error) => Err(error).context("reading REELSMITH_ENCODER_PRESET"),
    }
}

/// The x264 preset every encode of this process uses (renders, their pieces, normalised
/// clips, offline clips): read once, so that every piece of one video matches.
pub fn preset() -> &'static str {
    static PRESET: OnceLock<&'static str> = OnceLock::new();
    PRESET.get_or_init(|| {
        preset_from_env().unwrap_or_else(|error| {
            tracing::warn!(%error, "using the default encoder preset");
            DEFAULT_PRESET
        })
    })
}

/// How long a short FFmpeg task (an offline image, a clip, a poster) may take.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(5 * 60);
/// How long ffprobe may take.
pub const PROBE_LIMIT: Duration = Duration::from_secs(30);

/// A tool that ran past its wall-clock limit (and was killed).
#[derive(Debug, thiserror::Error)]
#[error("{tool} took longer than {} s and was stopped", .limit.as_secs())]
pub struct TimedOut {
    pub tool: &'static str,
    pub limit: Duration,
}

/// Runs `command` to its end within `limit`, killing it past that; a failure is logged
/// with its stderr and reported without it.
async fn output_within(
    tool: &'static str,
    command: &mut Command,
    limit: Duration,
) -> anyhow::Result<std::process::Output> {
    command.stdin(Stdio::null()).kill_on_drop(true);
    let output = match tokio::time::timeout(limit, command.output()).await {
        // Dropping the future kills the process.
        Err(_) => return Err(TimedOut { tool, limit }.into()),
        Ok(output) => output
            .with_context(|| format!("running {tool} (is the `ffmpeg` package installed?)"))?,
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        tracing::warn!(tool, status = %output.status, stderr = %stderr.trim(), "media tool failed");
        bail!(
            "{tool} failed ({}); the details are in the server log",
            output.status
        );
    }
    Ok(output)
}

/// Runs `ffmpeg` with `args` (quiet, overwriting outputs) within [`DEFAULT_LIMIT`].
pub async fn run(args: &[String]) -> anyhow::Result<()> {
    run_within(args, DEFAULT_LIMIT).await
}

/// Runs `ffmpeg` with `args` within `limit` and answers what it wrote to standard error
/// (where analysis filters such as `loudnorm` and `ebur128` report).
pub async fn report_of(args: &[String], limit: Duration) -> anyhow::Result<String> {
    let mut command = Command::new("ffmpeg");
    command
        .args(["-hide_banner", "-nostdin", "-nostats", "-y"])
        .args(args);
    let output = output_within("ffmpeg", &mut command, limit).await?;
    Ok(String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Runs `ffmpeg` with `args` within `limit`.
pub async fn run_within(args: &[String], limit: Duration) -> anyhow::Result<()> {
    let mut command = Command::new("ffmpeg");
    command
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(args);
    output_within("ffmpeg", &mut command, limit).await?;
    Ok(())
}

/// What ffprobe says of a media file.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_secs: Option<f64>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub frame_rate: Option<f64>,
}

pub async fn probe(path: &Path) -> anyhow::Result<Probe> {
    let mut command = Command::new("ffprobe");
    command
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(path);
    let output = output_within("ffprobe", &mut command, PROBE_LIMIT).await?;
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let streams = json["streams"].as_array().cloned().unwrap_or_default();
    let of_type = |kind: &str| streams.iter().find(|s| s["codec_type"] == kind).cloned();
    let video = of_type("video");
    let audio = of_type("audio");
    let number = |value: &serde_json::Value| value.as_str().and_then(|s| s.parse::<f64>().ok());
    let frame_rate = video.as_ref().and_then(|v| {
        let (num, den) = v["r_frame_rate"].as_str()?.split_once('/')?;
        let (num, den): (f64, f64) = (num.parse().ok()?, den.parse().ok()?);
        (den > 0.0).then(|| num / den)
    });
    Ok(Probe {
        width: video
            .as_ref()
            .and_then(|v| v["width"].as_i64())
            .map(|w| w as i32),
        height: video
            .as_ref()
            .and_then(|v| v["height"].as_i64())
            .map(|h| h as i32),
        duration_secs: number(&json["format"]["duration"]),
        video_codec: video.and_then(|v| v["codec_name"].as_str().map(str::to_string)),
        audio_codec: audio.and_then(|a| a["codec_name"].as_str().map(str::to_string)),
        frame_rate,
    })
}

/// The mean colour (RGB) of the `width` × `height` region at `x`, `y` of the frame shown
/// at `at` seconds: where a logo, a card or a product is, to check what a render drew.
pub async fn mean_color(
    video: &Path,
    at: f64,
    (x, y, width, height): (u32, u32, u32, u32),
) -> anyhow::Result<[u8; 3]> {
    let mut command = Command::new("ffmpeg");
    command
        .args(["-v", "error", "-ss", &format!("{at:.3}"), "-i"])
        .arg(video)
        .args(["-frames:v", "1", "-vf"])
        .arg(format!(
            "crop={width}:{height}:{x}:{y},scale=1:1:flags=area"
        ))
        .args(["-pix_fmt", "rgb24", "-f", "rawvideo", "-"]);
    let output = output_within("ffmpeg", &mut command, PROBE_LIMIT).await?;
    match output.stdout[..] {
        [r, g, b, ..] => Ok([r, g, b]),
        _ => anyhow::bail!("no frame at {at} s"),
    }
}

/// How alike the pictures of two videos of the same size are, frame by frame: FFmpeg's
/// SSIM over all planes, 1 for identical (the smart render is checked against the
/// one-pass render with it).
pub async fn ssim(a: &Path, b: &Path, limit: Duration) -> anyhow::Result<f64> {
    let report = report_of(
        &[
            "-i".into(),
            a.to_string_lossy().into_owned(),
            "-i".into(),
            b.to_string_lossy().into_owned(),
            "-lavfi".into(),
            "[0:v][1:v]ssim".into(),
            "-f".into(),
            "null".into(),
            "-".into(),
        ],
        limit,
    )
    .await?;
    let all = report
        .rsplit_once(" All:")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .context("ssim did not report")?;
    all.parse().context("ssim's figure")
}

/// A path FFmpeg can take inside a filter graph without escaping: ours are made from
/// temporary directories and fixed names, and anything else is refused.
pub fn filter_path(path: &Path) -> anyhow::Result<String> {
    let text = path.to_str().context("path is not UTF-8")?;
    if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_.-+".contains(&b))
    {
        bail!("path unsafe for an FFmpeg filter: {text:?}");
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tool_past_its_limit_is_killed_and_says_so() {
        let started = std::time::Instant::now();
        let args: Vec<String> = ["-f", "lavfi", "-i", "testsrc=d=3600:r=5", "-f", "null", "-"]
            .map(String::from)
            .to_vec();
        let error = run_within(&args, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(error.is::<TimedOut>(), "{error:#}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(error.to_string().contains("took longer than"), "{error}");
    }

    #[tokio::test]
    async fn a_failure_keeps_ffmpegs_stderr_out_of_the_error() {
        let args: Vec<String> = ["-i", "/nonexistent/secret-temp-path.mp4", "-f", "null", "-"]
            .map(String::from)
            .to_vec();
        let error = run(&args).await.unwrap_err().to_string();
        assert!(error.contains("ffmpeg failed"), "{error}");
        assert!(!error.contains("secret-temp-path"), "{error}");
    }
}
