//! The smart render: the user waits only for what changed. Each approved clip is
//! normalised ahead of time (`normalise.rs`); the final render then makes afresh only the
//! crossfades, the end card and the spans with something drawn over them (titles, the
//! logo, captions), copies the rest of the normalised clips as they are, joins the pieces
//! without re-encoding them (FFmpeg's concat demuxer), and makes the sound in a pass of
//! its own meanwhile (cheap: no picture). The pieces are laid out as the one-pass render
//! lays out the video (`plan.rs`) and drawn by the same filters (`overlays.rs`), so the
//! two look the same; `run.rs` falls back to the one pass when the plan does not fit.

pub mod job;
pub mod normalise;
pub mod plan;

use super::compose::{Composition, FPS};
use super::mix;
use super::overlays::Overlays;
use super::run::RenderError;
use crate::generation::ffmpeg;
use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use plan::{Piece, Source, Timeline};
use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// A clip normalised for the render (see `normalise.rs`).
#[derive(Clone, Debug)]
pub struct Normalised {
    pub path: PathBuf,
    pub frames: u32,
}

/// A smart render's plan: its pieces and what they hold.
pub struct Plan {
    pub timeline: Timeline,
    pub pieces: Vec<Piece>,
    overlays: Overlays,
}

impl Plan {
    /// The plan for `composition` over its normalised clips (one per clip, in order), or
    /// `None` when they do not fit it. Text files go into `text_dir`.
    pub fn of(
        composition: &Composition,
        normalised: &[Normalised],
        text_dir: &Path,
    ) -> anyhow::Result<Option<Self>> {
        composition.check()?;
        if normalised.len() != composition.clips.len() {
            return Ok(None);
        }
        let overlays = Overlays::of(composition, text_dir)?;
        let timeline = Timeline::of(composition);
        let frames: Vec<u32> = normalised.iter().map(|n| n.frames).collect();
        let pieces = plan::pieces(&timeline, &frames, |a, b| overlays.over(a, b));
        Ok(pieces.map(|pieces| Self {
            timeline,
            pieces,
            overlays,
        }))
    }

    /// How many of the video's frames are made afresh.
    pub fn made_frames(&self) -> u32 {
        self.pieces
            .iter()
            .filter(|p| p.is_made())
            .map(Piece::frames)
            .sum()
    }

    /// The share of the video's frames made afresh (0–1).
    pub fn made_share(&self) -> f64 {
        self.made_frames() as f64 / self.timeline.total().max(1) as f64
    }
}

/// What a smart render did, for the log and the bench.
#[derive(Clone, Copy, Debug)]
pub struct Made {
    pub made_frames: u32,
    pub copied_frames: u32,
}

