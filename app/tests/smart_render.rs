//! The smart render against real FFmpeg: over normalised clips it makes afresh only the
//! crossfades, the titles' spans and the end card, copies the rest, and gives the video
//! the one-pass render gives (same size, codecs, frame count within one, `+faststart`,
//! SSIM ≥ 0.97); where it cannot (a clip's file is broken, most frames drawn over) the
//! one pass makes the video.

// Tests unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

use app::{
    brand::BUNDLED_FONTS,
    generation::ffmpeg::{probe, ssim},
    projects::VideoFormat,
    render::{
        compose::{Clip, Composition, Encoder, Music, FPS},
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
    time::Duration,
};
use tokio_util::sync::CancellationToken;

mod media;
use media::{brand_with, clip, difference, grey_band, logo_file, music, video_frames};

const LIMIT: Duration = Duration::from_secs(300);

async fn clips(dir: &Path) -> Vec<Clip> {
    vec![
        clip(dir, "wide", "1280x720", 25, 5.0, true).await,
        clip(dir, "tall", "720x1280", 24, 4.0, false).await,
        clip(dir, "fast", "640x640", 60, 5.0, true).await,
    ]
}

/// Three clips of mixed shapes (one silent), 14 s in all, with music, the product name
/// and a call to action, in the square frame.
async fn composition(dir: &Path) -> Composition {
    Composition {
        clips: clips(dir).await,
        format: VideoFormat::Square,
        title: Some("Lumen".into()),
        call_to_action: Some("Order yours today".into()),
        music: Some(Music {
            path: music(dir, 20.0).await,
            volume: 0.3,
        }),
        brand: None,
        voices: Vec::new(),
        captions: None,
        encoder: Encoder::default(),
    }
}

async fn normalised(composition: &Composition, dir: &Path) -> Vec<Normalised> {
    let mut files = Vec::new();
    for (i, clip) in composition.clips.iter().enumerate() {
        let path = dir.join(format!("normalised{i}.mp4"));
        files.push(normalised_clip(composition, clip, path).await);
    }
    files
}

/// `clip` normalised for `composition` into `path`.
async fn normalised_clip(composition: &Composition, clip: &Clip, path: PathBuf) -> Normalised {
    let frames = normalise(
        &clip.path,
        composition.format,
        &composition.encoder,
        &path,
        LIMIT,
    )
    .await
    .unwrap();
    Normalised { path, frames }
}

async fn best(composition: &Composition, normalised: &[Normalised], dir: &Path) -> Way {
    best_with(composition, normalised, dir, &NoPieces).await
}

async fn best_with(
    composition: &Composition,
    normalised: &[Normalised],
    dir: &Path,
    pieces: &dyn Pieces,
) -> Way {
    let output = dir.join("smart.mp4");
    render_best(
        composition,
        normalised,
        dir,
        &output,
        pieces,
        |_| {},
        &CancellationToken::new(),
    )
    .await
    .unwrap()
}

async fn one_pass(composition: &Composition, dir: &Path) {
    let output = dir.join("one-pass.mp4");
    render(composition, dir, &output, |_| {}, &CancellationToken::new())
        .await
        .unwrap();
}

/// What a viewer or a platform would notice differ between the two renders.
async fn check_alike(dir: &Path, composition: &Composition) {
    let (smart, reference) = (dir.join("smart.mp4"), dir.join("one-pass.mp4"));
    let (ours, theirs) = (
        probe(&smart).await.unwrap(),
        probe(&reference).await.unwrap(),
    );
    assert_eq!((ours.width, ours.height), (Some(1080), Some(1080)));
    assert_eq!(ours.video_codec.as_deref(), Some("h264"));
    assert_eq!(ours.audio_codec.as_deref(), Some("aac"));
    assert_eq!(ours.frame_rate, theirs.frame_rate);
    let expected = (composition.duration_secs() * FPS as f64).round() as i64;
    let frames = video_frames(&smart).await as i64;
    assert!(
        (frames - expected).abs() <= 1
            && (frames - video_frames(&reference).await as i64).abs() <= 1,
        "{frames} frames, {expected} planned"
    );
    let gap = (ours.duration_secs.unwrap() - theirs.duration_secs.unwrap()).abs();
    assert!(gap <= 1.0 / FPS as f64 + 0.03, "lengths differ by {gap} s");
    let bytes = std::fs::read(&smart).unwrap();
    let at = |atom: &[u8]| bytes.windows(4).position(|w| w == atom).unwrap();
    assert!(
        at(b"moov") < at(b"mdat"),
        "+faststart: the index comes first"
    );
    // Decodes from end to end without a complaint (the pieces' streams join cleanly).
    let decoded = tokio::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&smart)
        .args(["-f", "null", "-"])
        .output()
        .await
        .unwrap();
    assert!(decoded.status.success());
    assert_eq!(String::from_utf8_lossy(&decoded.stderr).trim(), "");
    let alike = ssim(&smart, &reference, LIMIT).await.unwrap();
    assert!(alike >= 0.97, "SSIM {alike} against the one-pass render");
}

