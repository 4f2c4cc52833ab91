//! The offline provider makes real media: checked with ffprobe and by the bytes.

// Tests unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

use app::{
    generation::{
        ffmpeg::probe,
        offline::OfflineMedia,
        ssr::{
            ImageGenerator, ImageRequest, MusicGenerator, MusicRequest, ProductReference, Rgb, Run,
            VideoGenerator, VideoRequest,
        },
    },
    projects::VideoFormat,
};

fn provider() -> (OfflineMedia, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (OfflineMedia::new(dir.path()).unwrap(), dir)
}

fn image_request(format: VideoFormat, caption: Option<&str>, seed: u64) -> ImageRequest {
    ImageRequest {
        prompt: "headphones on a desk at dawn".into(),
        format,
        palette: ["#1b1340", "#7c5cff", "#ff5c8a", "#ffd27a"]
            .iter()
            .map(|hex| Rgb::parse(hex).unwrap())
            .collect(),
        caption: caption.map(str::to_string),
        seed,
        product: None,
    }
}

#[tokio::test]
async fn images_come_out_at_the_size_of_each_project_format() {
    let (offline, _dir) = provider();
    for format in VideoFormat::ALL {
        let image = offline
            .generate_image(
                &image_request(format, Some("Silence that sounds like music"), 1),
                &Run::default(),
            )
            .await
            .unwrap();
        let (width, height) = format.dimensions();
        let probed = probe(&image.path()).await.unwrap();
        assert_eq!(
            (probed.width, probed.height),
            (Some(width as i32), Some(height as i32))
        );
        assert_eq!(
            (image.width, image.height),
            (Some(width as i32), Some(height as i32))
        );
        assert_eq!(image.extension, "png");
    }
}

/// Where a picture has the cut-out's red: the share of its pixels, and their bounds
/// (left, top, right, bottom) as shares of its size.
fn red_in(png: &std::path::Path) -> (f64, [f64; 4]) {
    let image = image::open(png).unwrap().to_rgb8();
    let (w, h) = (image.width() as f64, image.height() as f64);
    let mut bounds = [f64::MAX, f64::MAX, 0.0f64, 0.0f64];
    let mut count = 0;
    for (x, y, p) in image.enumerate_pixels() {
        if p[0] > 180 && p[1] < 50 && p[2] < 50 {
            count += 1;
            let (x, y) = (x as f64 / w, y as f64 / h);
            bounds = [
                bounds[0].min(x),
                bounds[1].min(y),
                bounds[2].max(x),
                bounds[3].max(y),
            ];
        }
    }
    (count as f64 / (w * h), bounds)
}

#[tokio::test]
async fn the_product_cut_out_is_set_into_the_picture_beside_the_words_in_every_format() {
    let (offline, dir) = provider();
    let cutout = dir.path().join("cutout.png");
    image::RgbaImage::from_fn(100, 200, |x, _| {
        // A transparent margin, as a cut-out has around its soft edge.
        if (4..96).contains(&x) {
            image::Rgba([220, 20, 30, 255])
        } else {
            image::Rgba([0, 0, 0, 0])
        }
    })
    .save(&cutout)
    .unwrap();
    for format in VideoFormat::ALL {
        let mut request = image_request(format, Some("Light that follows you"), 3);
        request.product = Some(ProductReference {
            photo: dir.path().join("unused.jpg"),
            cutout: Some(cutout.clone()),
            urls: vec![],
        });
        let image = offline
            .generate_image(&request, &Run::default())
            .await
            .unwrap();
        let (share, [left, top, right, bottom]) = red_in(&image.path());
        assert!(share > 0.05, "{format:?}: the product covers {share:.3}");
        assert!(
            bottom < 0.96,
            "{format:?}: the product stands inside the frame"
        );
        let (width, height) = format.dimensions();
        if height >= width {
            assert!(top > 0.35, "{format:?}: the words keep the top ({top:.2})");
        } else {
            assert!(
                right < 0.5 || left > 0.5,
                "{format:?}: the product keeps to one side ({left:.2}..{right:.2})"
            );
        }
        // Without the product, the same request has none of its red.
        request.product = None;
        let plain = offline
            .generate_image(&request, &Run::default())
            .await
            .unwrap();
        assert!(red_in(&plain.path()).0 < 0.001, "{format:?}");
    }
}

