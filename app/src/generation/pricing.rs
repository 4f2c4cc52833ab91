//! What the providers' models cost: a price table with defaults that an operator can
//! override (`REELSMITH_PRICES`), the estimate reserved before a call, and the actual
//! cost once it ended.
//!
//! Replicate bills most official models per output (an image, a second of video) and
//! the others by the prediction's compute time (`metrics.predict_time`); chat models bill
//! per token. A configured model without a price is a start-up error: spending on a
//! model whose cost nobody knows is exactly what budgets are there to prevent.

use anyhow::{bail, Context};
use std::collections::HashMap;

/// How a model is billed, in millionths of a US dollar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Price {
    /// Per prediction (one image).
    PerRun(i64),
    /// Per second of output (video, music).
    PerOutputSecond(i64),
    /// Per second of the provider's compute time, estimated beforehand as
    /// `seconds_per_unit` per image or per second of output.
    PerComputeSecond {
        microusd: i64,
        seconds_per_unit: f64,
    },
    /// Per million input and output tokens.
    PerMillionTokens { input: i64, output: i64 },
    /// Per million characters of input (speech: OpenAI bills its TTS models so).
    PerMillionChars(i64),
}

impl Price {
    /// The estimate for `units` (1 for an image or a chat call, seconds of output for
    /// clips and music; for tokens see [`Price::tokens`]).
    pub fn estimate(self, units: f64) -> i64 {
        let units = units.max(0.0);
        let microusd = match self {
            Self::PerRun(price) => price as f64,
            Self::PerOutputSecond(price) => price as f64 * units,
            Self::PerComputeSecond {
                microusd,
                seconds_per_unit,
            } => microusd as f64 * seconds_per_unit * units,
            Self::PerMillionTokens { .. } => 0.0,
            Self::PerMillionChars(price) => price as f64 * units / 1_000_000.0,
        };
        microusd.ceil() as i64
    }

    /// The actual cost of a prediction: its compute time where the model bills by it,
    /// otherwise what the estimate was.
    pub fn actual(self, units: f64, predict_secs: Option<f64>) -> i64 {
        match (self, predict_secs) {
            (Self::PerComputeSecond { microusd, .. }, Some(secs)) => {
                (microusd as f64 * secs.max(0.0)).ceil() as i64
            }
            _ => self.estimate(units),
        }
    }

    /// The cost of a chat call of `input` and `output` tokens.
    pub fn tokens(self, input: u64, output: u64) -> i64 {
        match self {
            Self::PerMillionTokens {
                input: per_input,
                output: per_output,
            } => {
                let microusd = (input as f64 * per_input as f64
                    + output as f64 * per_output as f64)
                    / 1_000_000.0;
                microusd.ceil() as i64
            }
            other => other.estimate(1.0),
        }
    }

    /// Parses `run:0.003`, `second:0.03`, `compute:0.0014:2` or `tokens:0.15:0.60` (US
    /// dollars; per million tokens for `tokens`).
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let parts: Vec<&str> = spec.split(':').map(str::trim).collect();
        let dollars = |text: &str| -> anyhow::Result<i64> {
            let value: f64 = text
                .parse()
                .with_context(|| format!("`{text}` is not an amount of US dollars"))?;
            if !value.is_finite() || value < 0.0 {
                bail!("`{text}` is not an amount of US dollars");
            }
            Ok((value * 1_000_000.0).round() as i64)
        };
        Ok(match parts.as_slice() {
            ["run", price] => Self::PerRun(dollars(price)?),
            ["second", price] => Self::PerOutputSecond(dollars(price)?),
            ["compute", price, seconds] => Self::PerComputeSecond {
                microusd: dollars(price)?,
                seconds_per_unit: seconds
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .with_context(|| format!("`{seconds}` is not a number of seconds"))?,
            },
            ["tokens", input, output] => Self::PerMillionTokens {
                input: dollars(input)?,
                output: dollars(output)?,
            },
            ["chars", price] => Self::PerMillionChars(dollars(price)?),
            _ => bail!(
                "`{spec}` is not a price: write run:USD, second:USD, compute:USD_PER_SECOND:SECONDS_PER_UNIT, tokens:USD_IN:USD_OUT (per million tokens) or chars:USD (per million characters)"
            ),
        })
    }
}

/// Prices by model name.
#[derive(Clone, Debug)]
pub struct PriceTable {
    prices: HashMap<String, Price>,
}

