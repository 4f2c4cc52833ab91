//! The image, image-to-video and music models: a request as the model's input, and the
//! cost of what it made.

use super::Replicate;
use crate::generation::ssr::{
    GeneratedMedia, GenerationError, ImageGenerator, ImageRequest, MusicGenerator, MusicRequest,
    ProductReference, Run, VideoGenerator, VideoRequest,
};
use anyhow::Context;
use base64::Engine;
use serde_json::{json, Value};
use std::path::Path;

#[async_trait::async_trait]
impl ImageGenerator for Replicate {
    async fn generate_image(
        &self,
        request: &ImageRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError> {
        let (model, price, input) = match &request.product {
            Some(product) => (
                &self.settings.product_image_model,
                self.settings.product_image_price,
                product_input(&self.settings.product_image_model, request, product).await?,
            ),
            None => (
                &self.settings.image_model,
                self.settings.image_price,
                json!({
                    "prompt": request.prompt,
                    "aspect_ratio": request.format.ratio(),
                    "seed": request.seed % (u32::MAX as u64),
                    "num_outputs": 1,
                    "output_format": "png",
                }),
            ),
        };
        let mut media = self.run(model, input, "png", run).await?;
        let (width, height) = request.format.dimensions();
        media.width = Some(width as i32);
        media.height = Some(height as i32);
        media.cost_microusd = price.actual(1.0, media.predict_secs);
        Ok(media)
    }
}

/// The input of a reference-guided model (FLUX Kontext): the product's photo, and a
/// prompt asking to keep the product exactly as photographed and change only the scene
/// around it. A `multi-image` model gets the main photo and the next one.
async fn product_input(
    model: &str,
    request: &ImageRequest,
    product: &ProductReference,
) -> Result<Value, GenerationError> {
    let mut photos = product.urls.clone();
    if photos.is_empty() {
        // No address of ours the provider can reach: the photo travels in the request.
        photos.push(data_url(&product.photo).await?);
    }
    let prompt = format!(
        "Keep the product from the photo exactly as it is: its shape, proportions, colours, \
         materials, label, logo and any text on it. Place it in this scene, changing only \
         the setting, light and camera: {}",
        request.prompt
    );
    let mut input = json!({
        "prompt": prompt,
        "aspect_ratio": request.format.ratio(),
        "seed": request.seed % (u32::MAX as u64),
        "output_format": "png",
        // The most Kontext allows with an input image.
        "safety_tolerance": 2,
    });
    if model.contains("multi-image") {
        input["input_image_1"] = json!(photos[0]);
        input["input_image_2"] = json!(photos.get(1).unwrap_or(&photos[0]));
    } else {
        input["input_image"] = json!(photos[0]);
    }
    Ok(input)
}

/// A file as a `data:` URL, which Replicate takes wherever it takes a file's URL.
async fn data_url(path: &Path) -> Result<String, GenerationError> {
    let bytes = tokio::fs::read(path)
        .await
        .with_context(|| format!("reading {}", path.display()))?;
    let mime = match path.extension().and_then(|e| e.to_str()) {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        _ => "image/png",
    };
    Ok(format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

#[async_trait::async_trait]
impl VideoGenerator for Replicate {
    async fn generate_video(
        &self,
        request: &VideoRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError> {
        let seconds = request.duration_secs.round().max(1.0) as i64;
        let input = json!({
            "prompt": request.prompt,
            "image": data_url(&request.image).await?,
            "duration": seconds,
            "aspect_ratio": request.format.ratio(),
            "seed": request.seed % (u32::MAX as u64),
        });
        let mut media = self
            .run(&self.settings.video_model, input, "mp4", run)
            .await?;
        media.duration_ms = Some((seconds * 1000) as i32);
        media.cost_microusd = self
            .settings
            .video_price
            .actual(seconds as f64, media.predict_secs);
        Ok(media)
    }
}

#[async_trait::async_trait]
impl MusicGenerator for Replicate {
    async fn generate_music(
        &self,
        request: &MusicRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError> {
        let seconds = request.duration_secs.ceil().max(1.0) as i64;
        let input = json!({
            "prompt": format!("{} at {} bpm", request.prompt, request.tempo_bpm),
            "duration": seconds,
            "output_format": "mp3",
            "seed": request.seed % (u32::MAX as u64),
        });
        let mut media = self
            .run(&self.settings.music_model, input, "mp3", run)
            .await?;
        media.duration_ms = Some((seconds * 1000) as i32);
        media.cost_microusd = self
            .settings
            .music_price
            .actual(seconds as f64, media.predict_secs);
        Ok(media)
    }
}
