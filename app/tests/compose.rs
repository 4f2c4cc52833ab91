//! The one-pass render against real FFmpeg: the output's format and length, the titles
//! (sampled frames), the brand kit (logo, end card, font), the voice over ducked music at
//! platform loudness, captions in any script, hostile text, progress and cancellation.

// Tests unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

use app::{
    brand::{channel_distance, BUNDLED_FONTS},
    generation::ffmpeg::{mean_color, probe, run},
    projects::VideoFormat,
    render::{
        branding::logo_place,
        captions::CaptionStyle,
        compose::{Clip, Composition, Encoder, Music, FPS},
        mix::{VoiceLine, TARGET_LUFS, TRUE_PEAK_DBTP},
        run::{render, render_within, RenderError},
    },
};
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

mod media;
use media::{
    brand_with, clip, difference, grey_band, grey_frames, logo_file, music, top_band, video_frames,
};

async fn three_clips(dir: &Path) -> Vec<Clip> {
    vec![
        clip(dir, "wide", "1280x720", 25, 2.0, true).await,
        clip(dir, "tall", "720x1280", 24, 2.0, false).await,
        clip(dir, "square", "1080x1080", 30, 2.0, true).await,
    ]
}

#[tokio::test]
async fn clips_of_any_shape_become_one_faststart_1080x1920_h264_aac_video() {
    let dir = tempfile::tempdir().unwrap();
    let clips = three_clips(dir.path()).await;
    let composition = Composition {
        clips,
        format: VideoFormat::Vertical,
        title: Some("Lumen".into()),
        call_to_action: Some("Order yours today".into()),
        music: Some(Music {
            path: music(dir.path(), 1.5).await,
            volume: 0.4,
        }),
        brand: None,
        voices: Vec::new(),
        captions: None,
        encoder: Encoder::default(),
    };
    assert!(
        (composition.duration_secs() - 6.0).abs() < 1e-9,
        "three 2 s clips, their crossfades made up for by held frames"
    );
    let output = dir.path().join("final.mp4");
    let mut progress = Vec::new();
    render(
        &composition,
        dir.path(),
        &output,
        |p| progress.push(p),
        &CancellationToken::new(),
    )
    .await
    .unwrap();

    let probed = probe(&output).await.unwrap();
    assert_eq!((probed.width, probed.height), (Some(1080), Some(1920)));
    assert_eq!(probed.frame_rate, Some(30.0));
    assert_eq!(probed.video_codec.as_deref(), Some("h264"));
    assert_eq!(probed.audio_codec.as_deref(), Some("aac"));
    let duration = probed.duration_secs.unwrap();
    assert!((duration - 6.0).abs() <= 1.0 / 30.0, "{duration}");
    let bytes = std::fs::read(&output).unwrap();
    let find = |tag: &[u8]| bytes.windows(4).position(|w| w == tag).unwrap();
    assert!(
        find(b"moov") < find(b"mdat"),
        "the index comes first (+faststart)"
    );
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress only grows: {progress:?}"
    );
    assert_eq!(progress.last(), Some(&1.0));
    assert!(progress.len() >= 2);
}

#[tokio::test]
async fn the_titles_show_at_their_time_and_not_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    let clips = three_clips(dir.path()).await;
    let plain = Composition {
        clips,
        format: VideoFormat::Square,
        title: None,
        call_to_action: None,
        music: None,
        brand: None,
        voices: Vec::new(),
        captions: None,
        encoder: Encoder {
            preset: "ultrafast".into(),
            crf: 18,
        },
    };
    let titled = Composition {
        title: Some("LUMEN".into()),
        ..plain.clone()
    };
    let (a, b) = (dir.path().join("plain.mp4"), dir.path().join("titled.mp4"));
    let cancel = CancellationToken::new();
    render(&plain, dir.path(), &a, |_| {}, &cancel)
        .await
        .unwrap();
    render(&titled, dir.path(), &b, |_| {}, &cancel)
        .await
        .unwrap();
    // 6 s long: the title shows from 0.2 s for 2 s.
    let during = difference(&top_band(&a, 1.0).await, &top_band(&b, 1.0).await);
    let after = difference(&top_band(&a, 3.5).await, &top_band(&b, 3.5).await);
    assert!(
        during > 4.0,
        "the title changes the top of the frame: {during}"
    );
    assert!(after < 1.5, "and is gone later: {after}");
}

