//! `reelsmith bench-compose`: times the one-pass render and the smart render (what the
//! user waits for once the clips are normalised and the pieces made ahead; also with
//! nothing made ahead, and with one scene changed since) against the prototype's multi-pass
//! pipeline (normalise each clip, concat, drawtext re-encode, audio mix) and against one
//! plain libx264 encode of the same length, all with the same encoder settings, in the
//! same run, and prints how alike the smart and one-pass videos are (SSIM). Run through
//! `bench/compose`.

use anyhow::{bail, Context};
use app::{
    generation::ffmpeg::{probe, ssim},
    projects::VideoFormat,
    render::{
        compose::{Clip, Composition, Encoder, Music},
        run::{render, render_best, Way},
        smart::{
            normalise::normalise,
            pieces::{NoPieces, PieceDir, Pieces},
            prepare, Made, Normalised, Plan,
        },
    },
};
use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// Six 5-second clips of mixed sizes and frame rates, each with sound.
const CLIPS: [(&str, u32); 6] = [
    ("1280x720", 25),
    ("720x1280", 24),
    ("1080x1080", 30),
    ("1920x1080", 30),
    ("480x854", 60),
    ("1080x1920", 30),
];
const CLIP_SECS: f64 = 5.0;
const TITLE: &str = "Lumen";
const CTA: &str = "Order yours today";

