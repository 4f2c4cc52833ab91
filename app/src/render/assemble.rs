//! What a render is made of, fetched into its folder: the approved clips, their
//! normalised files, the music, the kit's logo and font, the spoken lines, and the
//! [`Composition`] they make. The render job assembles the video it was asked for; the
//! job that makes pieces ahead (`smart/ahead.rs`) the one the user is about to ask for.

use super::{
    branding::{Brand, Logo},
    captions::CaptionStyle,
    compose::{Clip, Composition, Encoder, Music},
    mix::VoiceLine,
    smart::{job::for_render, Normalised},
    ssr::VoiceLineRef,
};
use crate::{
    brand::{bundled_font, font::bundled_bytes, ssr::BrandSnapshot, BUNDLED_FONTS},
    creative::timing::VOICE_LEAD_SECS,
    generation::{ffmpeg, ssr::GenerationError},
    jobs::JobContext,
    projects::VideoFormat,
    storage::ssr::ObjectKey,
};
use anyhow::Context;
use std::path::Path;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// What one render is made of, as a render's row records it.
#[derive(Clone, Debug)]
pub struct Recipe {
    pub format: VideoFormat,
    pub clip_asset_ids: Vec<Uuid>,
    pub title: Option<String>,
    pub call_to_action: Option<String>,
    pub music_asset_id: Option<Uuid>,
    pub music_volume: f32,
    /// The kit as it was when the render was asked for.
    pub brand: Option<BrandSnapshot>,
    pub voice_lines: Vec<VoiceLineRef>,
    pub captions: Option<CaptionStyle>,
}

impl Recipe {
    /// Fetches everything but the normalised clips into `dir` and answers the
    /// composition. Cancelling stops the fetches.
    pub async fn composition(
        &self,
        context: &JobContext,
        dir: &Path,
        cancel: &CancellationToken,
    ) -> Result<Composition, GenerationError> {
        let mut clips = Vec::new();
        for (i, asset) in self.clip_asset_ids.iter().enumerate() {
            let path = dir.join(format!("clip{i}.mp4"));
            run_fetch(context, *asset, &path, cancel).await?;
            let probed = ffmpeg::probe(&path).await?;
            clips.push(Clip {
                duration_secs: probed.duration_secs.unwrap_or(0.0),
                has_audio: probed.audio_codec.is_some(),
                path,
            });
        }
        let music = match self.music_asset_id {
            Some(asset) => {
                let path = dir.join("music.m4a");
                run_fetch(context, asset, &path, cancel).await?;
                Some(Music {
                    path,
                    volume: self.music_volume as f64,
                })
            }
            None => None,
        };
        let brand = match &self.brand {
            Some(snapshot) => Some(brand_files(context, snapshot, dir, cancel).await?),
            None => None,
        };
        let mut composition = Composition {
            clips,
            format: self.format,
            title: self.title.clone(),
            call_to_action: self.call_to_action.clone(),
            music,
            brand,
            voices: Vec::new(),
            captions: self.captions,
            encoder: Encoder::default(),
        };
        // Each line starts a breath after its scene does, where the scene plays in the
        // video (the end card shortens the clips a little).
        let starts: Vec<f64> = composition
            .slots()
            .iter()
            .scan(0.0, |start, slot| {
                let this = *start;
                *start += slot;
                Some(this)
            })
            .collect();
        for (j, line) in self.voice_lines.iter().enumerate() {
            let Some(start) = starts.get(line.scene) else {
                continue;
            };
            let path = dir.join(format!("voice{j}.wav"));
            run_fetch(context, line.asset_id, &path, cancel).await?;
            composition.voices.push(VoiceLine {
                path,
                start_secs: start + VOICE_LEAD_SECS,
                text: line.text.clone(),
                secs: f64::from(line.ms) / 1000.0,
            });
        }
        Ok(composition)
    }

