//! The providers' settings: which models make the brief, images, clips, music and
//! speech (offline ones when no key is set), what they cost, and the budgets.

use super::Settings;
use app::budget::ssr::Spending;
use app::creative::{
    offline::OfflineDirector,
    ssr::{Director, LlmDirector},
    timing::ClipLengths,
};
use app::generation::{
    llm::{OpenAiCompatible, OpenAiSettings},
    offline::OfflineMedia,
    pricing::{PriceTable, Priced},
    replicate::{Replicate, ReplicateSettings, PROVIDER as REPLICATE},
    retry::RetryPolicy,
    speech::{EspeakSpeech, OpenAiSpeech, ReplicateSpeech, SpeechGenerator},
    ssr::MediaProviders,
};
use app::product::{
    check::ProductCheck,
    judge::{ProductJudge, VisionJudge},
};
use app::secret::Secret;
use clap::Args;
use std::sync::Arc;

#[derive(Debug, Clone, Args)]
pub struct ProviderSettings {
    /// Key for an OpenAI-compatible chat API. Unset (and no base URL): the offline creative
    /// director guides the brief.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<Secret>,

    /// OpenAI-compatible endpoint (OpenRouter, Ollama, vLLM, ...). Setting it without a key
    /// uses a keyless server such as Ollama. [default: https://api.openai.com/v1]
    #[arg(long, env = "OPENAI_BASE_URL")]
    pub openai_base_url: Option<String>,

    /// Chat model name.
    #[arg(long, env = "REELSMITH_LLM_MODEL", default_value = "gpt-4o-mini")]
    pub llm_model: String,

    /// Replicate API token; unset, media is made by the offline provider.
    #[arg(long, env = "REPLICATE_API_TOKEN", hide_env_values = true)]
    pub replicate_api_token: Option<Secret>,

    /// Replicate image model.
    #[arg(
        long,
        env = "REELSMITH_IMAGE_MODEL",
        default_value = "black-forest-labs/flux-schnell"
    )]
    pub image_model: String,

    /// Replicate image model for scenes that show the user's product: it takes the
    /// product's photo (`input_image`) and keeps the product as it is. A
    /// `multi-image` model (flux-kontext-apps/multi-image-kontext-pro) gets two photos.
    #[arg(
        long,
        env = "REELSMITH_PRODUCT_IMAGE_MODEL",
        default_value = "black-forest-labs/flux-kontext-pro"
    )]
    pub product_image_model: String,

    /// Replicate image-to-video model.
    #[arg(
        long,
        env = "REELSMITH_VIDEO_MODEL",
        default_value = "bytedance/seedance-1-pro-fast"
    )]
    pub video_model: String,

    /// Replicate music model.
    #[arg(long, env = "REELSMITH_MUSIC_MODEL", default_value = "meta/musicgen")]
    pub music_model: String,

    /// Replicate's API, or a proxy in front of it. [default: https://api.replicate.com/v1]
    #[arg(long, env = "REPLICATE_BASE_URL")]
    pub replicate_base_url: Option<String>,

    /// Prices of models, overriding or adding to the built-in table: `model=price` pairs
    /// separated by `;`, a price being `run:USD` (per prediction), `second:USD` (per second
    /// of output), `compute:USD_PER_SECOND:SECONDS_PER_UNIT` (billed by compute time) or
    /// `tokens:USD_IN:USD_OUT` (per million tokens). A configured model without a price
    /// stops the app from starting.
    #[arg(long, env = "REELSMITH_PRICES")]
    pub prices: Option<String>,

    /// Every account's monthly budget in US dollars, unless set for the account with
    /// `reelsmith accounts set-budget`. Work that would pass it is refused.
    #[arg(long, env = "REELSMITH_MONTHLY_BUDGET_USD", default_value_t = 20.0)]
    pub monthly_budget_usd: f64,

    /// Paid generations (images, clips, music, director calls) an account may ask for in
    /// any minute; past it, actions are refused with 429 and when to try again.
    #[arg(long, env = "REELSMITH_PAID_CALLS_PER_MINUTE", default_value_t = app::budget::ssr::PAID_CALLS_PER_MINUTE)]
    pub paid_calls_per_minute: i64,

    /// A scene image or clip that keeps less than this share (0–1) of the product photo
    /// counts as product drift: it is made again once, then waits for the user.
    #[arg(long, env = "REELSMITH_PRODUCT_DRIFT_BELOW", default_value_t = app::product::check::DRIFT_BELOW)]
    pub product_drift_below: f64,

    /// A vision-capable chat model (at the OpenAI-compatible endpoint) that judges whether
    /// scene images and clips still show the product, e.g. gpt-4o-mini. Unset: a pixel
    /// measure judges.
    #[arg(long, env = "REELSMITH_PRODUCT_JUDGE_MODEL")]
    pub product_judge_model: Option<String>,

    /// A speech model at the OpenAI-compatible endpoint (`POST /audio/speech`) for the
    /// voiceover, e.g. gpt-4o-mini-tts or tts-1. Unset: espeak-ng speaks on this machine
    /// (the offline preview).
    #[arg(long, env = "REELSMITH_SPEECH_MODEL")]
    pub speech_model: Option<String>,

    /// A Replicate speech model for the voiceover instead: a MiniMax one
    /// (minimax/speech-02-turbo) or Kokoro (jaaari/kokoro-82m). Needs
    /// REPLICATE_API_TOKEN; not together with REELSMITH_SPEECH_MODEL.
    #[arg(long, env = "REELSMITH_REPLICATE_SPEECH_MODEL")]
    pub replicate_speech_model: Option<String>,

    /// The clip lengths the video model makes, in whole seconds: a range (`3-10`) or a
    /// list (`5,10`). Scenes are fitted to them before a clip is asked for.
    #[arg(long, env = "REELSMITH_CLIP_LENGTHS", default_value = "3-10")]
    pub clip_lengths: String,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            openai_api_key: None,
            openai_base_url: None,
            llm_model: "gpt-4o-mini".into(),
            replicate_api_token: None,
            image_model: "black-forest-labs/flux-schnell".into(),
            product_image_model: "black-forest-labs/flux-kontext-pro".into(),
            video_model: "bytedance/seedance-1-pro-fast".into(),
            music_model: "meta/musicgen".into(),
            replicate_base_url: None,
            prices: None,
            monthly_budget_usd: 20.0,
            paid_calls_per_minute: app::budget::ssr::PAID_CALLS_PER_MINUTE,
            product_drift_below: app::product::check::DRIFT_BELOW,
            product_judge_model: None,
            speech_model: None,
            replicate_speech_model: None,
            clip_lengths: "3-10".into(),
        }
    }
}

