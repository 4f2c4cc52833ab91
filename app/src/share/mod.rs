//! Share links: a finished render's public page (`/s/<token>`) with link-preview tags,
//! shown to anyone with the link until its owner revokes it.

pub mod api;
#[cfg(feature = "ssr")]
pub mod media;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use serde::{Deserialize, Serialize};

/// A render as its public link shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedVideo {
    pub title: String,
    /// Absolute addresses, for link previews.
    pub video_url: String,
    pub poster_url: Option<String>,
    pub page_url: String,
    pub width: i32,
    pub height: i32,
    pub duration_ms: i32,
    /// The burned-in captions as WebVTT, when the render has them: the player's track.
    #[serde(default)]
    pub captions_url: Option<String>,
}
