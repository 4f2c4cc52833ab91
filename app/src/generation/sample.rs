//! One image, one clip and one track from the configured providers, stored with their
//! rows: how a developer checks that providers and storage work together
//! (`reelsmith sample-media`), and what the tests run on both storage backends.

use super::ssr::{keep, ImageRequest, MediaProviders, MusicRequest, Rgb, Run, VideoRequest};
use crate::{
    projects::VideoFormat,
    storage::{
        ssr::{Storage, StoredAsset},
        AssetKind,
    },
};
use anyhow::Context;
use uuid::Uuid;

pub struct SampleAssets {
    pub image: StoredAsset,
    pub clip: StoredAsset,
    pub music: StoredAsset,
}

/// Generates and keeps a sample image, a clip made from it and a music track.
pub async fn make_samples(
    pool: &sqlx::PgPool,
    storage: &dyn Storage,
    media: &MediaProviders,
    owner: Uuid,
    project: Uuid,
    format: VideoFormat,
    clip_secs: f64,
) -> anyhow::Result<SampleAssets> {
    let run = Run::default();
    let prompt = "matte black headphones on a desk at dawn, soft window light";
    let image = media
        .image
        .generate_image(
            &ImageRequest {
                prompt: prompt.into(),
                format,
                palette: vec![
                    Rgb(0x1f, 0x2a, 0x30),
                    Rgb(0xd9, 0x82, 0x2b),
                    Rgb(0xfb, 0xee, 0xd7),
                ],
                caption: Some("Quiet, anywhere.".into()),
                seed: 1,
                product: None,
            },
            &run,
        )
        .await
        .context("generating the image")?;
    let clip = media
        .video
        .generate_video(
            &VideoRequest {
                prompt: format!("slow push in: {prompt}"),
                format,
                image: image.path(),
                duration_secs: clip_secs,
                seed: 1,
            },
            &run,
        )
        .await
        .context("generating the clip")?;
    let music = media
        .music
        .generate_music(
            &MusicRequest {
                prompt: "calm ambient pad".into(),
                duration_secs: clip_secs,
                tempo_bpm: 84,
                seed: 1,
            },
            &run,
        )
        .await
        .context("generating the music")?;
    let image = keep(
        pool,
        storage,
        owner,
        project,
        AssetKind::Image,
        prompt,
        image,
    )
    .await?;
    let clip = keep(
        pool,
        storage,
        owner,
        project,
        AssetKind::Video,
        prompt,
        clip,
    )
    .await?;
    let music = keep(
        pool,
        storage,
        owner,
        project,
        AssetKind::Audio,
        "calm ambient pad",
        music,
    )
    .await?;
    Ok(SampleAssets { image, clip, music })
}
