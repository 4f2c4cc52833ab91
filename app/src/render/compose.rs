//! The final video in one FFmpeg run and one encode: every clip normalised to the
//! project's frame (scaled to cover, cropped, 30 fps, yuv420p) and given a stereo track
//! (its own or silence), chained with crossfades (each clip but the last holds its last
//! frame for the length of the crossfade, so that the video lasts exactly as long as its
//! clips add up to, the length the user planned), the product name and the call to action
//! drawn over the first and last seconds, and the music (looped or trimmed to fit, faded
//! out) mixed under the clips' sound. FFmpeg's `-progress` output reports how far it is.
//!
//! User text never enters the filter graph: each line is written to a file that
//! `drawtext` reads (`textfile=`) with expansion off.

use crate::generation::{
    ffmpeg::filter_path,
    offline::{wrap, FONT},
};
use crate::projects::VideoFormat;
use anyhow::{bail, Context};
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    process::Command,
};
use tokio_util::sync::CancellationToken;

pub const FPS: u32 = 30;
pub const CROSSFADE_SECS: f64 = 0.5;

#[derive(Clone, Debug)]
pub struct Clip {
    pub path: PathBuf,
    pub duration_secs: f64,
    pub has_audio: bool,
}

#[derive(Clone, Debug)]
pub struct Music {
    pub path: PathBuf,
    /// 0–1, relative to the clips' own sound.
    pub volume: f64,
}

#[derive(Clone, Debug)]
pub struct Encoder {
    pub preset: String,
    pub crf: u32,
}

