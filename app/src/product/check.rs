//! The product check run after each seed image and clip: the pictures made are compared
//! with the product's reference picture (its cut-out or photo) by a vision model where
//! one is configured (`judge`), otherwise, or when the model cannot answer, by the pixel
//! measure (`matching`). A clip is judged by a few sampled frames.

use super::{judge::ProductJudge, matching::product_match};
use crate::generation::llm::{measured, Usage};
use image::DynamicImage;
use std::{path::Path, sync::Arc};

/// The score under which a picture counts as having lost the product
/// (`REELSMITH_PRODUCT_DRIFT_BELOW`).
pub const DRIFT_BELOW: f64 = 0.5;

/// Frames of a clip that are checked, as shares of its length: its start, middle and end.
const CLIP_SAMPLES: [f64; 3] = [0.1, 0.5, 0.9];

/// How many pictures a check looks at: what a judge's price is counted on.
pub fn pictures_checked(clip: bool) -> usize {
    if clip {
        CLIP_SAMPLES.len()
    } else {
        1
    }
}

/// How products are checked, shared by every job of a worker.
#[derive(Clone)]
pub struct ProductCheck {
    pub drift_below: f64,
    /// The vision model, where one is configured.
    pub judge: Option<Arc<dyn ProductJudge>>,
}

impl std::fmt::Debug for ProductCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductCheck")
            .field("drift_below", &self.drift_below)
            .field("judge", &self.judge.as_ref().map(|_| "vision model"))
            .finish()
    }
}

impl Default for ProductCheck {
    fn default() -> Self {
        Self {
            drift_below: DRIFT_BELOW,
            judge: None,
        }
    }
}

/// What a check of one image or clip found.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    pub score: f64,
    /// Below the drift threshold: the product is missing or changed.
    pub drift: bool,
    /// What the score means, or the model's reason, shown with it.
    pub note: String,
    /// The vision model answered (and is paid for).
    pub judged: bool,
    /// The tokens the vision model reported using, when it did.
    pub usage: Option<Usage>,
}

fn open(path: &Path) -> anyhow::Result<DynamicImage> {
    use anyhow::Context;
    image::ImageReader::open(path)
        .with_context(|| format!("opening {}", path.display()))?
        .with_guessed_format()?
        .decode()
        .with_context(|| format!("decoding {}", path.display()))
}

/// The pictures to check: the seed image itself, or frames sampled from the clip.
async fn pictures(made: &Path, clip_secs: Option<f64>) -> anyhow::Result<Vec<DynamicImage>> {
    let Some(secs) = clip_secs else {
        let made = made.to_path_buf();
        return Ok(vec![
            tokio::task::spawn_blocking(move || open(&made)).await??,
        ]);
    };
    let frames = tempfile::tempdir()?;
    let mut paths = Vec::new();
    for (index, at) in CLIP_SAMPLES.iter().enumerate() {
        let frame = frames.path().join(format!("frame{index}.png"));
        crate::generation::ffmpeg::run(&[
            "-ss".into(),
            format!("{:.3}", secs * at),
            "-i".into(),
            made.to_string_lossy().into_owned(),
            "-frames:v".into(),
            "1".into(),
            frame.to_string_lossy().into_owned(),
        ])
        .await?;
        paths.push(frame);
    }
    tokio::task::spawn_blocking(move || paths.iter().map(|p| open(p)).collect()).await?
}

impl ProductCheck {
    /// Checks a seed image (`clip_secs` none) or a clip against the product's reference
    /// picture. A clip is judged by its least faithful sampled frame.
    pub async fn check(
        &self,
        reference: &Path,
        made: &Path,
        clip_secs: Option<f64>,
    ) -> anyhow::Result<Checked> {
        let reference = reference.to_path_buf();
        let product = tokio::task::spawn_blocking(move || open(&reference)).await??;
        let pictures = pictures(made, clip_secs).await?;
        let mut fallback = String::new();
        if let Some(judge) = &self.judge {
            let (verdict, usage) = measured(judge.judge(&product, &pictures)).await;
            match verdict {
                Ok(verdict) => {
                    let percent = (verdict.score * 100.0).round();
                    let note = if verdict.differences.is_empty() {
                        format!("the vision check scored the product {percent} %")
                    } else {
                        verdict.differences
                    };
                    return Ok(Checked {
                        score: verdict.score,
                        drift: verdict.score < self.drift_below,
                        note,
                        judged: true,
                        usage,
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "the vision product check failed; using the pixel measure");
                    fallback = format!(" (the vision check could not answer: {error})");
                }
            }
        }
        let worst = tokio::task::spawn_blocking(move || {
            pictures
                .iter()
                .map(|picture| product_match(&product, picture).score)
                .fold(1.0f64, f64::min)
        })
        .await?;
        let percent = (worst * 100.0).round();
        let what = if clip_secs.is_some() {
            "its least faithful frame"
        } else {
            "the picture"
        };
        Ok(Checked {
            score: worst,
            drift: worst < self.drift_below,
            note: format!("{percent} % of the product photo's pixels found in {what}{fallback}"),
            judged: false,
            usage: None,
        })
    }
}
