//! Projects: one ad each, owned by one user, moving through the wizard's steps (each
//! step is its own part: `brief`, `moods`, `storyboard`, `render`; `studio` is the
//! page that holds them). Here: the dashboard, the project rows the steps build on, the
//! project's live news stream (`stream.rs`) and the file sweep after a deletion.

pub mod api;
#[cfg(feature = "ssr")]
pub mod events;
#[cfg(feature = "ssr")]
pub mod jobs;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod stream;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub const MAX_NAME_CHARS: usize = 120;

/// What the project's live stream sends (`GET /api/projects/{id}/stream`): a part of the
/// project changed, and pages showing it read it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProjectEvent {
    /// A mood board appeared, got an image, or failed.
    MoodsChanged,
    /// The music is ready, or failed.
    MusicChanged,
}

impl ProjectEvent {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MoodsChanged => "moods_changed",
            Self::MusicChanged => "music_changed",
        }
    }
}

/// The frame a project renders to, chosen when it is created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum VideoFormat {
    #[default]
    #[serde(rename = "9:16")]
    Vertical,
    #[serde(rename = "16:9")]
    Landscape,
    #[serde(rename = "1:1")]
    Square,
}

impl VideoFormat {
    pub const ALL: [VideoFormat; 3] = [Self::Vertical, Self::Landscape, Self::Square];

    pub fn ratio(self) -> &'static str {
        match self {
            Self::Vertical => "9:16",
            Self::Landscape => "16:9",
            Self::Square => "1:1",
        }
    }

    pub fn parse(ratio: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|format| format.ratio() == ratio)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Vertical => "9:16 vertical",
            Self::Landscape => "16:9 landscape",
            Self::Square => "1:1 square",
        }
    }

    /// Output size in pixels (width, height).
    pub fn dimensions(self) -> (u32, u32) {
        match self {
            Self::Vertical => (1080, 1920),
            Self::Landscape => (1920, 1080),
            Self::Square => (1080, 1080),
        }
    }

    /// The frame's safe zone as shares of its height and width cut off each side (top,
    /// right, bottom, left): where the platforms draw their own controls and captions,
    /// so a logo or text there would be covered. On 9:16 the bottom fifth (caption,
    /// buttons) and a column on the right (like, share) are theirs.
    pub fn safe_insets(self) -> [f64; 4] {
        match self {
            Self::Vertical => [0.08, 0.12, 0.2, 0.06],
            Self::Landscape => [0.06, 0.05, 0.08, 0.05],
            Self::Square => [0.06, 0.06, 0.1, 0.06],
        }
    }
}

/// The wizard's steps, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Step {
    VisionBrief = 1,
    Mood = 2,
    Storyboard = 3,
    FinalVideo = 4,
}

impl Step {
    pub const ALL: [Step; 4] = [
        Self::VisionBrief,
        Self::Mood,
        Self::Storyboard,
        Self::FinalVideo,
    ];

    pub fn number(self) -> i16 {
        self as i16
    }

    pub fn from_number(number: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.number() == number)
    }

    /// The step's part of the project's address: `/projects/<id>/<slug>`.
    pub fn slug(self) -> &'static str {
        match self {
            Self::VisionBrief => "brief",
            Self::Mood => "mood",
            Self::Storyboard => "storyboard",
            Self::FinalVideo => "video",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.slug() == slug)
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::VisionBrief => "Vision & brief",
            Self::Mood => "Mood",
            Self::Storyboard => "Storyboard",
            Self::FinalVideo => "Final video",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub format: VideoFormat,
    /// The furthest step reached; the project resumes there.
    pub step: Step,
    pub updated_at: OffsetDateTime,
}

/// "23 Nov 2026, 22:15 UTC": the same text on the server and in the browser,
/// so hydration finds what the server rendered.
pub fn format_timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let format = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    at.format(&format).unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip_through_their_ratio() {
        for format in VideoFormat::ALL {
            assert_eq!(VideoFormat::parse(format.ratio()), Some(format));
        }
        assert_eq!(VideoFormat::parse("4:3"), None);
    }

    #[test]
    fn timestamps_read_as_day_month_year_and_time() {
        let at = time::macros::datetime!(2026-11-03 09:05 UTC);
        assert_eq!(format_timestamp(at), "3 Nov 2026, 09:05 UTC");
    }
}
