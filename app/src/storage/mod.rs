//! Where every asset a project makes is kept: a local directory (default) or an S3 bucket.
//! Keys are organised per user, project and kind; each object has a row in `assets`.

#[cfg(feature = "ssr")]
pub mod links;
#[cfg(feature = "ssr")]
pub mod local;
#[cfg(feature = "ssr")]
pub mod s3;
#[cfg(feature = "ssr")]
pub mod ssr;

use serde::{Deserialize, Serialize};

/// What an asset is, which also decides the folder it is kept in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AssetKind {
    Image,
    Video,
    Audio,
    Render,
    /// A product photo the user uploaded, or its cut-out.
    Photo,
    /// A brand kit's logo, rasterised (an account's, not a project's).
    Logo,
    /// A brand kit's uploaded font.
    Font,
}

impl AssetKind {
    pub const ALL: [AssetKind; 7] = [
        Self::Image,
        Self::Video,
        Self::Audio,
        Self::Render,
        Self::Photo,
        Self::Logo,
        Self::Font,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Render => "render",
            Self::Photo => "photo",
            Self::Logo => "logo",
            Self::Font => "font",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}
