//! Accounts: sign up, log in, log out, and who is logged in.

pub mod api;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: Uuid,
    pub email: String,
}

/// Where to go after logging in: only paths on this site, so that a crafted
/// `?next=` cannot send a user elsewhere.
pub fn safe_next_path(next: Option<&str>) -> String {
    match next {
        // Browsers drop tabs and newlines from addresses ("/\t/evil.example" is
        // "//evil.example" to them) and read a backslash as a slash: none may pass.
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path
                    .chars()
                    .any(|c| c == '\\' || c.is_control() || c.is_whitespace()) =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next_path;

    #[test]
    fn next_path_stays_on_this_site() {
        assert_eq!(safe_next_path(Some("/projects/1")), "/projects/1");
        assert_eq!(safe_next_path(Some("//evil.example")), "/");
        assert_eq!(safe_next_path(Some("https://evil.example")), "/");
        assert_eq!(safe_next_path(Some("/\\evil.example")), "/");
        assert_eq!(safe_next_path(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next_path(Some("/\n/evil.example")), "/");
        assert_eq!(safe_next_path(Some("/ /evil.example")), "/");
        assert_eq!(safe_next_path(None), "/");
    }
}