/// Runs `plan`: the made pieces two at a time with the sound beside them, then the join.
/// `on_progress` gets 0–1. Dropping the future stops every FFmpeg it started.
pub async fn render(
    composition: &Composition,
    normalised: &[Normalised],
    plan: &Plan,
    work_dir: &Path,
    output: &Path,
    mut on_progress: impl FnMut(f64) + Send,
    limit: Duration,
) -> Result<Made, RenderError> {
    let started = Instant::now();
    let made_total = plan.made_frames();
    let sound = work_dir.join("sound.m4a");
    let sound_done = make_sound(composition, &sound, limit);
    // Each made piece's command first, so that what runs owns all it needs.
    let mut commands = Vec::new();
    for (index, piece) in plan.pieces.iter().enumerate() {
        if piece.is_made() {
            let file = piece_file(work_dir, index);
            let args = piece_args(composition, normalised, plan, piece, work_dir, &file)?;
            commands.push((args, piece.frames()));
        }
    }
    let deadline = started + limit;
    let pieces =
        futures::stream::iter(commands.into_iter().map(move |(args, frames)| async move {
            let remaining = deadline.saturating_duration_since(Instant::now());
            ffmpeg::run_within(&args, remaining).await?;
            anyhow::Ok(frames)
        }))
        .buffer_unordered(2);
    let video_done = async {
        let mut done = 0u32;
        let mut pieces = std::pin::pin!(pieces);
        while let Some(frames) = pieces.try_next().await? {
            done += frames;
            on_progress(0.9 * done as f64 / made_total.max(1) as f64);
        }
        anyhow::Ok(())
    };
    let (video, sound_result) = tokio::join!(video_done, sound_done);
    video?;
    sound_result?;
    // The pieces in order: made ones from their files, copied ones as spans of their clips.
    let mut list = String::new();
    for (index, piece) in plan.pieces.iter().enumerate() {
        match piece {
            Piece::Copy {
                clip,
                from,
                start,
                end,
                ..
            } => {
                list.push_str(&format!("file {}\n", concat_path(&normalised[*clip].path)));
                // The in point is a keyframe: a multiple of half a second, exact in
                // microseconds. The out point drops the frames from `to` on.
                let to = from + (end - start);
                list.push_str(&format!("inpoint {}us\n", frame_us(*from)));
                list.push_str(&format!("outpoint {}us\n", frame_us(to)));
            }
            Piece::Make { .. } => {
                let file = piece_file(work_dir, index);
                list.push_str(&format!("file {}\n", concat_path(&file)));
            }
        }
    }
    let list_file = work_dir.join("pieces.txt");
    tokio::fs::write(&list_file, list)
        .await
        .context("writing the list of pieces")?;
    let total = plan.timeline.total() as f64 / FPS as f64;
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let args: Vec<String> = vec![
        "-f".into(),
        "concat".into(),
        "-safe".into(),
        "0".into(),
        "-i".into(),
        path(&list_file),
        "-i".into(),
        path(&sound),
        "-map".into(),
        "0:v".into(),
        "-map".into(),
        "1:a".into(),
        "-c".into(),
        "copy".into(),
        "-t".into(),
        format!("{total:.3}"),
        "-movflags".into(),
        "+faststart".into(),
        path(output),
    ];
    let remaining = deadline.saturating_duration_since(Instant::now());
    ffmpeg::run_within(&args, remaining.max(Duration::from_secs(30))).await?;
    on_progress(1.0);
    Ok(Made {
        made_frames: made_total,
        copied_frames: plan.timeline.total() - made_total,
    })
}

/// Where the made piece `index` (of the plan's pieces) is written.
fn piece_file(work_dir: &Path, index: usize) -> PathBuf {
    work_dir.join(format!("piece{index}.mp4"))
}

/// The time of frame `frame` in whole microseconds, rounded down (so an out point never
/// passes the frame it stops before).
fn frame_us(frame: u32) -> u64 {
    frame as u64 * 1_000_000 / FPS as u64
}

/// A path as the concat demuxer's list reads it: quoted, quotes escaped.
fn concat_path(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', "'\\''"))
}

/// The sound alone, from the original clips, the music and the voice, then its loudness
/// set (see `mix.rs`).
async fn make_sound(
    composition: &Composition,
    sound: &Path,
    limit: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut args: Vec<String> = Vec::new();
    for clip in &composition.clips {
        // The sound only: the picture is not decoded.
        args.extend([
            "-vn".into(),
            "-i".into(),
            clip.path.to_string_lossy().into_owned(),
        ]);
    }
    let (music, voices) = composition.sound_inputs(&mut args);
    args.extend([
        "-filter_complex".into(),
        composition.sound_graph(music, voices).join(";"),
        "-map".into(),
        "[aout]".into(),
    ]);
    args.extend(mix::AUDIO_CODEC.map(String::from));
    args.extend([
        "-t".into(),
        format!("{:.3}", composition.duration_secs()),
        sound.to_string_lossy().into_owned(),
    ]);
    ffmpeg::run_within(&args, limit).await?;
    let remaining = limit
        .saturating_sub(started.elapsed())
        .max(Duration::from_secs(30));
    mix::normalise_loudness(sound, remaining).await
}

