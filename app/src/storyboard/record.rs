//! A scene as stored, with its assets' keys: what the storyboard's queries, jobs and
//! events pass around, turned into a [`SceneView`] (fresh links) for pages.

use super::{GenStatus, SceneView};
use crate::{
    creative::{timing::needed_secs, SceneRole},
    storage::{links::link, ssr::Storage},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A scene as stored, with its assets' keys.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SceneRecord {
    pub id: Uuid,
    pub storyboard_id: Uuid,
    pub position: i16,
    pub role: SceneRole,
    pub text: String,
    pub visual: String,
    pub duration_secs: u32,
    pub text_approved: bool,
    pub image_status: GenStatus,
    pub image_asset_id: Option<Uuid>,
    pub image_key: Option<String>,
    pub image_approved: bool,
    pub video_status: GenStatus,
    pub video_asset_id: Option<Uuid>,
    pub video_key: Option<String>,
    pub video_approved: bool,
    pub error: Option<String>,
    pub generation: i32,
    /// Whether the product's main photo guides the seed image.
    pub shows_product: bool,
    /// The product check of the image and the clip (0–1), where one was made.
    pub image_match: Option<f32>,
    pub image_drift: bool,
    pub video_match: Option<f32>,
    pub video_drift: bool,
    /// The line spoken over the scene, and where its speech stands (events stored before
    /// voiceovers existed have none).
    #[serde(default)]
    pub voiceover: String,
    #[serde(default)]
    pub voice_status: GenStatus,
    #[serde(default)]
    pub voice_asset_id: Option<Uuid>,
    #[serde(default)]
    pub voice_key: Option<String>,
    /// The spoken line's measured length.
    #[serde(default)]
    pub voice_ms: Option<u32>,
    #[serde(default)]
    pub voice_generation: i32,
    /// The image is approved while the line was still being spoken: the clip is asked
    /// for as soon as the speech is ready and fits (see `voice.rs`).
    #[serde(default)]
    pub clip_awaits_voice: bool,
}

fn percent(score: Option<f32>) -> Option<u8> {
    score.map(|s| (s.clamp(0.0, 1.0) * 100.0).round() as u8)
}

impl SceneRecord {
    pub async fn view(&self, storage: &dyn Storage) -> SceneView {
        let image_url = match &self.image_key {
            Some(key) => link(storage, key).await,
            None => None,
        };
        let video_url = match &self.video_key {
            Some(key) => link(storage, key).await,
            None => None,
        };
        let voice_url = match &self.voice_key {
            Some(key) => link(storage, key).await,
            None => None,
        };
        SceneView {
            id: self.id,
            position: self.position,
            role: self.role,
            text: self.text.clone(),
            visual: self.visual.clone(),
            duration_secs: self.duration_secs,
            text_approved: self.text_approved,
            image_status: self.image_status,
            image_url,
            image_approved: self.image_approved,
            video_status: self.video_status,
            video_url,
            video_approved: self.video_approved,
            error: self.error.clone(),
            shows_product: self.shows_product,
            image_match: percent(self.image_match),
            video_match: percent(self.video_match),
            image_drift: self.image_drift,
            video_drift: self.video_drift,
            voiceover: self.voiceover.clone(),
            voice_status: self.voice_status,
            voice_url,
            voice_ms: self.voice_ms,
            voice_too_long: self.voice_too_long(),
            clip_awaits_voice: self.clip_awaits_voice,
        }
    }

    /// The length the scene's spoken line needs (0 while none is spoken).
    pub fn spoken_secs(&self) -> u32 {
        match (self.voice_status, self.voice_ms) {
            (GenStatus::Ready, Some(ms)) => needed_secs(ms),
            _ => 0,
        }
    }

    /// Whether the spoken line runs past the scene: its clip is not asked for then.
    pub fn voice_too_long(&self) -> bool {
        self.spoken_secs() > self.duration_secs
    }

    /// The voice is wanted but not spoken yet (or failed): the clip waits for its length.
    pub fn voice_pending(&self) -> bool {
        !self.voiceover.trim().is_empty() && self.voice_status != GenStatus::Ready
    }

    /// Asks for the line to be spoken again (a new line or voice): jobs for the old one
    /// are dropped when they end.
    pub(super) fn revoice(&mut self, speaks: bool) {
        self.voice_generation += 1;
        self.voice_ms = None;
        self.voice_asset_id = None;
        self.voice_key = None;
        self.voice_status = if speaks && !self.voiceover.trim().is_empty() {
            GenStatus::Queued
        } else {
            GenStatus::None
        };
    }

    /// Clears what depends on the picture (whether it shows the product): the image and
    /// the clip made from it are to be made again; the text stays approved.
    pub(super) fn back_to_image(&mut self) {
        self.image_approved = false;
        self.clip_awaits_voice = false;
        self.video_approved = false;
        self.image_status = GenStatus::None;
        if self.video_status.busy() {
            self.video_status = GenStatus::None;
        }
        self.error = None;
        self.generation += 1;
    }

    /// Clears what depends on the text: approvals downstream, running work.
    pub(super) fn back_to_text(&mut self) {
        self.text_approved = false;
        self.image_approved = false;
        self.clip_awaits_voice = false;
        self.video_approved = false;
        if self.image_status.busy() {
            self.image_status = GenStatus::None;
        }
        if self.video_status.busy() {
            self.video_status = GenStatus::None;
        }
        self.error = None;
        self.generation += 1;
    }
}