/// A composition encoded fast and small, for tests that look at its timing and layout.
fn quick(
    clips: Vec<Clip>,
    format: VideoFormat,
    title: &str,
    call_to_action: String,
) -> Composition {
    Composition {
        clips,
        format,
        title: Some(title.into()),
        call_to_action: Some(call_to_action),
        music: None,
        brand: None,
        voices: Vec::new(),
        captions: None,
        encoder: Encoder {
            preset: "ultrafast".into(),
            crf: 28,
        },
    }
}

async fn render_to(composition: &Composition, dir: &Path, output: &Path) {
    render(composition, dir, output, |_| {}, &CancellationToken::new())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_video_lasts_as_long_as_its_clips_add_up_to_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let clips = vec![
        clip(dir.path(), "a", "1280x720", 30, 3.0, true).await,
        clip(dir.path(), "b", "720x1280", 24, 2.0, false).await,
        clip(dir.path(), "c", "1080x1080", 25, 3.0, true).await,
    ];
    for format in VideoFormat::ALL {
        let composition = quick(clips.clone(), format, "Lumen", "Order yours today".into());
        let output = dir.path().join(format!("{format:?}.mp4"));
        render_to(&composition, dir.path(), &output).await;
        // 8 s planned, two crossfades: still 8 s, 240 frames at 30 fps.
        assert_eq!(video_frames(&output).await, 240, "{format:?}");
        let duration = probe(&output).await.unwrap().duration_secs.unwrap();
        assert!(
            (duration - 8.0).abs() <= 1.0 / 30.0,
            "{format:?}: {duration}"
        );
    }
}

#[tokio::test]
async fn hostile_overlay_text_renders_without_breaking_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let clips = vec![clip(dir.path(), "one", "640x360", 30, 1.5, false).await];
    let hostile =
        r#"It's "50%" off: \now\ ; [x]=y, {a} %{localtime} %{eif:1/0:d} 🎧 ünïcödé — 日本語 عربى"#;
    let composition = quick(
        clips,
        VideoFormat::Landscape,
        hostile,
        format!("{hostile} {}", "very long words ".repeat(40)),
    );
    let output = dir.path().join("out.mp4");
    render_to(&composition, dir.path(), &output).await;
    assert_eq!(probe(&output).await.unwrap().width, Some(1920));
}

/// Thirty one-second clips at 1080×1920: far longer to encode than a test waits.
async fn long_composition(dir: &Path) -> Composition {
    let long = clip(dir, "long", "320x240", 30, 1.0, false).await;
    Composition {
        clips: vec![long; 30],
        format: VideoFormat::Vertical,
        title: None,
        call_to_action: None,
        music: None,
        brand: None,
        voices: Vec::new(),
        captions: None,
        encoder: Encoder {
            preset: "medium".into(),
            crf: 20,
        },
    }
}

