//! Generation providers: one trait per capability (image, video, music, speech), chosen by
//! configuration. The offline provider makes real media with FFmpeg, so the whole
//! product runs on a fresh machine without accounts.

#[cfg(feature = "ssr")]
pub mod calls;
#[cfg(feature = "ssr")]
pub mod ffmpeg;
#[cfg(feature = "ssr")]
pub mod llm;
#[cfg(feature = "ssr")]
pub mod offline;
#[cfg(feature = "ssr")]
pub mod pricing;
#[cfg(feature = "ssr")]
pub mod replicate;
#[cfg(feature = "ssr")]
pub mod retry;
#[cfg(feature = "ssr")]
pub mod sample;
#[cfg(feature = "ssr")]
pub mod speech;
#[cfg(feature = "ssr")]
pub mod ssr;