impl Default for PriceTable {
    /// Replicate's and OpenAI's published prices for the models Reelsmith suggests (check
    /// them against your account; override with `REELSMITH_PRICES`).
    fn default() -> Self {
        let prices = [
            ("black-forest-labs/flux-schnell", Price::PerRun(3_000)),
            ("black-forest-labs/flux-dev", Price::PerRun(25_000)),
            ("black-forest-labs/flux-1.1-pro", Price::PerRun(40_000)),
            ("black-forest-labs/flux-kontext-pro", Price::PerRun(40_000)),
            (
                "flux-kontext-apps/multi-image-kontext-pro",
                Price::PerRun(40_000),
            ),
            (
                "bytedance/seedance-1-pro-fast",
                Price::PerOutputSecond(30_000),
            ),
            ("bytedance/seedance-1-lite", Price::PerOutputSecond(36_000)),
            ("kwaivgi/kling-v2.1", Price::PerOutputSecond(50_000)),
            ("minimax/video-01", Price::PerRun(500_000)),
            (
                "meta/musicgen",
                // An A100 second; about two of them per second of music.
                Price::PerComputeSecond {
                    microusd: 1_400,
                    seconds_per_unit: 2.0,
                },
            ),
            (
                "gpt-4o-mini",
                Price::PerMillionTokens {
                    input: 150_000,
                    output: 600_000,
                },
            ),
            (
                "gpt-4o",
                Price::PerMillionTokens {
                    input: 2_500_000,
                    output: 10_000_000,
                },
            ),
            // Speech, per million characters spoken (gpt-4o-mini-tts bills by tokens,
            // about $0.015 a minute: close to tts-1's price per character).
            ("tts-1", Price::PerMillionChars(15_000_000)),
            ("tts-1-hd", Price::PerMillionChars(30_000_000)),
            ("gpt-4o-mini-tts", Price::PerMillionChars(15_000_000)),
            // Replicate's speech models: MiniMax bills $0.06 (turbo) or $0.10 (hd) per
            // thousand characters; Kokoro bills its compute time, about a hundredth of a
            // second per character on its GPU.
            (
                "minimax/speech-02-turbo",
                Price::PerMillionChars(60_000_000),
            ),
            ("minimax/speech-02-hd", Price::PerMillionChars(100_000_000)),
            (
                "jaaari/kokoro-82m",
                Price::PerComputeSecond {
                    microusd: 225,
                    seconds_per_unit: 0.01,
                },
            ),
            (
                "gpt-4.1-mini",
                Price::PerMillionTokens {
                    input: 400_000,
                    output: 1_600_000,
                },
            ),
        ];
        Self {
            prices: prices
                .into_iter()
                .map(|(model, price)| (model.to_string(), price))
                .collect(),
        }
    }
}

impl PriceTable {
    /// The defaults with `overrides` applied: `model=price` pairs separated by `;` or
    /// new lines, prices as [`Price::parse`] reads them.
    pub fn with_overrides(overrides: Option<&str>) -> anyhow::Result<Self> {
        let mut table = Self::default();
        for entry in overrides
            .unwrap_or_default()
            .split([';', '\n'])
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
        {
            let (model, price) = entry
                .split_once('=')
                .with_context(|| format!("`{entry}` in REELSMITH_PRICES is not model=price"))?;
            let price = Price::parse(price)
                .with_context(|| format!("the price of {} in REELSMITH_PRICES", model.trim()))?;
            table.prices.insert(model.trim().to_string(), price);
        }
        Ok(table)
    }

    /// The price of `model`, or an error naming the setting that gives it one.
    pub fn price(&self, model: &str) -> anyhow::Result<Price> {
        self.prices.get(model).copied().with_context(|| {
            format!(
                "no price is known for the model {model}: add it to REELSMITH_PRICES \
                 (for example `{model}=run:0.01`), so that budgets can hold"
            )
        })
    }
}

/// A model in use and what it costs.
#[derive(Clone, Debug, PartialEq)]
pub struct Priced {
    pub provider: &'static str,
    pub model: String,
    pub price: Price,
}

impl Priced {
    /// What the offline provider costs: nothing.
    pub fn free(what: &str) -> Self {
        Self {
            provider: "offline",
            model: format!("offline {what}"),
            price: Price::PerRun(0),
        }
    }

    pub fn of(table: &PriceTable, provider: &'static str, model: &str) -> anyhow::Result<Self> {
        Ok(Self {
            provider,
            model: model.to_string(),
            price: table.price(model)?,
        })
    }
}

/// An estimate for one paid call, to reserve against the budgets.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// What is bought, in the product's words: image, clip, music, director.
    pub item: &'static str,
    pub provider: &'static str,
    pub model: String,
    pub microusd: i64,
}