impl Settings {
    /// Replicate when a token is set, otherwise the offline provider.
    pub fn media_providers(&self) -> anyhow::Result<MediaProviders> {
        let work_dir = self.data_dir.join("work");
        let clip_lengths = self.clip_lengths()?;
        let providers = &self.providers;
        match &providers.replicate_api_token {
            Some(token) => {
                let prices = self.prices()?;
                let mut settings = ReplicateSettings::new(token.clone(), work_dir.clone());
                if let Some(base_url) = &providers.replicate_base_url {
                    settings.base_url = base_url.trim_end_matches('/').to_string();
                }
                settings.image_model = providers.image_model.clone();
                settings.product_image_model = providers.product_image_model.clone();
                settings.video_model = providers.video_model.clone();
                settings.music_model = providers.music_model.clone();
                settings.image_price = prices.price(&settings.image_model)?;
                settings.product_image_price = prices.price(&settings.product_image_model)?;
                settings.video_price = prices.price(&settings.video_model)?;
                settings.music_price = prices.price(&settings.music_model)?;
                let replicate = Arc::new(Replicate::new(settings)?);
                Ok(MediaProviders {
                    speech: self.speech(&work_dir.join("speech"), Some(&replicate))?,
                    image: replicate.clone(),
                    video: replicate.clone(),
                    music: replicate,
                    clip_lengths,
                    offline: false,
                })
            }
            None => {
                let offline = Arc::new(OfflineMedia::new(std::path::absolute(&work_dir)?)?);
                Ok(MediaProviders {
                    speech: self.speech(&work_dir.join("speech"), None)?,
                    image: offline.clone(),
                    video: offline.clone(),
                    music: offline,
                    clip_lengths,
                    offline: true,
                })
            }
        }
    }

    /// The configured speech model (OpenAI-compatible or on Replicate), or espeak-ng.
    fn speech(
        &self,
        work_dir: &std::path::Path,
        replicate: Option<&Arc<Replicate>>,
    ) -> anyhow::Result<Arc<dyn SpeechGenerator>> {
        let work_dir = std::path::absolute(work_dir)?;
        let providers = &self.providers;
        Ok(
            match (&providers.speech_model, &providers.replicate_speech_model) {
                (Some(_), Some(_)) => anyhow::bail!(
                    "set REELSMITH_SPEECH_MODEL or REELSMITH_REPLICATE_SPEECH_MODEL, not both: \
                     the voiceover has one speech model"
                ),
                (Some(model), None) => {
                    anyhow::ensure!(
                        self.uses_llm(),
                        "REELSMITH_SPEECH_MODEL needs OPENAI_API_KEY or OPENAI_BASE_URL: \
                         the speech model is reached at the OpenAI-compatible endpoint"
                    );
                    Arc::new(OpenAiSpeech::new(
                        Arc::new(self.openai(model)?),
                        model.clone(),
                        work_dir,
                    ))
                }
                (None, Some(model)) => {
                    let replicate = replicate.ok_or_else(|| {
                        anyhow::anyhow!(
                            "REELSMITH_REPLICATE_SPEECH_MODEL needs REPLICATE_API_TOKEN"
                        )
                    })?;
                    Arc::new(ReplicateSpeech::new(
                        replicate.clone(),
                        model.clone(),
                        work_dir,
                    )?)
                }
                (None, None) => Arc::new(EspeakSpeech::new(work_dir)),
            },
        )
    }

