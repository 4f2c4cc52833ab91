//! Step 1, the brief: a chat with the creative director, streamed word by word, and the
//! brief it draws from the chat (product, audience, tone, style, messages, call to
//! action), which the user can edit by hand.

pub mod api;
#[cfg(feature = "ssr")]
pub mod chat;
#[cfg(feature = "hydrate")]
mod client;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use crate::creative::Brief;
use serde::{Deserialize, Serialize};

/// One message of the brief chat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
}

/// Step 1's state: the chat so far and the brief drawn from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BriefState {
    pub messages: Vec<ChatLine>,
    pub brief: Brief,
    /// What the brief still lacks before moods can be made.
    pub missing: Vec<String>,
    pub edited_by_hand: bool,
    /// The director is the offline one (labelled as an offline preview).
    pub offline: bool,
}