#[tokio::test]
async fn the_smart_render_copies_what_nothing_is_drawn_over_and_looks_like_the_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let composition = composition(dir.path()).await;
    let normalised = normalised(&composition, dir.path()).await;
    let Way::Smart(made) = best(&composition, &normalised, dir.path()).await else {
        panic!("the smart render was not used");
    };
    // 14 s: crossfades (2 × 15 frames) and the titles' spans (about 3.5 s each, to the
    // keyframes around them) are made; the middle of the video is copied.
    assert_eq!(made.made_frames + made.copied_frames, 420);
    assert_eq!(made.reused_frames, 0);
    assert!(made.copied_frames >= 120, "{made:?}");
    assert!(made.made_frames >= 2 * 15 + 2 * 100, "{made:?}");
    one_pass(&composition, dir.path()).await;
    check_alike(dir.path(), &composition).await;
    // The titles are drawn in the made pieces as the one pass draws them: the band with
    // "Lumen" at 1 s (clip 0's frame 30) and the one with the call to action at 13 s
    // (clip 2's frame 120) look as they do there, and not as the bare clip does.
    let (smart, reference) = (
        dir.path().join("smart.mp4"),
        dir.path().join("one-pass.mp4"),
    );
    for (at, clip, clip_at, band) in [
        (1.0, 0, 1.0, "crop=iw:ih/5:0:0,scale=216:43"),
        (13.0, 2, 4.0, "crop=iw:ih/5:0:ih*0.7,scale=216:43"),
    ] {
        let ours = grey_band(&smart, at, band).await;
        let theirs = grey_band(&reference, at, band).await;
        let bare = grey_band(&normalised[clip].path, clip_at, band).await;
        let (alike, apart) = (difference(&ours, &theirs), difference(&ours, &bare));
        assert!(alike < 3.0, "{alike} from the one pass at {at} s");
        assert!(
            apart > 3.0 * alike.max(1.0),
            "no title at {at} s: {apart} from the bare clip"
        );
    }
}

#[tokio::test]
async fn an_end_card_is_made_in_the_smart_render_and_a_logo_over_every_scene_means_one_pass_unless_made_ahead(
) {
    let dir = tempfile::tempdir().unwrap();
    let mut composition = composition(dir.path()).await;
    composition.brand = Some(brand_with(dir.path(), BUNDLED_FONTS[1], None));
    let normalised = normalised(&composition, dir.path()).await;
    assert!(matches!(
        best(&composition, &normalised, dir.path()).await,
        Way::Smart(_)
    ));
    one_pass(&composition, dir.path()).await;
    check_alike(dir.path(), &composition).await;

    // The logo is drawn over every scene: nothing could be copied.
    let logo = logo_file(dir.path());
    composition.brand = Some(brand_with(dir.path(), BUNDLED_FONTS[1], Some(logo)));
    assert!(matches!(
        best(&composition, &normalised, dir.path()).await,
        Way::OnePass
    ));
    // Unless its pieces were made ahead: then the render only joins them.
    let kept = PieceDir(dir.path().join("kept"));
    make_ahead(&composition, &normalised, dir.path(), &kept).await;
    let Way::Smart(made) = best_with(&composition, &normalised, dir.path(), &kept).await else {
        panic!("pieces made ahead were not used");
    };
    assert_eq!(made.made_frames, 0, "{made:?}");
    one_pass(&composition, dir.path()).await;
    check_alike(dir.path(), &composition).await;
}

/// Makes the pieces of `composition` ahead into `kept`, as the background job does.
async fn make_ahead(
    composition: &Composition,
    normalised: &[Normalised],
    dir: &Path,
    kept: &dyn Pieces,
) -> Made {
    let work = tempfile::tempdir_in(dir).unwrap();
    let plan = Plan::of(composition, normalised, work.path())
        .unwrap()
        .unwrap();
    prepare(
        composition,
        normalised,
        &plan,
        work.path(),
        dir,
        kept,
        LIMIT,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn pieces_made_ahead_are_only_joined_and_a_changed_scene_has_only_its_own_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut composition = composition(dir.path()).await;
    let mut normalised = normalised(&composition, dir.path()).await;
    let kept = PieceDir(dir.path().join("kept"));
    let ahead = make_ahead(&composition, &normalised, dir.path(), &kept).await;
    assert!(ahead.made_frames >= 2 * 15 + 2 * 100, "{ahead:?}");

    // The render fetches every piece and makes none.
    let Way::Smart(made) = best_with(&composition, &normalised, dir.path(), &kept).await else {
        panic!("the smart render was not used");
    };
    assert_eq!(
        (made.made_frames, made.reused_frames),
        (0, ahead.made_frames),
        "{made:?}"
    );
    one_pass(&composition, dir.path()).await;
    check_alike(dir.path(), &composition).await;

    // Scene 2 gets a new clip: the crossfades into and out of it are made again (it
    // carries no title); the titles' spans over scenes 1 and 3 are fetched.
    composition.clips[1] = clip(dir.path(), "new-tall", "600x1000", 30, 4.0, false).await;
    let path = dir.path().join("normalised-new.mp4");
    normalised[1] = normalised_clip(&composition, &composition.clips[1], path).await;
    let Way::Smart(made) = best_with(&composition, &normalised, dir.path(), &kept).await else {
        panic!("the smart render was not used");
    };
    assert_eq!(made.made_frames, 2 * 15, "{made:?}");
    assert_eq!(made.reused_frames, ahead.made_frames - 2 * 15, "{made:?}");
    one_pass(&composition, dir.path()).await;
    check_alike(dir.path(), &composition).await;
}

#[tokio::test]
async fn a_broken_normalised_clip_falls_back_to_the_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let composition = composition(dir.path()).await;
    let mut normalised = normalised(&composition, dir.path()).await;
    std::fs::write(&normalised[1].path, b"not a video").unwrap();
    assert!(matches!(
        best(&composition, &normalised, dir.path()).await,
        Way::OnePass
    ));
    assert_eq!(video_frames(&dir.path().join("smart.mp4")).await, 420);
    // A clip whose normalised file is shorter than its part: one pass, without trying.
    normalised[1] = Normalised {
        path: normalised[0].path.clone(),
        frames: 60,
    };
    assert!(matches!(
        best(&composition, &normalised, dir.path()).await,
        Way::OnePass
    ));
}
