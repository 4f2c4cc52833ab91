//! The user's own product: one to five photos uploaded in the brief step, one of them the
//! main photo that scene images are made from. Each is checked and re-encoded on upload
//! (`photo`), and cut out of a plain background where that can be done honestly
//! (`cutout`). After each seed image and clip, `check` scores how well the product was
//! kept: by a vision model (`judge`) where configured, else by a pixel measure
//! (`matching`).

pub mod api;
#[cfg(feature = "ssr")]
pub mod check;
#[cfg(feature = "ssr")]
pub mod cutout;
#[cfg(feature = "ssr")]
pub mod judge;
#[cfg(feature = "ssr")]
pub mod matching;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod photo;
#[cfg(feature = "ssr")]
pub mod reference;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod upload;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Photos a project can hold.
pub const MAX_PHOTOS: usize = 5;
/// The largest file accepted, in bytes (15 MB).
pub const MAX_PHOTO_BYTES: u64 = 15_000_000;
/// The most pixels a photo may have (40 megapixels).
pub const MAX_PHOTO_PIXELS: u64 = 40_000_000;
/// What the file picker offers; the server decides by content, not by this.
pub const ACCEPTED_TYPES: &str = "image/png,image/jpeg,image/webp";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPhoto {
    pub id: Uuid,
    /// The name of the uploaded file, for telling photos apart.
    pub file_name: String,
    /// A link to the photo as kept (re-encoded, at most 2048 px a side).
    pub url: String,
    /// A link to the product cut out of its background, when that could be done.
    pub cutout_url: Option<String>,
    pub width: i32,
    pub height: i32,
    pub bytes: i64,
    /// The photo scene images are made from.
    pub main: bool,
}