/// The prices of the models the configured providers use.
#[derive(Clone, Debug)]
pub struct Pricing {
    pub image: Priced,
    /// Seed images made from the product's photo (a reference-guided model).
    pub product_image: Priced,
    pub video: Priced,
    pub music: Priced,
    pub director: Priced,
    /// The vision model that checks the product was kept, where one is configured.
    pub product_check: Priced,
    /// The voiceover's speech model.
    pub speech: Priced,
}

/// Tokens a director call is assumed to write, for its estimate (replies and plans are
/// a few hundred; the schema-bound ones a little more).
pub const DIRECTOR_OUTPUT_TOKENS: u64 = 1_500;

/// Input tokens a low-detail picture is assumed to cost a vision model: gpt-4o-mini
/// counts 2,833 for one (gpt-4o 85), so the estimate holds for the dearer count.
pub const CHECK_TOKENS_PER_PICTURE: u64 = 2_900;
/// Tokens of the check's instructions and of its short JSON answer.
const CHECK_PROMPT_TOKENS: u64 = 250;
const CHECK_OUTPUT_TOKENS: u64 = 120;

impl Pricing {
    /// Everything offline: free.
    pub fn offline() -> Self {
        Self {
            image: Priced::free("image"),
            product_image: Priced::free("image"),
            video: Priced::free("clip"),
            music: Priced::free("music"),
            director: Priced::free("director"),
            product_check: Priced::free("product check"),
            speech: Priced::free("voiceover"),
        }
    }

    fn estimate(priced: &Priced, item: &'static str, microusd: i64) -> Estimate {
        Estimate {
            item,
            provider: priced.provider,
            model: priced.model.clone(),
            microusd,
        }
    }

    pub fn image(&self) -> Estimate {
        Self::estimate(&self.image, "image", self.image.price.estimate(1.0))
    }

    /// A seed image made from the product's photo.
    pub fn product_image(&self) -> Estimate {
        Self::estimate(
            &self.product_image,
            "image",
            self.product_image.price.estimate(1.0),
        )
    }

    pub fn clip(&self, seconds: f64) -> Estimate {
        Self::estimate(&self.video, "clip", self.video.price.estimate(seconds))
    }

    /// A voiceover line of `chars` characters.
    pub fn speech(&self, chars: usize) -> Estimate {
        Self::estimate(
            &self.speech,
            "voiceover",
            self.speech.price.estimate(chars as f64),
        )
    }

    /// What a spoken line of `chars` characters cost: the compute time the provider
    /// reported where the model bills by it, otherwise its estimate.
    pub fn speech_used(&self, chars: usize, predict_secs: Option<f64>) -> i64 {
        self.speech.price.actual(chars as f64, predict_secs)
    }

    pub fn music(&self, seconds: f64) -> Estimate {
        Self::estimate(&self.music, "music", self.music.price.estimate(seconds))
    }

    /// A director call whose prompt is `prompt_chars` long (about four characters a
    /// token), writing up to [`DIRECTOR_OUTPUT_TOKENS`].
    pub fn director(&self, prompt_chars: usize) -> Estimate {
        let input = (prompt_chars as u64).div_ceil(4) + 500;
        Self::estimate(
            &self.director,
            "director",
            self.director.price.tokens(input, DIRECTOR_OUTPUT_TOKENS),
        )
    }

    /// What director calls cost: the tokens they reported using when they did; otherwise
    /// `estimate` when the model answered (it billed something), nothing when it did not.
    pub fn director_used(
        &self,
        usage: Option<super::llm::Usage>,
        answered: bool,
        estimate: i64,
    ) -> i64 {
        match usage {
            Some(usage) => self
                .director
                .price
                .tokens(usage.input_tokens, usage.output_tokens),
            None if answered => estimate,
            None => 0,
        }
    }

    /// What a vision check of `pictures` made pictures (and the product photo) is
    /// estimated to cost.
    pub fn product_check(&self, pictures: usize) -> i64 {
        let input = CHECK_PROMPT_TOKENS + CHECK_TOKENS_PER_PICTURE * (pictures as u64 + 1);
        self.product_check.price.tokens(input, CHECK_OUTPUT_TOKENS)
    }

    /// What a vision check cost: the tokens it reported using when it did; otherwise its
    /// estimate when the model answered, nothing when it did not.
    pub fn product_check_used(
        &self,
        usage: Option<super::llm::Usage>,
        answered: bool,
        pictures: usize,
    ) -> i64 {
        match usage {
            Some(usage) => self
                .product_check
                .price
                .tokens(usage.input_tokens, usage.output_tokens),
            None if answered => self.product_check(pictures),
            None => 0,
        }
    }