async fn ffmpeg(args: &[String]) -> anyhow::Result<()> {
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .await
        .context("running ffmpeg")?;
    if !output.status.success() {
        bail!("ffmpeg failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

fn s(value: impl ToString) -> String {
    value.to_string()
}

fn p(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A test-pattern clip with a tone, as a generator would hand one over.
async fn input_clip(path: PathBuf, size: &str, rate: u32, tone: usize) -> anyhow::Result<Clip> {
    ffmpeg(&[
        s("-f"),
        s("lavfi"),
        s("-i"),
        format!("testsrc2=s={size}:r={rate}:d={CLIP_SECS}"),
        s("-f"),
        s("lavfi"),
        s("-i"),
        format!("sine=frequency={tone}:d={CLIP_SECS}"),
        s("-c:v"),
        s("libx264"),
        s("-preset"),
        s("ultrafast"),
        s("-pix_fmt"),
        s("yuv420p"),
        s("-c:a"),
        s("aac"),
        p(&path),
    ])
    .await?;
    Ok(Clip {
        path,
        duration_secs: CLIP_SECS,
        has_audio: true,
    })
}

async fn make_inputs(dir: &Path) -> anyhow::Result<(Vec<Clip>, PathBuf)> {
    let mut clips = Vec::new();
    for (i, (size, rate)) in CLIPS.iter().enumerate() {
        let path = dir.join(format!("clip{i}.mp4"));
        clips.push(input_clip(path, size, *rate, 300 + 50 * i).await?);
    }
    let music = dir.join("music.m4a");
    ffmpeg(&[
        s("-f"),
        s("lavfi"),
        s("-i"),
        s("aevalsrc=0.2*sin(2*PI*220*t)+0.1*sin(2*PI*330*t):s=48000:d=40"),
        s("-c:a"),
        s("aac"),
        p(&music),
    ])
    .await?;
    Ok((clips, music))
}

/// The prototype's pipeline (seed 004, §3.3), with our encoder settings.
async fn multipass(
    dir: &Path,
    clips: &[Clip],
    music: &Path,
    encoder: &Encoder,
    font: &Path,
) -> anyhow::Result<PathBuf> {
    let (width, height) = VideoFormat::Vertical.dimensions();
    let mut list = String::new();
    for (i, clip) in clips.iter().enumerate() {
        let normalised = dir.join(format!("normalized_{i:03}.mp4"));
        ffmpeg(&[
            s("-i"), p(&clip.path),
            s("-vf"), format!("scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},fps=30"),
            s("-c:v"), s("libx264"), s("-preset"), encoder.preset.clone(), s("-crf"), s(encoder.crf),
            s("-pix_fmt"), s("yuv420p"), s("-c:a"), s("aac"), s("-b:a"), s("128k"),
            s("-movflags"), s("+faststart"), p(&normalised),
        ])
        .await?;
        list.push_str(&format!("file '{}'\n", p(&normalised)));
    }
    let list_file = dir.join("concat_list.txt");
    tokio::fs::write(&list_file, list).await?;
    let concatenated = dir.join("concatenated.mp4");
    ffmpeg(&[
        s("-f"),
        s("concat"),
        s("-safe"),
        s("0"),
        s("-i"),
        p(&list_file),
        s("-c"),
        s("copy"),
        p(&concatenated),
    ])
    .await?;
    let total = CLIP_SECS * clips.len() as f64;
    let with_text = dir.join("with_text.mp4");
    let font = p(font);
    ffmpeg(&[
        s("-i"), p(&concatenated),
        s("-vf"), format!(
            "drawtext=text='{TITLE}':fontfile={font}:fontsize=92:fontcolor=white:x=(w-text_w)/2:y=170:enable='between(t,0.2,3.7)',\
             drawtext=text='{CTA}':fontfile={font}:fontsize=76:fontcolor=white:x=(w-text_w)/2:y=1590:enable='between(t,{},{total})'",
            total - 3.5
        ),
        s("-c:v"), s("libx264"), s("-preset"), encoder.preset.clone(), s("-crf"), s(encoder.crf),
        s("-pix_fmt"), s("yuv420p"), s("-c:a"), s("copy"), p(&with_text),
    ])
    .await?;
    let final_video = dir.join("final_video.mp4");
    ffmpeg(&[
        s("-i"), p(&with_text), s("-i"), p(music),
        s("-filter_complex"), format!(
            "[0:a]volume=1.0[a0];[1:a]volume=0.3,afade=t=out:st={}:d=1[a1];[a0][a1]amix=inputs=2:duration=first[aout]",
            total - 1.0
        ),
        s("-map"), s("0:v"), s("-map"), s("[aout]"),
        s("-c:v"), s("copy"), s("-c:a"), s("aac"), s("-b:a"), s("192k"), p(&final_video),
    ])
    .await?;
    Ok(final_video)
}

async fn single_encode(source: &Path, output: &Path, encoder: &Encoder) -> anyhow::Result<()> {
    ffmpeg(&[
        s("-i"),
        p(source),
        s("-c:v"),
        s("libx264"),
        s("-preset"),
        encoder.preset.clone(),
        s("-crf"),
        s(encoder.crf),
        s("-pix_fmt"),
        s("yuv420p"),
        s("-r"),
        s("30"),
        s("-c:a"),
        s("aac"),
        s("-b:a"),
        s("192k"),
        s("-movflags"),
        s("+faststart"),
        p(output),
    ])
    .await
}

/// Each timing's best over the runs.
#[derive(Clone, Copy)]
struct Best {
    ours: f64,
    cold: f64,
    ahead: f64,
    wait: f64,
    changed: f64,
    theirs: f64,
    plain: f64,
}

impl Default for Best {
    fn default() -> Self {
        Self {
            ours: f64::MAX,
            cold: f64::MAX,
            ahead: f64::MAX,
            wait: f64::MAX,
            changed: f64::MAX,
            theirs: f64::MAX,
            plain: f64::MAX,
        }
    }
}

impl Best {
    fn keep(&mut self, run: Best) {
        self.ours = self.ours.min(run.ours);
        self.cold = self.cold.min(run.cold);
        self.ahead = self.ahead.min(run.ahead);
        self.wait = self.wait.min(run.wait);
        self.changed = self.changed.min(run.changed);
        self.theirs = self.theirs.min(run.theirs);
        self.plain = self.plain.min(run.plain);
    }
}

/// The smart render of `composition` with `pieces`: how it went and how long it took.
async fn smart(
    composition: &Composition,
    normalised: &[Normalised],
    dir: &Path,
    output: &Path,
    pieces: &dyn Pieces,
) -> anyhow::Result<(Made, f64)> {
    let started = Instant::now();
    let way = render_best(
        composition,
        normalised,
        dir,
        output,
        pieces,
        |_| {},
        &CancellationToken::new(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let Way::Smart(made) = way else {
        bail!("the smart render fell back to the one pass");
    };
    Ok((made, secs(started.elapsed())))
}

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

pub async fn bench_compose(runs: usize, keep: Option<PathBuf>) -> anyhow::Result<()> {
    let runs = runs.max(1);
    let scratch = tempfile::Builder::new()
        .prefix("reelsmith-bench-")
        .tempdir()?;
    let dir = keep.clone().unwrap_or_else(|| scratch.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let dir = std::path::absolute(dir)?;
    let encoder = Encoder::default();
    println!(
        "Inputs: {} clips of {CLIP_SECS} s ({}), with sound; 40 s of music. Output 1080x1920, 30 fps, libx264 preset {} crf {}, AAC.",
        CLIPS.len(),
        CLIPS.iter().map(|(size, rate)| format!("{size}@{rate}")).collect::<Vec<_>>().join(", "),
        encoder.preset,
        encoder.crf
    );
    let (clips, music) = make_inputs(&dir).await?;
    let font = dir.join("font.ttf");
    std::fs::write(&font, app::generation::offline::FONT)?;
    let composition = Composition {
        clips: clips.clone(),
        format: VideoFormat::Vertical,
        title: Some(TITLE.into()),
        call_to_action: Some(CTA.into()),
        music: Some(Music {
            path: music.clone(),
            volume: 0.3,
        }),
        brand: None,
        voices: Vec::new(),
        captions: None,
        encoder: encoder.clone(),
    };
    let ours_file = dir.join("ours.mp4");
    if std::env::var_os("BENCH_PRINT_ARGS").is_some() {
        let args = composition.ffmpeg_args(&dir, &ours_file)?;
        println!("ARGS {args:?}");
    }
    // The smart render's clips, normalised once as approving them does in the background.
    let started = Instant::now();
    let mut normalised = Vec::new();
    for (i, clip) in clips.iter().enumerate() {
        let path = dir.join(format!("normalised{i}.mp4"));
        let frames = normalise(
            &clip.path,
            composition.format,
            &encoder,
            &path,
            Duration::from_secs(600),
        )
        .await?;
        normalised.push(Normalised { path, frames });
    }
    let t_normalise = secs(started.elapsed());
    // A new clip for scene 3, as regenerating and approving it again gives.
    let changed_clip = input_clip(dir.join("clip-new.mp4"), "1080x1080", 25, 900).await?;
    let changed_path = dir.join("normalised-new.mp4");
    let frames = normalise(
        &changed_clip.path,
        composition.format,
        &encoder,
        &changed_path,
        Duration::from_secs(600),
    )
    .await?;
    let mut changed = composition.clone();
    changed.clips[2] = changed_clip;
    let mut changed_normalised = normalised.clone();
    changed_normalised[2] = Normalised {
        path: changed_path,
        frames,
    };

    let smart_file = dir.join("smart.mp4");
    let mut best = Best::default();
    let mut way = None;
    let mut theirs_file = PathBuf::new();
    for run in 1..=runs {
        let started = Instant::now();
        render(
            &composition,
            &dir,
            &ours_file,
            |_| {},
            &CancellationToken::new(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let t_ours = secs(started.elapsed());

        // Nothing made ahead: the render makes every piece.
        let (_, t_cold) = smart(&composition, &normalised, &dir, &smart_file, &NoPieces).await?;

        // Every scene approved: the pieces are made in the background, then the render
        // the user asks for joins them.
        let kept = PieceDir(dir.join(format!("kept-{run}")));
        let started = Instant::now();
        let work = tempfile::tempdir_in(&dir)?;
        let plan = Plan::of(&composition, &normalised, work.path())?
            .context("the bench's clips fit the plan")?;
        let ahead = prepare(
            &composition,
            &normalised,
            &plan,
            work.path(),
            &dir,
            &kept,
            Duration::from_secs(600),
        )
        .await?;
        let t_ahead = secs(started.elapsed());
        let (made, t_wait) = smart(&composition, &normalised, &dir, &smart_file, &kept).await?;
        way = Some(made);

        // Scene 3 changed since: its pieces are made, the others fetched.
        let changed_file = dir.join("smart-changed.mp4");
        let (changed_made, t_changed) =
            smart(&changed, &changed_normalised, &dir, &changed_file, &kept).await?;

        let pass_dir = dir.join(format!("multipass-{run}"));
        std::fs::create_dir_all(&pass_dir)?;
        let started = Instant::now();
        theirs_file = multipass(&pass_dir, &clips, &music, &encoder, &font).await?;
        let t_theirs = secs(started.elapsed());

        let plain_file = dir.join("plain.mp4");
        let started = Instant::now();
        single_encode(&ours_file, &plain_file, &encoder).await?;
        let t_plain = secs(started.elapsed());
        println!(
            "run {run}: one-pass {t_ours:.2} s, smart with nothing made ahead {t_cold:.2} s, \
             pieces made ahead {t_ahead:.2} s ({} frames) then the smart render {t_wait:.2} s, \
             one scene changed {t_changed:.2} s ({} frames made), multi-pass {t_theirs:.2} s, \
             single encode {t_plain:.2} s",
            ahead.made_frames, changed_made.made_frames
        );
        best.keep(Best {
            ours: t_ours,
            cold: t_cold,
            ahead: t_ahead,
            wait: t_wait,
            changed: t_changed,
            theirs: t_theirs,
            plain: t_plain,
        });
    }
    let Best {
        ours,
        cold,
        ahead,
        wait,
        changed,
        theirs,
        plain,
    } = best;
    let ours_len = probe(&ours_file).await?.duration_secs.unwrap_or_default();
    let theirs_len = probe(&theirs_file).await?.duration_secs.unwrap_or_default();
    println!("output lengths: one-pass {ours_len:.2} s (with 0.5 s crossfades), multi-pass {theirs_len:.2} s (hard cuts)");
    let smart_len = probe(&smart_file).await?.duration_secs.unwrap_or_default();
    println!("smart render: {way:?}, length {smart_len:.3} s against the one pass's {ours_len:.3} s; normalising the six clips beforehand (in the background, as each is approved) took {t_normalise:.2} s");
    let alike = ssim(&smart_file, &ours_file, Duration::from_secs(600)).await?;
    println!("ssim_smart_vs_one_pass={alike:.4}");
    println!(
        "best of {runs}: one_pass_secs={ours:.2} smart_cold_secs={cold:.2} ahead_secs={ahead:.2} \
         smart_secs={wait:.2} smart_one_scene_changed_secs={changed:.2} multipass_secs={theirs:.2} \
         single_encode_secs={plain:.2}"
    );
    if keep.is_none() {
        drop(scratch);
    }
    println!("ratio_vs_multipass={:.3}", ours / theirs);
    println!("ratio_vs_single_encode={:.3}", ours / plain);
    // What the user waits for once the pieces were made in the background.
    println!("ratio_wait_vs_single_encode={:.3}", wait / plain);
    println!("ratio_wait_vs_multipass={:.3}", wait / theirs);
    // Asked for before anything was made ahead, or right after one scene changed.
    println!("ratio_wait_cold_vs_single_encode={:.3}", cold / plain);
    println!(
        "ratio_wait_one_scene_changed_vs_single_encode={:.3}",
        changed / plain
    );
    Ok(())
}