impl Default for Encoder {
    fn default() -> Self {
        Self {
            preset: "veryfast".into(),
            crf: 20,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Composition {
    pub clips: Vec<Clip>,
    pub format: VideoFormat,
    /// Shown near the top over the first seconds.
    pub title: Option<String>,
    /// Shown near the bottom over the last seconds.
    pub call_to_action: Option<String>,
    pub music: Option<Music>,
    pub encoder: Encoder,
}

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

impl Composition {
    /// The crossfade actually used: half a second, less for very short clips.
    pub fn crossfade(&self) -> f64 {
        let shortest = self
            .clips
            .iter()
            .map(|c| c.duration_secs)
            .fold(f64::INFINITY, f64::min);
        if self.clips.len() < 2 {
            0.0
        } else {
            CROSSFADE_SECS.min(shortest / 3.0)
        }
    }

    /// How long clip `index` holds its last frame: the crossfade into the next clip,
    /// which would otherwise shorten the video by its length.
    fn hold(&self, index: usize) -> f64 {
        if index + 1 < self.clips.len() {
            self.crossfade()
        } else {
            0.0
        }
    }

    /// How long clip `index` lasts in the render, its held frames included.
    fn held_duration(&self, index: usize) -> f64 {
        self.clips[index].duration_secs + self.hold(index)
    }

    /// How long the render may take before it is killed: generous (the one pass runs at
    /// about twice real time on two cores; a busy machine is slower), yet finite.
    pub fn time_limit(&self) -> Duration {
        Duration::from_secs_f64(120.0 + 10.0 * self.duration_secs())
    }

    /// Length of the result: the clips' lengths added up (the held frames make up for
    /// the overlaps of the crossfades).
    pub fn duration_secs(&self) -> f64 {
        self.clips.iter().map(|c| c.duration_secs).sum()
    }

    /// FFmpeg's arguments. Text files (and the font) are written into `text_dir`.
    pub fn ffmpeg_args(&self, text_dir: &Path, output: &Path) -> anyhow::Result<Vec<String>> {
        if self.clips.is_empty() {
            bail!("there are no clips to render");
        }
        if self.clips.iter().any(|c| c.duration_secs < 0.2) {
            bail!("a clip is too short to render");
        }
        let (width, height) = self.format.dimensions();
        let xf = self.crossfade();
        let total = self.duration_secs();
        let mut args: Vec<String> = vec!["-hide_banner".into(), "-nostdin".into(), "-y".into()];
        for clip in &self.clips {
            args.extend(["-i".into(), clip.path.to_string_lossy().into_owned()]);
        }
        if let Some(music) = &self.music {
            args.extend([
                "-stream_loop".into(),
                "-1".into(),
                "-i".into(),
                music.path.to_string_lossy().into_owned(),
            ]);
        }

        let mut graph: Vec<String> = Vec::new();
        for (i, clip) in self.clips.iter().enumerate() {
            let d = clip.duration_secs;
            let hold = self.hold(i);
            let held = if hold > 0.0 {
                format!(",tpad=stop_mode=clone:stop_duration={hold:.3}")
            } else {
                String::new()
            };
            // Frame rate first (fewer frames to scale), then crop to the frame's shape in
            // the source's pixels and scale once: the cheapest way to "cover".
            graph.push(format!(
                "[{i}:v]fps={FPS},trim=duration={d:.3},setpts=PTS-STARTPTS,\
                 crop='min(iw,ih*{width}/{height})':'min(ih,iw*{height}/{width})',\
                 scale={width}:{height}:flags=bilinear,setsar=1,format=yuv420p{held}[v{i}]"
            ));
            let d = self.held_duration(i);
            if clip.has_audio {
                graph.push(format!(
                    "[{i}:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,\
                     apad,atrim=duration={d:.3},asetpts=PTS-STARTPTS[a{i}]"
                ));
            } else {
                graph.push(format!(
                    "aevalsrc=0:c=stereo:s=48000:d={d:.3},aformat=sample_fmts=fltp:channel_layouts=stereo[a{i}]"
                ));
            }
        }
        // Crossfades: each clip is split into head, middle and tail; only the 0.5 s
        // overlaps go through `xfade` (tail of one clip with head of the next), and the
        // pieces are concatenated. Chaining whole streams through `xfade` costs as much
        // again as decoding every input.
        let video = if self.clips.len() == 1 {
            "v0".to_string()
        } else {
            let last = self.clips.len() - 1;
            let mut pieces = Vec::new();
            for i in 0..self.clips.len() {
                let d = self.held_duration(i);
                let head = i > 0;
                let tail = i < last;
                let outputs = 1 + head as usize + tail as usize;
                let mut names = vec![format!("[m{i}in]")];
                if head {
                    names.push(format!("[h{i}in]"));
                }
                if tail {
                    names.push(format!("[t{i}in]"));
                }
                graph.push(format!("[v{i}]split={outputs}{}", names.concat()));
                let start = if head { xf } else { 0.0 };
                let end = if tail { d - xf } else { d };
                graph.push(format!(
                    "[m{i}in]trim=start={start:.3}:end={end:.3},setpts=PTS-STARTPTS[m{i}]"
                ));
                if head {
                    graph.push(format!(
                        "[h{i}in]trim=duration={xf:.3},setpts=PTS-STARTPTS[h{i}]"
                    ));
                }
                if tail {
                    graph.push(format!(
                        "[t{i}in]trim=start={:.3}:end={d:.3},setpts=PTS-STARTPTS[t{i}]",
                        d - xf
                    ));
                }
            }
            for i in 1..=last {
                graph.push(format!(
                    "[t{}][h{i}]xfade=transition=fade:duration={xf:.3}:offset=0[x{i}]",
                    i - 1
                ));
            }
            for i in 0..=last {
                if i > 0 {
                    pieces.push(format!("[x{i}]"));
                }
                pieces.push(format!("[m{i}]"));
            }
            graph.push(format!(
                "{}concat=n={}:v=1:a=0[vcat]",
                pieces.concat(),
                pieces.len()
            ));
            "vcat".to_string()
        };
        let mut audio = "a0".to_string();
        for i in 1..self.clips.len() {
            graph.push(format!(
                "[{audio}][a{i}]acrossfade=d={xf:.3}:c1=tri:c2=tri[ax{i}]"
            ));
            audio = format!("ax{i}");
        }

        // Titles.
        let font = text_dir.join("font.ttf");
        std::fs::write(&font, FONT).context("writing the font")?;
        let font = filter_path(&font)?;
        let mut overlays: Vec<String> = Vec::new();
        let short = width.min(height) as f64;
        let show = (total / 3.0).clamp(1.0, 3.5);
        if let Some(title) = self.title.as_deref().filter(|t| !t.trim().is_empty()) {
            let size = (short * 0.085).round();
            let lines = wrap(title, chars_per_line(width, size), 2);
            let (start, end) = (0.2, 0.2 + show);
            let top = height as f64 * 0.09;
            overlays.extend(text_lines(
                text_dir, "title", &lines, &font, size, top, start, end,
            )?);
        }
        if let Some(cta) = self
            .call_to_action
            .as_deref()
            .filter(|t| !t.trim().is_empty())
        {
            let size = (short * 0.07).round();
            let lines = wrap(cta, chars_per_line(width, size), 3);
            let (start, end) = ((total - show).max(0.0), total);
            let block = size * 1.3 * lines.len() as f64;
            let top = height as f64 * 0.88 - block;
            overlays.extend(text_lines(
                text_dir, "cta", &lines, &font, size, top, start, end,
            )?);
        }
        let vout = if overlays.is_empty() {
            graph.push(format!("[{video}]null[vout]"));
            "vout"
        } else {
            graph.push(format!("[{video}]{}[vout]", overlays.join(",")));
            "vout"
        };

        // Music under the clips' sound.
        let aout = match &self.music {
            Some(music) => {
                let m = self.clips.len();
                let volume = music.volume.clamp(0.0, 1.0);
                let fade = total.min(2.0);
                graph.push(format!(
                    "[{m}:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,\
                     atrim=duration={total:.3},asetpts=PTS-STARTPTS,volume={volume:.3},\
                     afade=t=out:st={:.3}:d={fade:.3}[music]",
                    total - fade
                ));
                graph.push(format!(
                    "[{audio}][music]amix=inputs=2:duration=first:dropout_transition=0:normalize=0[aout]"
                ));
                "aout"
            }
            None => {
                graph.push(format!("[{audio}]anull[aout]"));
                "aout"
            }
        };

        args.extend([
            "-filter_complex".into(),
            graph.join(";"),
            "-map".into(),
            format!("[{vout}]"),
            "-map".into(),
            format!("[{aout}]"),
            "-c:v".into(),
            "libx264".into(),
            "-preset".into(),
            self.encoder.preset.clone(),
            "-crf".into(),
            self.encoder.crf.to_string(),
            "-pix_fmt".into(),
            "yuv420p".into(),
            "-r".into(),
            FPS.to_string(),
            "-c:a".into(),
            "aac".into(),
            "-b:a".into(),
            "192k".into(),
            "-ar".into(),
            "48000".into(),
            "-t".into(),
            format!("{total:.3}"),
            "-movflags".into(),
            "+faststart".into(),
            "-progress".into(),
            "pipe:1".into(),
            "-nostats".into(),
            "-loglevel".into(),
            "error".into(),
            output.to_string_lossy().into_owned(),
        ]);
        Ok(args)
    }
}

fn chars_per_line(width: u32, size: f64) -> usize {
    ((width as f64 * 0.84) / (size * 0.62)).max(8.0) as usize
}

/// One `drawtext` per line, centred, fading in and out between `start` and `end`.
#[allow(clippy::too_many_arguments)]
fn text_lines(
    dir: &Path,
    name: &str,
    lines: &[String],
    font: &str,
    size: f64,
    top: f64,
    start: f64,
    end: f64,
) -> anyhow::Result<Vec<String>> {
    let fade = ((end - start) / 4.0).min(0.4);
    let alpha = format!(
        "if(lt(t\\,{a:.3})\\,(t-{start:.3})/{fade:.3}\\,if(gt(t\\,{b:.3})\\,({end:.3}-t)/{fade:.3}\\,1))",
        a = start + fade,
        b = end - fade,
    );
    let mut filters = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let file = dir.join(format!("{name}-{index}.txt"));
        std::fs::write(&file, line).context("writing overlay text")?;
        filters.push(format!(
            "drawtext=fontfile={font}:textfile={}:expansion=none:fontsize={size:.0}:fontcolor=white:\
             x=(w-text_w)/2:y={:.0}:box=1:boxcolor=black@0.35:boxborderw={:.0}:\
             shadowcolor=black@0.5:shadowy={:.0}:enable=between(t\\,{start:.3}\\,{end:.3}):alpha={alpha}",
            filter_path(&file)?,
            top + index as f64 * size * 1.3,
            size * 0.25,
            (size / 16.0).max(1.0),
        ));
    }
    Ok(filters)
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
    let read = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(value) = line.strip_prefix("out_time_us=") {
                if let Ok(us) = value.trim().parse::<f64>() {
                    on_progress((us / total_us).clamp(0.0, 0.999));
                }
            }
        }
    };
    tokio::select! {
        biased;
        _ = cancel.cancelled() => {
            let _ = child.kill().await;
            return Err(RenderError::Cancelled);
        }
        _ = &mut deadline => {
            let _ = child.kill().await;
            return Err(RenderError::TimedOut(limit));
        }
        _ = read => {}
    }
    let status = tokio::select! {
        _ = cancel.cancelled() => {
            let _ = child.kill().await;
            return Err(RenderError::Cancelled);
        }
        _ = &mut deadline => {
            let _ = child.kill().await;
            return Err(RenderError::TimedOut(limit));
        }
        status = child.wait() => status.context("waiting for ffmpeg")?,
    };
    let errors = errors.await.unwrap_or_default();
    if !status.success() {
        // Operators read FFmpeg's words in the log; users read that the render failed.
        tracing::warn!(%status, stderr = %errors.trim(), "the render's FFmpeg failed");
        return Err(RenderError::Failed(anyhow::anyhow!(
            "FFmpeg failed ({status}); the details are in the server log"
        )));
    }
    on_progress(1.0);
    Ok(())
}
