//! Media the render tests are made of: clips, music, a logo, a brand kit; and what
//! ffprobe counts of a result.

// Each test file uses its own share of these.
#![allow(dead_code, clippy::unwrap_used)]

use app::{
    brand::{font::bundled_bytes, BundledFont, Corner},
    generation::ffmpeg::run,
    render::{
        branding::{Brand, Logo},
        compose::Clip,
    },
};
use std::path::{Path, PathBuf};

/// A test clip: moving colour bars at the given size and rate, with or without a tone.
pub async fn clip(dir: &Path, name: &str, size: &str, rate: u32, secs: f64, audio: bool) -> Clip {
    let path = dir.join(format!("{name}.mp4"));
    let mut args: Vec<String> = vec![
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!("testsrc2=s={size}:r={rate}:d={secs}"),
    ];
    if audio {
        args.extend([
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("sine=frequency=440:d={secs}"),
        ]);
    }
    args.extend([
        "-c:v".into(),
        "libx264".into(),
        "-preset".into(),
        "ultrafast".into(),
        "-pix_fmt".into(),
        "yuv420p".into(),
    ]);
    if audio {
        args.extend(["-c:a".into(), "aac".into()]);
    }
    args.push(path.to_string_lossy().into_owned());
    run(&args).await.unwrap();
    Clip {
        path,
        duration_secs: secs,
        has_audio: audio,
    }
}

pub async fn music(dir: &Path, secs: f64) -> PathBuf {
    let path = dir.join("music.m4a");
    run(&[
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!("sine=frequency=220:d={secs}"),
        "-c:a".into(),
        "aac".into(),
        path.to_string_lossy().into_owned(),
    ])
    .await
    .unwrap();
    path
}

/// Frames in the video stream of `video`, counted by ffprobe.
pub async fn video_frames(video: &Path) -> u32 {
    let output = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_packets"])
        .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
        .arg(video)
        .output()
        .await
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}

pub fn logo_file(dir: &Path) -> Logo {
    let path = dir.join("logo.png");
    let image = image::RgbaImage::from_fn(400, 200, |x, y| {
        if (20..380).contains(&x) && (20..180).contains(&y) {
            image::Rgba([20, 60, 230, 255])
        } else {
            image::Rgba([0, 0, 0, 0])
        }
    });
    image.save(&path).unwrap();
    Logo {
        path,
        width: 400,
        height: 200,
    }
}

pub fn brand_with(dir: &Path, font: BundledFont, logo: Option<Logo>) -> Brand {
    let path = dir.join(format!("{}.ttf", font.id));
    std::fs::write(&path, bundled_bytes(font)).unwrap();
    Brand {
        font: path,
        colors: vec!["#e63946".into(), "#ffffff".into()],
        logo,
        corner: Corner::TopRight,
        logo_size: 0.2,
        handle: "@lumen".into(),
        end_card_secs: Some(1.5),
    }
}

/// The top fifth of the frame at `at` seconds, in grey, as bytes.
pub async fn top_band(video: &Path, at: f64) -> Vec<u8> {
    grey_band(video, at, "crop=iw:ih/5:0:0,scale=216:76").await
}

/// The part of the frame at `at` seconds that `crop` (a filter chain) cuts, in grey.
pub async fn grey_band(video: &Path, at: f64, crop: &str) -> Vec<u8> {
    grey_frames(video, at, "-frames:v", "1", crop).await
}

/// What `crop` cuts of the frames from `from` on (as many as `limit` = `count` allows:
/// `-frames:v N`, or `-t SECONDS`), in grey, one after the other.
pub async fn grey_frames(video: &Path, from: f64, limit: &str, count: &str, crop: &str) -> Vec<u8> {
    let output = tokio::process::Command::new("ffmpeg")
        .args(["-v", "error", "-ss", &format!("{from}"), "-i"])
        .arg(video)
        .args([
            limit,
            count,
            "-vf",
            &format!("{crop},format=gray"),
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

pub fn difference(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / a.len() as f64
}
