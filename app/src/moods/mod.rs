//! Step 2, the mood: three mood boards drawn from the brief (palette, keywords, art
//! direction and three sample images each), made by background jobs, one per image, so
//! that they survive a closed page or a restart; the user picks one.

/// Sample images per board: a hero shot, a lifestyle moment, a detail.
pub const SHOTS_PER_MOOD: usize = 3;

pub mod api;
#[cfg(feature = "ssr")]
pub mod jobs;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use crate::creative::Mood;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoodBoard {
    pub id: Uuid,
    pub position: i16,
    pub mood: Mood,
    /// Links to the board's sample images made so far, in their order.
    pub images: Vec<String>,
    /// Images still being made.
    pub pending: u32,
    /// Why an image could not be made.
    pub error: Option<String>,
    pub chosen: bool,
}
