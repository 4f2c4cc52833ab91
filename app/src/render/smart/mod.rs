//! The smart render: the user waits only for what changed. Each approved clip is
//! normalised ahead of time (`normalise.rs`); the final render then makes afresh only the
//! crossfades, the end card and the spans with something drawn over them (titles, the
//! logo, captions), copies the rest of the normalised clips as they are, joins the pieces
//! without re-encoding them (FFmpeg's concat demuxer), and makes the sound in a pass of
//! its own meanwhile (cheap: no picture). The pieces are laid out as the one-pass render
//! lays out the video (`plan.rs`) and drawn by the same filters (`overlays.rs`), so the
//! two look the same; `run.rs` falls back to the one pass when the plan does not fit.

pub mod ahead;
pub mod job;
pub mod kept;
pub mod normalise;
pub mod pieces;
pub mod plan;

use super::compose::{Composition, FPS};
use super::mix;
use super::overlays::Overlays;
use super::run::RenderError;
use crate::generation::ffmpeg;
use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use pieces::{Names, Pieces};
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
}

/// What a smart render did, for the log and the bench.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Made {
    /// Frames made afresh by this render.
    pub made_frames: u32,
    /// Frames of pieces made before (in the background, or by an earlier render).
    pub reused_frames: u32,
    /// Frames copied from the normalised clips as they are.
    pub copied_frames: u32,
}

/// A piece to make: FFmpeg's arguments, its frames and its name.
struct Making {
    args: Vec<String>,
    frames: u32,
    key: String,
    file: PathBuf,
}

/// A plan's work once the pieces kept from before are fetched: what is left to make.
pub struct Work {
    making: Vec<Making>,
    /// The sound's arguments and name, or `None` when it was kept.
    sound: Option<(Vec<String>, String)>,
    sound_file: PathBuf,
    made: Made,
}

impl Work {
    /// Names every piece `plan` makes (and the sound), and fetches from `pieces` those
    /// made before into `work_dir`. Input files under `inputs` are named by content (see
    /// `pieces.rs`).
    pub async fn gather(
        composition: &Composition,
        normalised: &[Normalised],
        plan: &Plan,
        work_dir: &Path,
        inputs: &Path,
        pieces: &dyn Pieces,
    ) -> anyhow::Result<Self> {
        let mut names = Names::new(&[inputs, work_dir]);
        let mut made = Made {
            copied_frames: plan.timeline.total() - plan.made_frames(),
            ..Made::default()
        };
        let mut making = Vec::new();
        for (index, piece) in plan.pieces.iter().enumerate() {
            if piece.is_made() {
                let file = piece_file(work_dir, index);
                let args = piece_args(composition, normalised, plan, piece, work_dir, &file)?;
                let key = names.of("piece", &args, &file).await;
                if fetched(pieces, &key, &file).await {
                    made.reused_frames += piece.frames();
                } else {
                    made.made_frames += piece.frames();
                    making.push(Making {
                        args,
                        frames: piece.frames(),
                        key,
                        file,
                    });
                }
            }
        }
        let sound_file = work_dir.join("sound.m4a");
        let args = sound_args(composition, &sound_file);
        // The loudness step's settings are in the name too.
        let what = format!("sound at {} LUFS, {}", mix::TARGET_LUFS, mix::level(0.0));
        let key = names.of(&what, &args, &sound_file).await;
        let sound = (!fetched(pieces, &key, &sound_file).await).then_some((args, key));
        Ok(Self {
            making,
            sound,
            sound_file,
            made,
        })
    }

    /// The share of the video's frames still to make (0–1).
    pub fn left_share(&self) -> f64 {
        let Made {
            made_frames,
            reused_frames,
            copied_frames,
        } = self.made;
        made_frames as f64 / (made_frames + reused_frames + copied_frames).max(1) as f64
    }

    /// Makes what is left, the pieces two at a time with the sound beside them, and keeps
    /// each in `pieces`. `on_progress` gets 0–1 of the frames to make.
    pub async fn make(
        &mut self,
        pieces: &dyn Pieces,
        mut on_progress: impl FnMut(f64) + Send,
        limit: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        let total = self.made.made_frames;
        let sound_done = async {
            if let Some((args, key)) = &self.sound {
                make_sound(&self.sound_file, args, limit).await?;
                keep(pieces, key, &self.sound_file, 0).await;
            }
            anyhow::Ok(())
        };
        // Owned by what runs them (borrowed, the futures would not be `Send`).
        let making = std::mem::take(&mut self.making);
        let made = futures::stream::iter(making.into_iter().map(move |making| async move {
            let remaining = deadline.saturating_duration_since(Instant::now());
            ffmpeg::run_within(&making.args, remaining).await?;
            keep(pieces, &making.key, &making.file, making.frames).await;
            anyhow::Ok(making.frames)
        }))
        .buffer_unordered(2);
        let video_done = async {
            let mut done = 0u32;
            let mut made = std::pin::pin!(made);
            while let Some(frames) = made.try_next().await? {
                done += frames;
                on_progress(done as f64 / total.max(1) as f64);
            }
            anyhow::Ok(())
        };
        let (video, sound) = tokio::join!(video_done, sound_done);
        video?;
        sound?;
        self.sound = None;
        Ok(())
    }
}

/// Whether `pieces` had the piece `key` (written to `file`). One that cannot be fetched
/// is made again.
async fn fetched(pieces: &dyn Pieces, key: &str, file: &Path) -> bool {
    match pieces.fetch(key, file).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "could not fetch a piece made before; making it again");
            false
        }
    }
}

/// Keeps a made piece; one that cannot be kept is made again next time.
async fn keep(pieces: &dyn Pieces, key: &str, file: &Path, frames: u32) {
    if let Err(error) = pieces.keep(key, file, frames).await {
        tracing::warn!(error = %format!("{error:#}"), "could not keep a made piece");
    }
}

/// Makes (in the background, before the render is asked for) every piece of `plan` not
/// kept in `pieces` yet, and keeps them there.
pub async fn prepare(
    composition: &Composition,
    normalised: &[Normalised],
    plan: &Plan,
    work_dir: &Path,
    inputs: &Path,
    pieces: &dyn Pieces,
    limit: Duration,
) -> anyhow::Result<Made> {
    let mut work = Work::gather(composition, normalised, plan, work_dir, inputs, pieces).await?;
    work.make(pieces, |_| {}, limit).await?;
    Ok(work.made)
}

/// Runs `plan`: makes what `work` has left (see [`Work::make`]), then joins the pieces.
/// `on_progress` gets 0–1. Dropping the future stops every FFmpeg it started.
#[allow(clippy::too_many_arguments)]
pub async fn render(
    normalised: &[Normalised],
    plan: &Plan,
    mut work: Work,
    work_dir: &Path,
    output: &Path,
    pieces: &dyn Pieces,
    mut on_progress: impl FnMut(f64) + Send,
    limit: Duration,
) -> Result<Made, RenderError> {
    let started = Instant::now();
    work.make(pieces, |p| on_progress(0.9 * p), limit).await?;
    let deadline = started + limit;
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
        path(&work.sound_file),
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
    Ok(work.made)
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

/// FFmpeg's arguments for the sound alone, from the original clips, the music and the
/// voice (its loudness is set after: see `make_sound`).
fn sound_args(composition: &Composition, sound: &Path) -> Vec<String> {
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
    args
}

/// Makes the sound with `args` (see [`sound_args`]), then sets its loudness (see `mix.rs`).
async fn make_sound(sound: &Path, args: &[String], limit: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    ffmpeg::run_within(args, limit).await?;
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
