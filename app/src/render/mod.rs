//! Step 4, the final video: music made from the mood, then the approved clips, titles and
//! music rendered into one MP4 by a background job (`jobs.rs`; the FFmpeg command in `compose.rs`, run by `run.rs`) with live
//! progress (`events.rs`, `stream.rs`); every render is kept as a version.

pub mod api;
#[cfg(feature = "ssr")]
pub mod assemble;
#[cfg(feature = "ssr")]
pub mod branding;
#[cfg(feature = "ssr")]
pub mod caption_files;
pub mod captions;
#[cfg(feature = "ssr")]
pub mod compose;
#[cfg(feature = "ssr")]
pub mod events;
#[cfg(feature = "ssr")]
pub mod jobs;
#[cfg(feature = "ssr")]
pub mod mix;
#[cfg(feature = "ssr")]
pub mod music;
#[cfg(feature = "ssr")]
pub mod overlays;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod run;
#[cfg(feature = "ssr")]
pub mod smart;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod stream;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One render of a project (a version).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenderView {
    pub id: Uuid,
    pub version: i32,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    pub percent: f32,
    pub stage: String,
    pub video_url: Option<String>,
    /// The same video served as an attachment named after the project and version.
    pub download_url: Option<String>,
    pub bytes: Option<i64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_ms: Option<i32>,
    pub error: Option<String>,
    pub with_music: bool,
    /// The newest event's id, for the progress stream.
    pub last_event_id: i64,
    /// The live share link's token, if there is one, and its views.
    pub share_token: Option<String>,
    pub share_views: i64,
    /// The burned-in captions as WebVTT and SRT files, when the render has them.
    #[serde(default)]
    pub captions_vtt_url: Option<String>,
    #[serde(default)]
    pub captions_srt_url: Option<String>,
}

impl RenderView {
    pub fn finished(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "failed" | "cancelled")
    }
}

/// The final step's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinalState {
    pub project_name: String,
    pub ready: bool,
    /// Why rendering cannot start yet.
    pub blocked: Option<String>,
    pub clips: usize,
    pub seconds: f64,
    pub soundtrack_url: Option<String>,
    /// The music is being made (by a background job).
    pub music_busy: bool,
    /// Why the last attempt at the music failed.
    pub music_error: Option<String>,
    pub renders: Vec<RenderView>,
    pub offline: bool,
    /// Where users reach the app, for share links.
    pub public_url: String,
}

/// What the render stream sends, as JSON in each event's `data`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RenderEvent {
    Progress { percent: f32, stage: String },
    Complete { render: Box<RenderView> },
    Error { message: String },
}

impl RenderEvent {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Progress { .. } => "progress",
            Self::Complete { .. } => "complete",
            Self::Error { .. } => "error",
        }
    }
}

/// A file name for downloading a render: "lumen-launch-v2.mp4".
pub fn download_name(project: &str, version: i32) -> String {
    let mut slug = String::new();
    for c in project.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "reelsmith" } else { slug };
    format!("{}-v{version}.mp4", &slug[..slug.len().min(60)])
}

#[cfg(test)]
mod tests {
    #[test]
    fn download_names_are_safe_slugs() {
        assert_eq!(
            super::download_name("Lumen launch!", 2),
            "lumen-launch-v2.mp4"
        );
        assert_eq!(super::download_name("日本", 1), "reelsmith-v1.mp4");
        assert_eq!(super::download_name("a/../b", 3), "a-b-v3.mp4");
    }
}
