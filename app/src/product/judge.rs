//! A vision model's judgement of whether a picture still shows the user's product: the
//! product photo and the pictures made from it go to an OpenAI-compatible chat model
//! with image inputs, which answers in a JSON schema with a score and what differs.
//!
//! It judges what the pixel measure cannot: a product relit, turned or seen from another
//! side is still the product to a person, and a look-alike in the right colour is not.

use crate::generation::{llm::OpenAiCompatible, ssr::GenerationError};
use base64::Engine;
use image::{imageops::FilterType, DynamicImage, ImageFormat};
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::Cursor;

/// What the judge found.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Verdict {
    /// 0–1: how faithfully the least faithful picture shows the product.
    pub score: f64,
    /// What differs from the photo, in a sentence (empty when nothing does).
    pub differences: String,
}

#[async_trait::async_trait]
pub trait ProductJudge: Send + Sync + 'static {
    /// How well `pictures` (a seed image, or frames of one clip) show `product`.
    async fn judge(
        &self,
        product: &DynamicImage,
        pictures: &[DynamicImage],
    ) -> Result<Verdict, GenerationError>;
}

/// Pictures are sent at most this size (their longer side): enough to tell a product
/// apart, and the size a model's low-detail mode reads anyway, which keeps each to a
/// fixed, small number of tokens.
const SENT_SIDE: u32 = 512;

/// A picture as a `data:` URL, scaled down to [`SENT_SIDE`]. The product keeps PNG (its
/// cut-out's transparency shows its outline); frames go as JPEG, a tenth of the size.
fn data_url(picture: &DynamicImage, png: bool) -> Result<String, GenerationError> {
    let scaled = if picture.width().max(picture.height()) > SENT_SIDE {
        picture.resize(SENT_SIDE, SENT_SIDE, FilterType::Triangle)
    } else {
        picture.clone()
    };
    let mut bytes = Vec::new();
    let (format, mime) = if png {
        (ImageFormat::Png, "image/png")
    } else {
        (ImageFormat::Jpeg, "image/jpeg")
    };
    let scaled = if png {
        scaled
    } else {
        DynamicImage::ImageRgb8(scaled.to_rgb8())
    };
    scaled
        .write_to(&mut Cursor::new(&mut bytes), format)
        .map_err(|error| GenerationError::Failed(error.into()))?;
    Ok(format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

fn image_part(url: String) -> Value {
    json!({ "type": "image_url", "image_url": { "url": url, "detail": "low" } })
}

const INSTRUCTIONS: &str = "You check product consistency for video ads. The first image \
is the product as photographed. The other images were generated to show that same product \
in an ad scene. Score 0 to 1 how faithfully the LEAST faithful of them shows the product: \
1 = the same product (shape, colours, proportions, markings and logo placement) even if lit, \
placed or angled differently; 0.5 = recognisably similar but with a clear difference; 0 = \
missing or another product. Name what differs in one short sentence, or leave it empty.";

/// The judge through any OpenAI-compatible chat model that takes image inputs
/// (`REELSMITH_PRODUCT_JUDGE_MODEL`, e.g. `gpt-4o-mini`).
pub struct VisionJudge {
    model: OpenAiCompatible,
}

impl VisionJudge {
    pub fn new(model: OpenAiCompatible) -> Self {
        Self { model }
    }
}

#[async_trait::async_trait]
impl ProductJudge for VisionJudge {
    async fn judge(
        &self,
        product: &DynamicImage,
        pictures: &[DynamicImage],
    ) -> Result<Verdict, GenerationError> {
        let mut parts = vec![json!({ "type": "text", "text": INSTRUCTIONS })];
        parts.push(image_part(data_url(product, true)?));
        for picture in pictures {
            parts.push(image_part(data_url(picture, false)?));
        }
        let schema = json!({
            "type": "object",
            "properties": {
                "score": { "type": "number", "minimum": 0, "maximum": 1 },
                "differences": { "type": "string" }
            },
            "required": ["score", "differences"],
            "additionalProperties": false
        });
        let messages = json!([{ "role": "user", "content": parts }]);
        let reply = self
            .model
            .complete_json_messages(messages, "product_check", &schema)
            .await?;
        let verdict: Verdict = serde_json::from_str(&reply).map_err(|error| {
            GenerationError::Failed(anyhow::anyhow!(
                "the vision model's answer is not a product check ({error}): {}",
                reply.chars().take(200).collect::<String>()
            ))
        })?;
        if !verdict.score.is_finite() {
            return Err(GenerationError::Failed(anyhow::anyhow!(
                "the vision model gave no usable score"
            )));
        }
        Ok(Verdict {
            score: verdict.score.clamp(0.0, 1.0),
            differences: verdict.differences.trim().to_string(),
        })
    }
}
