//! The final video: clips, titles and music rendered into one MP4.

#[cfg(feature = "ssr")]
pub mod compose;
