//! Spend limits: what an action will cost before it runs, what has been spent and
//! reserved, and the budgets that refuse work past them (an account's monthly budget and
//! a project's own cap).
//!
//! Every paid call reserves its estimate in the transaction that asks for it (see
//! `ssr::Tab`), so concurrent actions cannot pass a budget; the reservation settles to the
//! real cost when the work ends. The offline provider costs nothing.

pub mod api;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use serde::{Deserialize, Serialize};

/// Reads millionths of a dollar as dollars: cents from ten cents up, tenths of a cent
/// below (an image can cost $0.003), `$0` for nothing.
pub fn dollars(microusd: i64) -> String {
    let sign = if microusd < 0 { "-" } else { "" };
    let microusd = microusd.unsigned_abs();
    if microusd == 0 {
        return "$0".into();
    }
    if microusd < 100_000 {
        let tenths_of_cents = microusd.div_ceil(1_000);
        return format!("{sign}$0.{tenths_of_cents:03}");
    }
    let cents = (microusd + 5_000) / 10_000;
    format!("{sign}${}.{:02}", cents / 100, cents % 100)
}

/// "≈ $0.12" for a button, or "free" when nothing is paid (the offline preview).
pub fn estimate_label(microusd: i64) -> String {
    if microusd == 0 {
        "free".into()
    } else {
        format!("≈ {}", dollars(microusd))
    }
}

/// A spending button's text: "Approve image · ≈ $0.15" (just the label when it costs
/// nothing: the offline preview, or nothing to do).
pub fn priced(label: &str, microusd: i64, prices: &Prices) -> String {
    if prices.paid() && microusd > 0 {
        format!("{label} · {}", estimate_label(microusd))
    } else {
        label.to_string()
    }
}

/// Parses dollars as a user types them ("12", "12.5", "$12.50") into millionths.
pub fn parse_dollars(text: &str) -> Option<i64> {
    let text = text.trim().trim_start_matches('$').trim();
    let value: f64 = text.parse().ok()?;
    (value.is_finite() && (0.0..=1_000_000.0).contains(&value))
        .then(|| (value * 1_000_000.0).round() as i64)
}

/// What the configured models cost, for the estimates pages show on their buttons.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prices {
    pub image_microusd: i64,
    /// A seed image made from the product's photo.
    pub product_image_microusd: i64,
    pub clip_microusd_base: i64,
    pub clip_microusd_per_second: i64,
    pub music_microusd_per_second: i64,
    /// One reply or plan of the creative director.
    pub director_microusd: i64,
    /// A spoken voiceover line: a base (per-run models) and a price per million characters.
    #[serde(default)]
    pub speech_microusd_base: i64,
    #[serde(default)]
    pub speech_microusd_per_million_chars: i64,
}

impl Prices {
    pub fn clip(&self, seconds: u32) -> i64 {
        self.clip_microusd_base + self.clip_microusd_per_second * i64::from(seconds)
    }

    /// A scene's seed image: made from the product's photo, or from words alone.
    pub fn seed_image(&self, from_photo: bool) -> i64 {
        if from_photo {
            self.product_image_microusd
        } else {
            self.image_microusd
        }
    }

    /// A voiceover line of `chars` characters, as the server estimates it when the line is
    /// to be spoken.
    pub fn speech(&self, chars: usize) -> i64 {
        let per_chars = self.speech_microusd_per_million_chars as f64 * chars as f64 / 1_000_000.0;
        self.speech_microusd_base + per_chars.ceil() as i64
    }

    pub fn music(&self, seconds: u32) -> i64 {
        self.music_microusd_per_second * i64::from(seconds)
    }

    /// A round of mood boards: the director's directions and three images per board.
    pub fn moods(&self, boards: usize, shots: usize) -> i64 {
        self.director_microusd + self.image_microusd * (boards * shots) as i64
    }

    /// Whether anything costs money (with the offline preview, nothing does).
    pub fn paid(&self) -> bool {
        *self != Self::default()
    }
}

/// Where a project stands against its budgets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// Settled costs of the project.
    pub spent_microusd: i64,
    /// Estimates of its work still running.
    pub reserved_microusd: i64,
    /// What is left before a budget (the account's month or the project's cap, whichever
    /// is nearer) refuses work.
    pub left_microusd: i64,
}

/// A month's spend of an account, for its account page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MonthSpend {
    /// "December 2026".
    pub month: String,
    pub budget_microusd: i64,
    pub spent_microusd: i64,
    pub reserved_microusd: i64,
    pub projects: Vec<ProjectSpend>,
    pub providers: Vec<Line>,
    /// Day by day ("2026-12-02"), oldest first.
    pub days: Vec<Line>,
    /// Nothing costs money here (the offline preview).
    pub offline: bool,
}

impl MonthSpend {
    pub fn left_microusd(&self) -> i64 {
        (self.budget_microusd - self.spent_microusd - self.reserved_microusd).max(0)
    }
}

/// One line of a breakdown: a label and its amount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub label: String,
    pub microusd: i64,
}

/// A project's spend this month and its own cap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSpend {
    /// None for a project since deleted.
    pub id: Option<uuid::Uuid>,
    pub name: String,
    pub month_microusd: i64,
    /// Over the project's whole life, which is what its cap limits.
    pub total_microusd: i64,
    pub cap_microusd: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_dollars() {
        assert_eq!(dollars(0), "$0");
        assert_eq!(dollars(3_000), "$0.003");
        assert_eq!(dollars(2_500), "$0.003");
        assert_eq!(dollars(27_000), "$0.027");
        assert_eq!(dollars(99_999), "$0.100");
        assert_eq!(dollars(100_000), "$0.10");
        assert_eq!(dollars(1_234_567), "$1.23");
        assert_eq!(dollars(-1_500_000), "-$1.50");
        assert_eq!(estimate_label(0), "free");
        assert_eq!(estimate_label(120_000), "≈ $0.12");
    }

    #[test]
    fn typed_dollars_parse() {
        assert_eq!(parse_dollars("12"), Some(12_000_000));
        assert_eq!(parse_dollars(" $12.50 "), Some(12_500_000));
        assert_eq!(parse_dollars("0"), Some(0));
        for bad in ["", "-1", "abc", "NaN", "inf", "1e12"] {
            assert_eq!(parse_dollars(bad), None, "{bad}");
        }
    }

    #[test]
    fn estimates_add_up() {
        let prices = Prices {
            image_microusd: 3_000,
            product_image_microusd: 40_000,
            clip_microusd_base: 0,
            clip_microusd_per_second: 30_000,
            music_microusd_per_second: 2_800,
            director_microusd: 1_000,
            speech_microusd_base: 0,
            speech_microusd_per_million_chars: 60_000_000,
        };
        assert_eq!(prices.speech(100), 6_000);
        assert_eq!(prices.clip(5), 150_000);
        assert_eq!(prices.moods(3, 3), 28_000);
        assert!(prices.paid());
        assert!(!Prices::default().paid());
    }
}