/// FFmpeg's arguments for a made piece: its frames, given their times in the video (so
/// the overlays' timing holds), drawn over, then numbered from zero again.
fn piece_args(
    composition: &Composition,
    normalised: &[Normalised],
    plan: &Plan,
    piece: &Piece,
    work_dir: &Path,
    file: &Path,
) -> anyhow::Result<Vec<String>> {
    let Piece::Make { start, end, source } = piece else {
        anyhow::bail!("a copied piece is not made");
    };
    let frames = end - start;
    let mut args: Vec<String> = Vec::new();
    // Frame `frame` of clip `clip` and the ones after it: an accurate seek to half a frame
    // before it keeps it and drops the one before.
    let mut input = |clip: usize, frame: u32| {
        if frame > 0 {
            args.extend([
                "-ss".into(),
                format!("{:.6}", (frame as f64 - 0.5) / FPS as f64),
            ]);
        }
        args.extend([
            "-i".into(),
            normalised[clip].path.to_string_lossy().into_owned(),
        ]);
    };
    let mut graph = Vec::new();
    let crossfade = plan.timeline.crossfade;
    let xf = crossfade as f64 / FPS as f64;
    // `held` is the last frame of the part before, held for the crossfade.
    let held = |graph: &mut Vec<String>| {
        graph.push(format!(
            "[0:v]trim=end_frame=1,settb=1/{FPS},setpts=N,tpad=stop_mode=clone:stop={crossfade}[held]"
        ));
    };
    let logo_input;
    match source {
        Source::Clip { clip, from } => {
            input(*clip, *from);
            logo_input = 1;
            graph.push(format!(
                "[0:v]trim=end_frame={frames},settb=1/{FPS},setpts=N+{start}[picture]"
            ));
        }
        Source::Crossfade { into, held: frame } => {
            input(into - 1, *frame);
            input(*into, 0);
            logo_input = 2;
            held(&mut graph);
            graph.push(format!(
                "[1:v]trim=end_frame={crossfade},settb=1/{FPS},setpts=N[head]"
            ));
            graph.push(format!(
                "[held][head]xfade=transition=fade:duration={xf:.6}:offset=0,settb=1/{FPS},setpts=N+{start}[picture]"
            ));
        }
        Source::EndCard { held: frame } => {
            input(composition.clips.len() - 1, *frame);
            logo_input = 1;
            held(&mut graph);
            let logo = plan.overlays.logo_file().map(|_| "logo_card");
            let card =
                composition.end_card(&plan.overlays, frames as f64 / FPS as f64, logo, work_dir)?;
            graph.push(format!("{card},settb=1/{FPS},setpts=N[card]"));
            graph.push(format!(
                "[held][card]xfade=transition=fade:duration={xf:.6}:offset=0,settb=1/{FPS},setpts=N+{start}[picture]"
            ));
        }
    }
    let logo = plan.overlays.logo_file().map(|path| {
        args.extend(["-i".into(), path.to_string_lossy().into_owned()]);
        if matches!(source, Source::EndCard { .. }) {
            graph.insert(
                0,
                format!("[{logo_input}:v]format=rgba,split=2[logo_corner][logo_card]"),
            );
        } else {
            graph.insert(0, format!("[{logo_input}:v]format=rgba[logo_corner]"));
        }
        "logo_corner"
    });
    graph.extend(plan.overlays.chain("picture", logo, "drawn"));
    graph.push("[drawn]setpts=N[out]".into());
    args.extend([
        "-filter_complex".into(),
        graph.join(";"),
        "-map".into(),
        "[out]".into(),
        "-frames:v".into(),
        frames.to_string(),
    ]);
    args.extend(normalise::piece_codec(&composition.encoder));
    args.push(file.to_string_lossy().into_owned());
    Ok(args)
}
