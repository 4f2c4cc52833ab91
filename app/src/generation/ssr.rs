//! What every provider takes and gives back.

use crate::projects::VideoFormat;
use futures::future::BoxFuture;
use std::{
    future::Future,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};
use tokio_util::sync::CancellationToken;

/// A colour as `#rrggbb`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub fn parse(hex: &str) -> Option<Self> {
        let hex = hex.strip_prefix('#')?;
        if hex.len() != 6 || !hex.is_ascii() {
            return None;
        }
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some(Self(channel(0)?, channel(2)?, channel(4)?))
    }

    /// FFmpeg's colour syntax.
    pub fn ffmpeg(self) -> String {
        format!("0x{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

#[derive(Clone, Debug)]
pub struct ImageRequest {
    pub prompt: String,
    pub format: VideoFormat,
    /// Colours to draw from (a mood's palette); at least one.
    pub palette: Vec<Rgb>,
    /// Words to lay out on the image, for providers that render text.
    pub caption: Option<String>,
    pub seed: u64,
    /// The user's product, when the scene shows it: the picture is made around this very
    /// product rather than one the model invents.
    pub product: Option<ProductReference>,
}

/// The product's photos as an image generation takes them.
#[derive(Clone, Debug)]
pub struct ProductReference {
    /// The main photo, as kept (re-encoded).
    pub photo: PathBuf,
    /// The product cut out of its background (a transparent PNG), when that could be done.
    pub cutout: Option<PathBuf>,
    /// Links to the main photo and then the others that a provider can fetch for a few
    /// minutes; empty when this instance has no address it can reach (a provider then
    /// gets the file itself).
    pub urls: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct VideoRequest {
    pub prompt: String,
    pub format: VideoFormat,
    /// The approved seed image the clip starts from.
    pub image: PathBuf,
    pub duration_secs: f64,
    pub seed: u64,
}

#[derive(Clone, Debug)]
pub struct MusicRequest {
    pub prompt: String,
    pub duration_secs: f64,
    pub tempo_bpm: u32,
    pub seed: u64,
}

/// A file a provider made, kept in a temporary directory until it is stored.
#[derive(Debug)]
pub struct GeneratedMedia {
    dir: tempfile::TempDir,
    pub file_name: String,
    pub extension: &'static str,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_ms: Option<i32>,
    pub provider: &'static str,
    pub prediction_id: Option<String>,
    /// Compute seconds the provider reported, where it bills by them.
    pub predict_secs: Option<f64>,
    pub cost_microusd: i64,
}

impl GeneratedMedia {
    pub fn new(
        dir: tempfile::TempDir,
        file_name: String,
        extension: &'static str,
        provider: &'static str,
    ) -> Self {
        Self {
            dir,
            file_name,
            extension,
            width: None,
            height: None,
            duration_ms: None,
            provider,
            prediction_id: None,
            predict_secs: None,
            cost_microusd: 0,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join(&self.file_name)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Why a generation did not produce anything.
#[derive(Debug, thiserror::Error)]
pub enum GenerationError {
    /// The provider will not make this (content policy, invalid input): retrying is useless.
    #[error("the request was refused: {0}")]
    Refused(String),
    /// Worth retrying later: rate limits, outages, timeouts.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// Someone cancelled it (a newer request replaced it, or the user stopped it).
    #[error("the generation was cancelled")]
    Cancelled,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Saves a provider's prediction id; see [`Run::on_started`].
pub type OnStarted = Arc<dyn Fn(String) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// How one generation runs: cancellable, and resumable after a crash or a retry.
#[derive(Clone, Default)]
pub struct Run {
    /// Cancelling stops the work (the provider's prediction is cancelled, FFmpeg killed).
    pub cancel: CancellationToken,
    /// Set before `cancel` when the work now belongs to someone else (another worker took
    /// the job over after this one lost its lease): the work stops here, but the provider's
    /// prediction is left running for the new owner, who resumes it.
    pub handed_off: Arc<AtomicBool>,
    /// A prediction an earlier attempt started: wait on it instead of paying for a new one.
    pub resume: Option<String>,
    /// An earlier attempt ran without saving a prediction (it crashed, maybe just after
    /// creating one): look for that prediction before creating another.
    pub retried: bool,
    /// Called with the provider's prediction id as soon as it exists, before waiting on it,
    /// so that the id is saved; an error stops the run.
    pub on_started: Option<OnStarted>,
}

impl Run {
    /// Runs `work` unless or until the run is cancelled (dropping `work` then).
    pub async fn cancellable<T, F>(&self, work: F) -> Result<T, GenerationError>
    where
        F: Future<Output = Result<T, GenerationError>>,
    {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(GenerationError::Cancelled),
            result = work => result,
        }
    }

    /// Whether a cancelled run was handed off rather than stopped (see `handed_off`).
    pub fn is_handed_off(&self) -> bool {
        self.handed_off.load(Ordering::Acquire)
    }

    pub async fn started(&self, prediction_id: &str) -> Result<(), GenerationError> {
        match &self.on_started {
            Some(save) => save(prediction_id.to_string())
                .await
                .map_err(GenerationError::Failed),
            None => Ok(()),
        }
    }
}

#[async_trait::async_trait]
pub trait ImageGenerator: Send + Sync + 'static {
    async fn generate_image(
        &self,
        request: &ImageRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError>;
}

#[async_trait::async_trait]
pub trait VideoGenerator: Send + Sync + 'static {
    async fn generate_video(
        &self,
        request: &VideoRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError>;
}

#[async_trait::async_trait]
pub trait MusicGenerator: Send + Sync + 'static {
    async fn generate_music(
        &self,
        request: &MusicRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError>;
}

#[cfg(test)]
mod tests {
    use super::Rgb;

    #[test]
    fn colours_parse_from_hex() {
        assert_eq!(Rgb::parse("#7c5cff"), Some(Rgb(0x7c, 0x5c, 0xff)));
        assert_eq!(Rgb(0x7c, 0x5c, 0xff).ffmpeg(), "0x7c5cff");
        for bad in ["7c5cff", "#7c5cf", "#zzzzzz", "#7c5cffaa", "#ééé"] {
            assert_eq!(Rgb::parse(bad), None, "{bad}");
        }
    }
}

/// The media providers in use, picked by configuration.
#[derive(Clone)]
pub struct MediaProviders {
    pub image: Arc<dyn ImageGenerator>,
    pub video: Arc<dyn VideoGenerator>,
    pub music: Arc<dyn MusicGenerator>,
    /// The voiceover's speech.
    pub speech: Arc<dyn super::speech::SpeechGenerator>,
    /// The clip lengths the video model makes: scenes are fitted to them.
    pub clip_lengths: crate::creative::timing::ClipLengths,
    /// Shown in the UI: the offline provider is labelled as an offline preview.
    pub offline: bool,
}

/// Stores what a provider made and records it, returning the stored asset.
pub async fn keep(
    pool: &sqlx::PgPool,
    storage: &dyn crate::storage::ssr::Storage,
    owner: uuid::Uuid,
    project: uuid::Uuid,
    kind: crate::storage::AssetKind,
    prompt: &str,
    media: GeneratedMedia,
) -> anyhow::Result<crate::storage::ssr::StoredAsset> {
    let asset = crate::storage::ssr::NewAsset {
        owner,
        project,
        kind,
        extension: media.extension,
        width: media.width,
        height: media.height,
        duration_ms: media.duration_ms,
        provider: media.provider.to_string(),
        prediction_id: media.prediction_id.clone(),
        prompt: Some(prompt.to_string()),
        cost_microusd: media.cost_microusd,
    };
    crate::storage::ssr::store_asset(pool, storage, asset, &media.path()).await
}
