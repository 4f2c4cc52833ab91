//! A clip normalised to the output: the project's frame, 30 fps, yuv420p, encoded as the
//! final video is (same encoder, preset and quality), a keyframe every [`GOP`] frames and
//! no B-frames, so any span of it starting on a keyframe can be copied into the final
//! video as it is. Made in the background when the clip is approved (see
//! `job.rs`), so the final render has little left to encode.

use super::plan::GOP;
use crate::generation::ffmpeg;
use crate::projects::VideoFormat;
use crate::render::compose::{normalise_filter, Encoder, FPS};
use anyhow::Context;
use std::{path::Path, time::Duration};

/// Names what a normalised clip was made with: a file made with other settings is not
/// reused (a change here changes the name).
pub fn settings(encoder: &Encoder) -> String {
    format!(
        "x264 {} crf{} gop{GOP} bf0 {FPS}fps",
        encoder.preset, encoder.crf
    )
}

/// The MP4 time scale of every piece: the copied ones and the made ones must share it.
const TIMESCALE: &str = "15360";

/// Encoder arguments of every piece of a smart render, normalised clips included: the
/// same stream parameters, so that the pieces join without a re-encode.
pub fn piece_codec(encoder: &Encoder) -> Vec<String> {
    [
        "-c:v",
        "libx264",
        "-preset",
        &encoder.preset,
        "-crf",
        &encoder.crf.to_string(),
        "-pix_fmt",
        "yuv420p",
        "-profile:v",
        "high",
        "-bf",
        "0",
        "-g",
        &GOP.to_string(),
        "-keyint_min",
        &GOP.to_string(),
        "-sc_threshold",
        "0",
        "-r",
        &FPS.to_string(),
        "-video_track_timescale",
        TIMESCALE,
        "-an",
    ]
    .map(String::from)
    .to_vec()
}

/// Normalises the clip at `source` into `output` within `limit`; answers its frames.
pub async fn normalise(
    source: &Path,
    format: VideoFormat,
    encoder: &Encoder,
    output: &Path,
    limit: Duration,
) -> anyhow::Result<u32> {
    let mut args: Vec<String> = vec![
        "-i".into(),
        source.to_string_lossy().into_owned(),
        "-map".into(),
        "0:v:0".into(),
        "-vf".into(),
        normalise_filter(format, None),
    ];
    args.extend(piece_codec(encoder));
    args.extend([
        "-movflags".into(),
        "+faststart".into(),
        output.to_string_lossy().into_owned(),
    ]);
    ffmpeg::run_within(&args, limit).await?;
    frames_of(output).await
}

/// How many frames a normalised clip (or piece) has.
pub async fn frames_of(path: &Path) -> anyhow::Result<u32> {
    let probed = ffmpeg::probe(path).await?;
    let secs = probed
        .duration_secs
        .context("a normalised clip without a length")?;
    Ok((secs * FPS as f64).round() as u32)
}