#[tokio::test]
async fn cancelling_stops_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let composition = long_composition(dir.path()).await;
    let cancel = CancellationToken::new();
    let stopper = {
        let cancel = cancel.clone();
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            cancel.cancel();
        }
    };
    let output = dir.path().join("out.mp4");
    let started = std::time::Instant::now();
    let (result, ()) = tokio::join!(
        render(&composition, dir.path(), &output, |_| {}, &cancel),
        stopper
    );
    assert!(matches!(result, Err(RenderError::Cancelled)), "{result:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn a_render_past_its_time_limit_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let composition = long_composition(dir.path()).await;
    // The limit a real render gets grows with its length.
    assert!(composition.time_limit() >= std::time::Duration::from_secs(120));
    let output = dir.path().join("out.mp4");
    let started = std::time::Instant::now();
    let limit = std::time::Duration::from_millis(700);
    let result = render_within(
        &composition,
        dir.path(),
        &output,
        |_| {},
        &CancellationToken::new(),
        limit,
    )
    .await;
    assert!(
        matches!(result, Err(RenderError::TimedOut(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // FFmpeg is gone: nothing writes to the output any more.
    let size = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let later = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
    assert_eq!(size, later, "FFmpeg still writing after the limit");
}

/// A blue logo, twice as wide as high, on transparency.
#[tokio::test]
async fn a_brand_kit_puts_the_logo_in_its_corner_and_ends_on_the_end_card_within_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let clips = vec![
        clip(dir.path(), "a", "1280x720", 30, 3.0, true).await,
        clip(dir.path(), "b", "720x1280", 24, 2.0, false).await,
        clip(dir.path(), "c", "1080x1080", 25, 3.0, true).await,
    ];
    let logo = logo_file(dir.path());
    let brand = brand_with(dir.path(), BUNDLED_FONTS[0], Some(logo.clone()));
    let blue = [20, 60, 230];
    let red = [0xe6, 0x39, 0x46];
    for format in VideoFormat::ALL {
        let composition = Composition {
            brand: Some(brand.clone()),
            ..quick(clips.clone(), format, "Lumen", "Order yours today".into())
        };
        assert_eq!(composition.slots().len(), 4, "three clips and the end card");
        let output = dir.path().join(format!("brand-{format:?}.mp4"));
        render_to(&composition, dir.path(), &output).await;
        // KEEP_RENDERS=dir keeps the videos, for looking at their frames.
        if let Some(keep) = std::env::var_os("KEEP_RENDERS") {
            std::fs::copy(&output, Path::new(&keep).join(output.file_name().unwrap())).unwrap();
        }
        // 8 s planned: the end card's 1.5 s come out of the clips, 240 frames still.
        assert_eq!(video_frames(&output).await, 240, "{format:?}");

        // Over the scenes, the logo's middle is the logo's blue, inside the safe zone.
        let place = logo_place(&brand, &logo, format);
        let middle = (
            place.x + place.width / 4,
            place.y + place.height / 4,
            place.width / 2,
            place.height / 2,
        );
        let over_scene = mean_color(&output, 1.0, middle).await.unwrap();
        assert!(
            channel_distance(over_scene, blue) <= 40,
            "{format:?}: {over_scene:?}"
        );
        // The other top corner shows the footage, not the logo.
        let (width, _) = format.dimensions();
        let mirrored = (width - middle.0 - middle.2, middle.1, middle.2, middle.3);
        let elsewhere = mean_color(&output, 1.0, mirrored).await.unwrap();
        assert!(
            channel_distance(elsewhere, blue) > 40,
            "{format:?}: {elsewhere:?}"
        );

        // The last second is the end card: the main colour at its edge, the logo large in
        // the middle, no small logo in the corner.
        let edge = mean_color(&output, 7.6, (8, 8, 40, 40)).await.unwrap();
        assert!(channel_distance(edge, red) <= 12, "{format:?}: {edge:?}");
        let corner = mean_color(&output, 7.6, middle).await.unwrap();
        assert!(
            channel_distance(corner, red) <= 12,
            "{format:?}: {corner:?}"
        );
    }
    // The titles are written in the kit's font: the end card with another font differs
    // where the call to action is written.
    let serif = brand_with(dir.path(), BUNDLED_FONTS[2], None);
    let sans = brand_with(dir.path(), BUNDLED_FONTS[0], None);
    let mut bands = Vec::new();
    for (name, brand) in [("sans", sans), ("serif", serif)] {
        let composition = Composition {
            brand: Some(brand),
            ..quick(
                clips.clone(),
                VideoFormat::Square,
                "Lumen",
                "Order yours today".into(),
            )
        };
        let output = dir.path().join(format!("font-{name}.mp4"));
        render_to(&composition, dir.path(), &output).await;
        bands.push(grey_band(&output, 7.6, "crop=iw:ih/3:0:ih/3,scale=216:72").await);
    }
    let apart = difference(&bands[0], &bands[1]);
    assert!(apart > 2.0, "the font changes the lettering: {apart}");
}

/// Integrated loudness (LUFS) and true peak (dBTP), as FFmpeg's `ebur128` measures them.
async fn loudness_and_true_peak(file: &Path) -> (f64, f64) {
    let output = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(file)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .await
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    let summary = &log[log.rfind("Summary:").unwrap()..];
    let value = |label: &str| -> f64 {
        let line = summary
            .lines()
            .find(|line| line.trim_start().starts_with(label))
            .unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    // The summary's only "Peak:" is in its "True peak:" section.
    (value("I:"), value("Peak:"))
}

/// The level (dBFS RMS) of the music's 1 kHz tone between `from` and `to` seconds.
async fn tone_level(file: &Path, from: f64, to: f64) -> f64 {
    let output = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-ss", &format!("{from}"), "-t"])
        .arg(format!("{}", to - from))
        .arg("-i")
        .arg(file)
        .args([
            "-af",
            "bandpass=f=1000:width_type=h:w=8,bandpass=f=1000:width_type=h:w=8,astats=measure_overall=RMS_level:measure_perchannel=none",
            "-f",
            "null",
            "-",
        ])
        .output()
        .await
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("RMS level dB"))
        .unwrap();
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

#[tokio::test]
async fn the_voice_speaks_over_ducked_music_at_platform_loudness() {
    use app::generation::{
        speech::{EspeakSpeech, SpeechGenerator, SpeechRequest},
        ssr::Run,
    };
    let dir = tempfile::tempdir().unwrap();
    let clips = vec![
        clip(dir.path(), "a", "640x360", 30, 4.0, false).await,
        clip(dir.path(), "b", "640x360", 30, 4.0, false).await,
    ];
    let music = dir.path().join("low.m4a");
    run(&[
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        "sine=frequency=1000:d=8".into(),
        "-c:a".into(),
        "aac".into(),
        music.to_string_lossy().into_owned(),
    ])
    .await
    .unwrap();
    let speech = EspeakSpeech::new(dir.path());
    let line = speech
        .speak(
            &SpeechRequest {
                text: "Meet Lumen, the lamp that follows your day.".into(),
                voice: "en-us".into(),
            },
            &Run::default(),
        )
        .await
        .unwrap();
    let spoken = line.duration_ms.unwrap() as f64 / 1000.0;
    assert!(spoken > 1.5 && spoken < 4.0, "{spoken}");
    let composition = Composition {
        music: Some(Music {
            path: music,
            volume: 0.5,
        }),
        voices: vec![VoiceLine {
            path: line.path(),
            start_secs: 0.5,
            text: "Meet Lumen, the lamp that follows your day.".into(),
            secs: spoken,
        }],
        ..quick(
            clips,
            VideoFormat::Landscape,
            "Lumen",
            "Order yours today".into(),
        )
    };
    let output = dir.path().join("voiced.mp4");
    render_to(&composition, dir.path(), &output).await;

    let (loudness, true_peak) = loudness_and_true_peak(&output).await;
    // The platforms' tolerance is ±1 LU; the render aims well inside it.
    assert!((loudness - TARGET_LUFS).abs() <= 0.5, "{loudness} LUFS");
    assert!(true_peak <= TRUE_PEAK_DBTP, "true peak {true_peak} dBTP");
    // The music is ducked while the voice speaks and comes back in the pause after it
    // (before its fade-out over the last two seconds).
    let under_voice = tone_level(&output, 1.0, 0.5 + spoken - 0.3).await;
    let in_pause = tone_level(&output, 0.5 + spoken + 0.8, 6.0).await;
    eprintln!(
        "loudness {loudness:.2} LUFS, true peak {true_peak:.2} dBTP; music {under_voice:.1} dB under the voice, {in_pause:.1} dB in the pause"
    );
    assert!(
        in_pause - under_voice >= 4.0,
        "music {under_voice:.1} dB under the voice, {in_pause:.1} dB in the pause"
    );
}

/// A second of quiet sound standing in for a spoken line (captions are timed from the
/// line's text and length, not its sound).
async fn line_sound(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.wav"));
    run(&[
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        "sine=frequency=300:d=1".into(),
        path.to_string_lossy().into_owned(),
    ])
    .await
    .unwrap();
    path
}

/// The band of a square frame where lower-third captions sit.
const CAPTION_BAND: &str = "crop=iw:ih*0.3:0:ih*0.58,scale=270:81";

async fn caption_band(video: &Path, at: f64) -> Vec<u8> {
    grey_band(video, at, CAPTION_BAND).await
}

/// The caption band of every frame from `from` for `secs`, each with its time.
async fn caption_bands(video: &Path, from: f64, secs: f64) -> Vec<(f64, Vec<u8>)> {
    grey_frames(video, from, "-t", &format!("{secs}"), CAPTION_BAND)
        .await
        .chunks_exact(270 * 81)
        .enumerate()
        .map(|(i, band)| (from + i as f64 / f64::from(FPS), band.to_vec()))
        .collect()
}

/// How far from `start` and `end` the caption was first and last drawn, in seconds:
/// frames are compared with the same render without captions.
async fn caption_timing_error(silent: &Path, captioned: &Path, start: f64, end: f64) -> (f64, f64) {
    let window = 0.3;
    let shown = |from: f64| async move {
        let plain = caption_bands(silent, from, 2.0 * window).await;
        let drawn = caption_bands(captioned, from, 2.0 * window).await;
        plain
            .iter()
            .zip(&drawn)
            .filter(|((_, a), (_, b))| difference(a, b) > 1.0)
            .map(|((at, _), _)| *at)
            .collect::<Vec<f64>>()
    };
    let onset = shown(start - window).await;
    let first = onset.first().copied().unwrap_or(f64::INFINITY);
    let offset = shown(end - window).await;
    // A frame shown at t lasts until t + one frame.
    let last = offset
        .last()
        .map_or(f64::INFINITY, |at| at + 1.0 / f64::from(FPS));
    ((first - start).abs(), (last - end).abs())
}

fn voiced(
    composition: &Composition,
    lines: Vec<VoiceLine>,
    captions: Option<CaptionStyle>,
) -> Composition {
    Composition {
        voices: lines,
        captions,
        ..composition.clone()
    }
}

#[tokio::test]
async fn captions_show_while_their_line_is_spoken_and_in_every_script() {
    let dir = tempfile::tempdir().unwrap();
    let clips = three_clips(dir.path()).await;
    let sound = line_sound(dir.path(), "line").await;
    let line = |text: &str, start: f64| VoiceLine {
        path: sound.clone(),
        start_secs: start,
        text: text.into(),
        secs: 1.5,
    };
    let plain = Composition {
        title: None,
        call_to_action: None,
        ..quick(clips, VideoFormat::Square, "", String::new())
    };
    let lines = vec![line("🎉 ✨ 🎉", 0.5), line("اطلب الآن", 3.0)];
    let captioned = voiced(&plain, lines.clone(), Some(CaptionStyle::LowerThird));
    let cues = captioned.caption_cues();
    assert_eq!(cues.len(), 2);
    assert!((cues[0].start() - 0.5).abs() < 1e-9 && (cues[0].end() - 2.0).abs() < 1e-9);
    // The same lines with every glyph replaced by one no font has: empty boxes.
    let missing = |text: &str| {
        text.chars()
            .map(|c| if c == ' ' { ' ' } else { '\u{E000}' })
            .collect::<String>()
    };
    let boxes = voiced(
        &plain,
        vec![
            line(&missing("🎉 ✨ 🎉"), 0.5),
            line(&missing("اطلب الآن"), 3.0),
        ],
        Some(CaptionStyle::LowerThird),
    );
    let silent = voiced(&plain, lines, None);
    let files: Vec<PathBuf> = ["silent", "captioned", "boxes"]
        .iter()
        .map(|name| dir.path().join(format!("{name}.mp4")))
        .collect();
    for (composition, file) in [&silent, &captioned, &boxes].into_iter().zip(&files) {
        render_to(composition, dir.path(), file).await;
    }
    let (silent, captioned, boxes) = (&files[0], &files[1], &files[2]);
    // Inside each line's span the band changes; between and after them it does not.
    for at in [1.2, 3.8] {
        let during = difference(
            &caption_band(silent, at).await,
            &caption_band(captioned, at).await,
        );
        assert!(during > 1.0, "a caption at {at} s: {during}");
    }
    for at in [2.6, 5.5] {
        let outside = difference(
            &caption_band(silent, at).await,
            &caption_band(captioned, at).await,
        );
        assert!(outside < 0.5, "no caption at {at} s: {outside}");
    }
    // The emoji and the Arabic are drawn as glyphs, not as the boxes of missing ones.
    // CAPTION_FRAMES=dir keeps the sampled frames, to look at what libass drew.
    if let Some(keep) = std::env::var_os("CAPTION_FRAMES") {
        for (name, file) in [("captioned", captioned), ("boxes", boxes)] {
            for at in [1.2, 3.8] {
                let frame = std::path::Path::new(&keep).join(format!("{name}-{at}.png"));
                run(&[
                    "-ss".into(),
                    format!("{at}"),
                    "-i".into(),
                    file.to_string_lossy().into_owned(),
                    "-frames:v".into(),
                    "1".into(),
                    "-y".into(),
                    frame.to_string_lossy().into_owned(),
                ])
                .await
                .unwrap();
            }
        }
    }
    for at in [1.2, 3.8] {
        let glyphs = difference(
            &caption_band(captioned, at).await,
            &caption_band(boxes, at).await,
        );
        assert!(glyphs > 0.5, "glyphs, not boxes, at {at} s: {glyphs}");
    }
    // Each caption is drawn from its cue's first frame to its last, as the SRT and
    // WebVTT files (made from the same cues) say.
    let frame = 1.0 / f64::from(FPS);
    for cue in &cues {
        let (early_or_late, overstay) =
            caption_timing_error(silent, captioned, cue.start(), cue.end()).await;
        eprintln!(
            "caption {:.2}–{:.2} s: drawn {:.0} ms from its start, {:.0} ms from its end",
            cue.start(),
            cue.end(),
            early_or_late * 1000.0,
            overstay * 1000.0
        );
        assert!(early_or_late <= frame + 1e-6 && overstay <= frame + 1e-6);
    }
}