#[tokio::test]
async fn the_same_seed_gives_the_same_image_and_the_caption_is_drawn_on_it() {
    let (offline, _dir) = provider();
    let read = |request: ImageRequest| {
        let offline = &offline;
        async move {
            std::fs::read(
                offline
                    .generate_image(&request, &Run::default())
                    .await
                    .unwrap()
                    .path(),
            )
            .unwrap()
        }
    };
    let first = read(image_request(VideoFormat::Vertical, Some("Hello"), 7)).await;
    let again = read(image_request(VideoFormat::Vertical, Some("Hello"), 7)).await;
    let other_seed = read(image_request(VideoFormat::Vertical, Some("Hello"), 8)).await;
    let no_caption = read(image_request(VideoFormat::Vertical, None, 7)).await;
    assert_eq!(first, again, "deterministic for a seed");
    assert_ne!(first, other_seed);
    assert_ne!(first, no_caption, "the caption changes the pixels");
}

#[tokio::test]
async fn captions_with_quotes_colons_backslashes_and_emoji_render() {
    let (offline, _dir) = provider();
    let hostile = r#"It's 50% off: "now" \or\ never; %{localtime} %{eif:1/0:d} [drawtext=text=x] {a,b} 🎧 ünïcödé — 日本語"#;
    let image = offline
        .generate_image(
            &image_request(VideoFormat::Square, Some(hostile), 3),
            &Run::default(),
        )
        .await
        .unwrap();
    assert_eq!(probe(&image.path()).await.unwrap().width, Some(1080));
}

#[tokio::test]
async fn a_clip_is_h264_at_30_fps_and_lasts_the_requested_time() {
    let (offline, _dir) = provider();
    let image = offline
        .generate_image(
            &image_request(VideoFormat::Vertical, Some("Slow zoom"), 2),
            &Run::default(),
        )
        .await
        .unwrap();
    let clip = offline
        .generate_video(
            &VideoRequest {
                prompt: "slow push in".into(),
                format: VideoFormat::Vertical,
                image: image.path(),
                duration_secs: 2.5,
                seed: 2,
            },
            &Run::default(),
        )
        .await
        .unwrap();
    let probed = probe(&clip.path()).await.unwrap();
    assert_eq!(probed.video_codec.as_deref(), Some("h264"));
    // 720p in the project's shape, as video models make them.
    assert_eq!((probed.width, probed.height), (Some(720), Some(1280)));
    assert_eq!(probed.frame_rate, Some(30.0));
    let duration = probed.duration_secs.unwrap();
    assert!((duration - 2.5).abs() < 0.05, "{duration}");
    assert_eq!(clip.duration_ms, Some(2500));
}

#[tokio::test]
async fn music_is_an_aac_track_of_the_requested_length() {
    let (offline, _dir) = provider();
    let music = offline
        .generate_music(
            &MusicRequest {
                prompt: "warm, hopeful".into(),
                duration_secs: 6.0,
                tempo_bpm: 96,
                seed: 5,
            },
            &Run::default(),
        )
        .await
        .unwrap();
    let probed = probe(&music.path()).await.unwrap();
    assert_eq!(probed.audio_codec.as_deref(), Some("aac"));
    assert_eq!(probed.video_codec, None);
    let duration = probed.duration_secs.unwrap();
    assert!((duration - 6.0).abs() < 0.1, "{duration}");
}

#[tokio::test]
async fn impossible_requests_are_refused_without_running_ffmpeg() {
    let (offline, _dir) = provider();
    let too_long = offline
        .generate_music(
            &MusicRequest {
                prompt: String::new(),
                duration_secs: 6.0,
                tempo_bpm: 900,
                seed: 0,
            },
            &Run::default(),
        )
        .await;
    assert!(matches!(
        too_long,
        Err(app::generation::ssr::GenerationError::Refused(_))
    ));
    let mut colourless = image_request(VideoFormat::Vertical, None, 0);
    colourless.palette.clear();
    assert!(matches!(
        offline.generate_image(&colourless, &Run::default()).await,
        Err(app::generation::ssr::GenerationError::Refused(_))
    ));
}

#[tokio::test]
async fn cancelling_stops_a_clip_at_once() {
    let (offline, _dir) = provider();
    let image = offline
        .generate_image(
            &image_request(VideoFormat::Vertical, None, 4),
            &Run::default(),
        )
        .await
        .unwrap();
    let run = Run::default();
    let cancel = run.cancel.clone();
    let request = VideoRequest {
        prompt: "a long one".into(),
        format: VideoFormat::Vertical,
        image: image.path(),
        duration_secs: 30.0,
        seed: 4,
    };
    let started = std::time::Instant::now();
    let (result, ()) = tokio::join!(offline.generate_video(&request, &run), async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        cancel.cancel();
    });
    assert!(
        matches!(
            result,
            Err(app::generation::ssr::GenerationError::Cancelled)
        ),
        "{result:?}"
    );
    // A 30 s 720×1280 clip takes far longer than this to encode on this machine.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
