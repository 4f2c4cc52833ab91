//! The image, image-to-video and music models: a request as the model's input, and the
//! cost of what it made.

use super::Replicate;
use crate::generation::ssr::{
    GeneratedMedia, GenerationError, ImageGenerator, ImageRequest, MusicGenerator, MusicRequest,
    Run, VideoGenerator, VideoRequest,
};
use anyhow::Context;
use base64::Engine;
use serde_json::json;

#[async_trait::async_trait]
impl ImageGenerator for Replicate {
    async fn generate_image(
        &self,
        request: &ImageRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError> {
        let input = json!({
            "prompt": request.prompt,
            "aspect_ratio": request.format.ratio(),
            "seed": request.seed % (u32::MAX as u64),
            "num_outputs": 1,
            "output_format": "png",
        });
        let mut media = self
            .run(&self.settings.image_model, input, "png", run)
            .await?;
        let (width, height) = request.format.dimensions();
        media.width = Some(width as i32);
        media.height = Some(height as i32);
        media.cost_microusd = self.settings.image_price.actual(1.0, media.predict_secs);
        Ok(media)
    }
}

#[async_trait::async_trait]
impl VideoGenerator for Replicate {
    async fn generate_video(
        &self,
        request: &VideoRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError> {
        let image = tokio::fs::read(&request.image)
            .await
            .with_context(|| format!("reading the seed image {}", request.image.display()))?;
        let seconds = request.duration_secs.round().max(1.0) as i64;
        let input = json!({
            "prompt": request.prompt,
            "image": format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(image)),
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
