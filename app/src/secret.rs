//! A value that must never reach a log: an API key, a token, a signing key. Its `Debug`
//! says it is there but not what it is, so a setting, a provider's configuration or an
//! error printed whole leaks nothing; `expose` gives the value where it is used.

use std::{fmt, str::FromStr};

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `given` is this secret, in time that does not depend on where they
    /// differ (a token checked on every request must not be guessable byte by byte).
    pub fn matches(&self, given: &str) -> bool {
        let (ours, theirs) = (self.0.as_bytes(), given.as_bytes());
        ours.len() == theirs.len()
            && ours
                .iter()
                .zip(theirs)
                .fold(0u8, |differ, (a, b)| differ | (a ^ b))
                == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// For settings read by clap.
impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(value))
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_never_shows_the_value() {
        let key = Secret::from("sk-live-abc123");
        let printed = format!("{key:?} {:?}", Some(key.clone()));
        assert!(!printed.contains("abc123"), "{printed}");
        assert!(printed.contains("redacted"));
        assert_eq!(key.expose(), "sk-live-abc123");
    }

    #[test]
    fn matches_only_the_same_value() {
        let token = Secret::from("scrape-token");
        assert!(token.matches("scrape-token"));
        assert!(!token.matches("scrape-tokem"));
        assert!(!token.matches("scrape"));
        assert!(!token.matches(""));
    }
}