    /// The prices a page needs to show estimates.
    pub fn for_pages(&self) -> crate::budget::Prices {
        crate::budget::Prices {
            image_microusd: self.image().microusd,
            product_image_microusd: self.product_image().microusd,
            // A clip is a base (per-run models) plus a price per second.
            clip_microusd_per_second: self.video.price.estimate(1.0)
                - self.video.price.estimate(0.0),
            clip_microusd_base: self.video.price.estimate(0.0),
            music_microusd_per_second: self.music.price.estimate(1.0),
            director_microusd: self.director(4_000).microusd,
            speech_microusd_base: self.speech.price.estimate(0.0),
            speech_microusd_per_million_chars: self.speech.price.estimate(1_000_000.0)
                - self.speech.price.estimate(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_from_dollars() {
        assert_eq!(Price::parse("run:0.003").unwrap(), Price::PerRun(3_000));
        assert_eq!(
            Price::parse("second: 0.05").unwrap(),
            Price::PerOutputSecond(50_000)
        );
        assert_eq!(
            Price::parse("compute:0.0014:2").unwrap(),
            Price::PerComputeSecond {
                microusd: 1_400,
                seconds_per_unit: 2.0
            }
        );
        assert_eq!(
            Price::parse("tokens:0.15:0.6").unwrap(),
            Price::PerMillionTokens {
                input: 150_000,
                output: 600_000
            }
        );
        for bad in [
            "",
            "run",
            "run:-1",
            "run:abc",
            "second:NaN",
            "hourly:1",
            "compute:1:x",
        ] {
            assert!(Price::parse(bad).is_err(), "{bad}");
        }
    }

    /// The pages' estimate of a spoken line is the one the server reserves.
    #[test]
    fn pages_estimate_a_voiceover_line_as_the_server_does() {
        for price in [
            Price::PerMillionChars(60_000_000),
            Price::PerMillionChars(15_000_000),
            Price::PerRun(2_500),
        ] {
            let mut pricing = Pricing::offline();
            pricing.speech.price = price;
            let pages = pricing.for_pages();
            assert!(pages.paid(), "{price:?}");
            for chars in [0, 1, 37, 180, 500] {
                assert_eq!(
                    pages.speech(chars),
                    pricing.speech(chars).microusd,
                    "{price:?}, {chars} characters"
                );
            }
        }
    }

    #[test]
    fn overrides_replace_defaults_and_unknown_models_are_refused() {
        let table = PriceTable::with_overrides(Some(
            "black-forest-labs/flux-schnell=run:0.01; acme/new-model = second:0.2",
        ))
        .unwrap();
        assert_eq!(
            table.price("black-forest-labs/flux-schnell").unwrap(),
            Price::PerRun(10_000)
        );
        assert_eq!(
            table.price("acme/new-model").unwrap(),
            Price::PerOutputSecond(200_000)
        );
        let error = table.price("acme/unpriced").unwrap_err().to_string();
        assert!(error.contains("REELSMITH_PRICES"), "{error}");
        assert!(PriceTable::with_overrides(Some("no-equals-sign")).is_err());
    }

    #[test]
    fn compute_billed_models_settle_to_their_compute_time() {
        let musicgen = Price::PerComputeSecond {
            microusd: 1_400,
            seconds_per_unit: 2.0,
        };
        assert_eq!(musicgen.estimate(30.0), 84_000);
        assert_eq!(musicgen.actual(30.0, Some(41.5)), 58_100);
        assert_eq!(musicgen.actual(30.0, None), 84_000);
        assert_eq!(Price::PerRun(3_000).actual(1.0, Some(9.0)), 3_000);
    }

    #[test]
    fn tokens_cost_per_million() {
        let mini = Price::PerMillionTokens {
            input: 150_000,
            output: 600_000,
        };
        assert_eq!(mini.tokens(1_000_000, 0), 150_000);
        assert_eq!(mini.tokens(2_000, 1_000), 900);
    }

    #[test]
    fn a_vision_check_is_estimated_per_picture_and_settled_to_its_tokens() {
        let mut pricing = Pricing::offline();
        assert_eq!(pricing.product_check(3), 0);
        pricing.product_check.price = Price::PerMillionTokens {
            input: 150_000,
            output: 600_000,
        };
        // A clip's three frames and the photo: 250 + 4 × 2,900 input tokens.
        assert_eq!(pricing.product_check(3), 1_850);
        assert!(pricing.product_check(1) < pricing.product_check(3));
        let usage = super::super::llm::Usage {
            input_tokens: 6_000,
            output_tokens: 50,
        };
        assert_eq!(pricing.product_check_used(Some(usage), true, 1), 930);
        assert_eq!(
            pricing.product_check_used(None, true, 1),
            pricing.product_check(1)
        );
        assert_eq!(pricing.product_check_used(None, false, 1), 0);
    }
}