    fn clip_lengths(&self) -> anyhow::Result<ClipLengths> {
        ClipLengths::parse(&self.providers.clip_lengths)
            .map_err(|error| anyhow::anyhow!("REELSMITH_CLIP_LENGTHS: {error}"))
    }

    fn prices(&self) -> anyhow::Result<PriceTable> {
        PriceTable::with_overrides(self.providers.prices.as_deref())
    }

    fn uses_llm(&self) -> bool {
        self.providers.openai_api_key.is_some() || self.providers.openai_base_url.is_some()
    }

    /// What the configured models cost, and the default monthly budget.
    pub fn spending(&self) -> anyhow::Result<Spending> {
        let providers = &self.providers;
        let budget = providers.monthly_budget_usd;
        anyhow::ensure!(
            budget.is_finite() && budget >= 0.0,
            "REELSMITH_MONTHLY_BUDGET_USD must be an amount of US dollars, not {budget}"
        );
        anyhow::ensure!(
            providers.paid_calls_per_minute > 0,
            "REELSMITH_PAID_CALLS_PER_MINUTE must be at least 1"
        );
        let mut spending = Spending::offline((budget * 1_000_000.0).round() as i64);
        spending.paid_calls_per_minute = providers.paid_calls_per_minute;
        let prices = self.prices()?;
        if providers.replicate_api_token.is_some() {
            let pricing = &mut spending.pricing;
            pricing.image = Priced::of(&prices, REPLICATE, &providers.image_model)?;
            pricing.product_image = Priced::of(&prices, REPLICATE, &providers.product_image_model)?;
            pricing.video = Priced::of(&prices, REPLICATE, &providers.video_model)?;
            pricing.music = Priced::of(&prices, REPLICATE, &providers.music_model)?;
        }
        if self.uses_llm() {
            spending.pricing.director = Priced::of(&prices, "openai", &providers.llm_model)?;
        }
        if let Some(model) = &providers.product_judge_model {
            spending.pricing.product_check = Priced::of(&prices, "openai", model)?;
        }
        if let Some(model) = &providers.speech_model {
            spending.pricing.speech = Priced::of(&prices, "openai", model)?;
        }
        if let Some(model) = &providers.replicate_speech_model {
            spending.pricing.speech = Priced::of(&prices, REPLICATE, model)?;
        }
        Ok(spending)
    }

    /// The language model when a key or an endpoint is configured, otherwise the offline
    /// creative director.
    pub fn director(&self) -> anyhow::Result<Arc<dyn Director>> {
        let providers = &self.providers;
        if !self.uses_llm() {
            return Ok(Arc::new(OfflineDirector::new()));
        }
        let llm = self.openai(&providers.llm_model)?;
        Ok(Arc::new(LlmDirector::new(Arc::new(llm))))
    }

    /// `model` at the configured OpenAI-compatible endpoint.
    fn openai(&self, model: &str) -> anyhow::Result<OpenAiCompatible> {
        let providers = &self.providers;
        OpenAiCompatible::new(OpenAiSettings {
            base_url: providers
                .openai_base_url
                .clone()
                .unwrap_or_else(|| "https://api.openai.com/v1".into()),
            api_key: providers.openai_api_key.clone(),
            model: model.to_string(),
            request_timeout: std::time::Duration::from_secs(120),
            retry: RetryPolicy {
                max_attempts: 4,
                first_backoff: std::time::Duration::from_millis(500),
            },
        })
    }

    /// How scene media is checked for the product: the drift threshold, checked, and the
    /// vision model where one is configured.
    pub fn product_check(&self) -> anyhow::Result<ProductCheck> {
        let providers = &self.providers;
        let below = providers.product_drift_below;
        anyhow::ensure!(
            (0.0..=1.0).contains(&below),
            "REELSMITH_PRODUCT_DRIFT_BELOW must be between 0 and 1, not {below}"
        );
        let judge = match &providers.product_judge_model {
            None => None,
            Some(model) => {
                anyhow::ensure!(
                    self.uses_llm(),
                    "REELSMITH_PRODUCT_JUDGE_MODEL needs OPENAI_API_KEY or OPENAI_BASE_URL: \
                     the vision model is reached at the OpenAI-compatible endpoint"
                );
                let judge: Arc<dyn ProductJudge> = Arc::new(VisionJudge::new(self.openai(model)?));
                Some(judge)
            }
        };
        Ok(ProductCheck {
            drift_below: below,
            judge,
        })
    }
}
