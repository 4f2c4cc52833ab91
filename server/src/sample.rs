//! `reelsmith sample-media`: the configured providers and storage, end to end.

use crate::{config::Settings, startup::Database};
use anyhow::{anyhow, Context};
use app::{
    auth::ssr::Email,
    generation::sample::make_samples,
    projects::{
        ssr::{create, ProjectName},
        VideoFormat,
    },
};
use std::time::Duration;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

pub async fn sample_media(
    settings: &Settings,
    email: &str,
    format: &str,
    seconds: f64,
) -> anyhow::Result<()> {
    let format = VideoFormat::parse(format)
        .ok_or_else(|| anyhow!("--format is one of 9:16, 16:9 or 1:1, not {format:?}"))?;
    if !(1.0..=12.0).contains(&seconds) {
        anyhow::bail!("--seconds is between 1 and 12");
    }
    let email = Email::parse(email).map_err(|error| anyhow!("{error}"))?;
    let database = Database::connect(settings).await?;
    let result = async {
        let owner = sqlx::query_scalar!("SELECT id FROM users WHERE email = $1", email.as_str())
            .fetch_optional(&database.pool)
            .await?
            .with_context(|| {
                format!("no account has the email {}; sign up first", email.as_str())
            })?;
        let storage = settings.storage()?.storage;
        let media = settings.media_providers()?;
        let name = format!(
            "Provider check {}",
            OffsetDateTime::now_utc().format(&Rfc3339)?
        );
        let project = create(
            &database.pool,
            owner,
            ProjectName::parse(&name).map_err(|error| anyhow!("{error}"))?,
            format,
        )
        .await
        .map_err(|error| anyhow!("creating the project: {error}"))?;
        println!(
            "Project \"{name}\" ({}), {} provider:",
            project.id,
            if media.offline {
                "offline"
            } else {
                "Replicate"
            }
        );
        let samples = make_samples(
            &database.pool,
            &*storage,
            &media,
            owner,
            project.id,
            format,
            seconds,
        )
        .await?;
        for (label, asset) in [
            ("image", &samples.image),
            ("clip", &samples.clip),
            ("music", &samples.music),
        ] {
            let link = storage
                .signed_url(&asset.key, Duration::from_secs(3600))
                .await?;
            let link = if link.starts_with('/') {
                format!("{}{link}", settings.public_url())
            } else {
                link
            };
            println!(
                "  {label:<5}  {:<10}  {:>9} bytes  asset {}\n         {link}",
                asset.mime, asset.bytes, asset.id
            );
        }
        anyhow::Ok(())
    }
    .await;
    database.pool.close().await;
    if let Some(cluster) = database.cluster {
        tokio::task::spawn_blocking(move || cluster.stop()).await??;
    }
    result
}
