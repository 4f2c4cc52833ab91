//! Running FFmpeg and ffprobe.

use anyhow::{bail, Context};
use std::{path::Path, process::Stdio};
use tokio::process::Command;

/// Runs `ffmpeg` with `args` (quiet, overwriting outputs); its stderr becomes the error.
pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("running ffmpeg (is the `ffmpeg` package installed?)")?;
    if !output.status.success() {
        bail!(
            "ffmpeg failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
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
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(path)
        .output()
        .await
        .context("running ffprobe")?;
    if !output.status.success() {
        bail!(
            "ffprobe failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
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
