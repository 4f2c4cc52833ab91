//! Step 3, the storyboard: 5–7 scenes that add up to the chosen length, each going text →
//! seed image → clip, approved or made again by the user. Images and clips are made by
//! background jobs (`jobs.rs`); every change is an event on the storyboard's live stream
//! (`events.rs`, `stream.rs`).

#[cfg(feature = "ssr")]
pub mod actions;
pub mod api;
#[cfg(feature = "ssr")]
pub mod arrange;
#[cfg(feature = "ssr")]
pub mod events;
#[cfg(feature = "ssr")]
pub mod jobs;
#[cfg(feature = "ssr")]
mod making;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod plan;
#[cfg(feature = "ssr")]
pub mod record;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod stream;
#[cfg(feature = "ssr")]
pub mod voice;
#[cfg(feature = "ssr")]
pub mod voice_sample;

use crate::creative::{Mood, SceneRole};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where one stage (image or clip) of a scene stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GenStatus {
    /// Not asked for yet.
    #[default]
    None,
    Queued,
    Running,
    Ready,
    Failed,
}

impl GenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "ready" => Self::Ready,
            "failed" => Self::Failed,
            _ => Self::None,
        }
    }

    pub fn busy(self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }
}

/// The stage a scene is at, for badges and "approve all".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Text,
    Image,
    Video,
    Done,
}

impl Stage {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "text" => Some(Self::Text),
            "image" => Some(Self::Image),
            "video" => Some(Self::Video),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SceneView {
    pub id: Uuid,
    pub position: i16,
    pub role: SceneRole,
    pub text: String,
    pub visual: String,
    pub duration_secs: u32,
    pub text_approved: bool,
    pub image_status: GenStatus,
    pub image_url: Option<String>,
    pub image_approved: bool,
    pub video_status: GenStatus,
    pub video_url: Option<String>,
    pub video_approved: bool,
    /// Why the last generation failed, or what is being retried.
    pub error: Option<String>,
    /// Whether the seed image is made from the product's main photo.
    pub shows_product: bool,
    /// How much of the product the image and the clip kept, in percent, where checked.
    pub image_match: Option<u8>,
    pub video_match: Option<u8>,
    /// The check found the product missing or changed.
    pub image_drift: bool,
    pub video_drift: bool,
    /// What the voice says over the scene, the speech (a WAV to preview) and its length.
    pub voiceover: String,
    pub voice_status: GenStatus,
    pub voice_url: Option<String>,
    pub voice_ms: Option<u32>,
    /// The line runs past the scene: the clip is not asked for until one of them changes.
    pub voice_too_long: bool,
    /// The image is approved and the clip starts once the line is spoken.
    #[serde(default)]
    pub clip_awaits_voice: bool,
}

impl SceneView {
    /// The line is not spoken yet (or its speech failed): the clip waits for its length.
    pub fn voice_pending(&self) -> bool {
        !self.voiceover.trim().is_empty() && self.voice_status != GenStatus::Ready
    }

    pub fn stage(&self) -> Stage {
        if !self.text_approved {
            Stage::Text
        } else if !self.image_approved {
            Stage::Image
        } else if !self.video_approved {
            Stage::Video
        } else {
            Stage::Done
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoryboardView {
    pub id: Uuid,
    pub project_id: Uuid,
    pub target_secs: u32,
    pub mood: Mood,
    pub scenes: Vec<SceneView>,
    /// The newest event's id: a stream opened with it as `Last-Event-ID` misses nothing.
    pub last_event_id: i64,
    /// What the project spent and has reserved, and what is left of its budgets.
    pub standing: crate::budget::Standing,
    /// For the estimates on the buttons.
    pub prices: crate::budget::Prices,
    pub offline: bool,
    /// The project has product photos: its product scenes are made from the main one.
    pub has_product_photos: bool,
    pub voice: VoiceSettings,
    /// The scene lengths the video model makes, shortest first.
    pub clip_lengths: Vec<u32>,
}

/// A voice the speech provider offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceOption {
    pub id: String,
    /// Name and language, as the picker shows it.
    pub label: String,
}

/// The project's voiceover: on or off, in which voice, and the voices to choose from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceSettings {
    pub enabled: bool,
    pub voice: String,
    pub voices: Vec<VoiceOption>,
}

impl StoryboardView {
    pub fn complete(&self) -> bool {
        !self.scenes.is_empty() && self.scenes.iter().all(|s| s.video_approved)
    }
}

/// What the storyboard stream sends, as JSON in each event's `data`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StoryboardEvent {
    /// A scene changed (or appeared); `removed` scenes are gone.
    SceneUpdate {
        // Boxed: a scene is far larger than the other events.
        scene: Option<Box<SceneView>>,
        scene_id: Uuid,
        removed: bool,
        /// The project's settled spend and open reservations once this change was made,
        /// in millionths of a dollar (a finished generation turns its reservation into
        /// its cost).
        spent_microusd: i64,
        #[serde(default)]
        reserved_microusd: i64,
    },
    /// Every scene has an approved clip.
    StoryboardComplete { storyboard_id: Uuid },
    /// A generation failed for good; the scene says which and why.
    StoryboardError { scene_id: Uuid, message: String },
}

impl StoryboardEvent {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SceneUpdate { .. } => "scene_update",
            Self::StoryboardComplete { .. } => "storyboard_complete",
            Self::StoryboardError { .. } => "storyboard_error",
        }
    }
}