    /// The normalised files of `composition`'s clips (see [`normalised_clips`]).
    pub async fn normalised(
        &self,
        context: &JobContext,
        composition: &Composition,
        dir: &Path,
    ) -> Result<Vec<Normalised>, GenerationError> {
        normalised_clips(
            context,
            &self.clip_asset_ids,
            &composition.clips,
            composition.format,
            &composition.encoder,
            dir,
        )
        .await
    }
}

/// Fetches asset `asset` from storage into `file`.
pub(crate) async fn fetch(
    context: &JobContext,
    asset: Uuid,
    file: &std::path::Path,
) -> anyhow::Result<()> {
    let key = sqlx::query_scalar!("SELECT storage_key FROM assets WHERE id = $1", asset)
        .fetch_one(&context.pool)
        .await?;
    let bytes = context.storage.get_bytes(&ObjectKey::parse(&key)?).await?;
    tokio::fs::write(file, &bytes).await?;
    Ok(())
}

async fn run_fetch(
    context: &JobContext,
    asset: Uuid,
    path: &std::path::Path,
    cancel: &CancellationToken,
) -> Result<(), GenerationError> {
    tokio::select! {
        _ = cancel.cancelled() => Err(GenerationError::Cancelled),
        result = fetch(context, asset, path) => result.map_err(|e| GenerationError::Unavailable(format!("{e:#}"))),
    }
}

/// The kit of a render with its files fetched into `dir`: the logo, and the uploaded font
/// or the bundled one.
async fn brand_files(
    context: &JobContext,
    snapshot: &BrandSnapshot,
    dir: &std::path::Path,
    cancel: &CancellationToken,
) -> Result<Brand, GenerationError> {
    let font = dir.join("brand-font");
    match snapshot.font_asset_id {
        Some(asset) => run_fetch(context, asset, &font, cancel).await?,
        None => {
            let bundled = bundled_font(&snapshot.bundled_font).unwrap_or(BUNDLED_FONTS[0]);
            tokio::fs::write(&font, bundled_bytes(bundled))
                .await
                .context("writing the font")?;
        }
    }
    let logo = match snapshot.logo_asset_id {
        Some(asset) => {
            let size = sqlx::query!("SELECT width, height FROM assets WHERE id = $1", asset)
                .fetch_one(&context.pool)
                .await
                .map_err(anyhow::Error::from)?;
            let path = dir.join("brand-logo.png");
            run_fetch(context, asset, &path, cancel).await?;
            Some(Logo {
                path,
                width: size.width.unwrap_or(1).max(1) as u32,
                height: size.height.unwrap_or(1).max(1) as u32,
            })
        }
        None => None,
    };
    Ok(Brand {
        font,
        colors: snapshot.colors.clone(),
        logo,
        corner: snapshot.logo_corner,
        logo_size: snapshot.logo_size as f64,
        handle: snapshot.handle.clone(),
        end_card_secs: snapshot.end_card_secs.map(f64::from),
    })
}

/// Each clip's normalised file (made in the background when it was approved; made now
/// for any that is not there yet, and kept), or none at all if one cannot be had: the
/// render is then made in one pass, which needs only the clips.
async fn normalised_clips(
    context: &JobContext,
    assets: &[Uuid],
    clips: &[Clip],
    format: VideoFormat,
    encoder: &Encoder,
    dir: &std::path::Path,
) -> Result<Vec<Normalised>, GenerationError> {
    let mut normalised = Vec::new();
    for (asset, clip) in assets.iter().zip(clips) {
        let made = tokio::select! {
            _ = context.run.cancel.cancelled() => return Err(GenerationError::Cancelled),
            made = for_render(context, *asset, format, encoder, &clip.path, dir) => made,
        };
        match made {
            Ok(file) => normalised.push(file),
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), clip = %asset, "no normalised clip; the render is made in one pass");
                return Ok(Vec::new());
            }
        }
    }
    Ok(normalised)
}
