//! Checking an uploaded logo: PNG, JPEG and WebP go through the photos' rules (decided by
//! content, bounded before decoding, re-encoded so that metadata and appended data are
//! gone); SVG is parsed and rasterised to a PNG with transparency, with every external
//! reference refused (an `<image href="/path">` must not read this server's files).

use crate::{
    error::AppError,
    product::{photo, MAX_PHOTO_BYTES},
};
use image::{DynamicImage, RgbaImage};
use resvg::{tiny_skia, usvg};

/// The longest side of a rasterised SVG logo: sharp at 30% of a 1080-pixel frame, with
/// room to spare for the end card.
pub const SVG_SIDE: u32 = 1024;

/// A logo as it is kept.
#[derive(Debug)]
pub struct CleanLogo {
    pub bytes: Vec<u8>,
    pub extension: &'static str,
    pub width: u32,
    pub height: u32,
}

fn looks_like_svg(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    (text.starts_with("<?xml") || text.starts_with("<svg") || text.starts_with("<!--"))
        && text.contains("<svg")
}

/// Checks an uploaded logo and re-encodes it. Slow for large files: run it off the async
/// threads.
pub fn clean(bytes: &[u8]) -> Result<CleanLogo, AppError> {
    if bytes.len() as u64 > MAX_PHOTO_BYTES {
        return Err(photo::too_large_a("logo"));
    }
    if looks_like_svg(bytes) {
        return rasterise(bytes);
    }
    let kept = photo::clean_a(bytes, "logo").map_err(|error| match error {
        AppError::Unsupported(_) => AppError::Unsupported(
            "Upload the logo as PNG, JPEG, WebP or SVG: this file is none of them (what counts is its content, not its name).".into(),
        ),
        other => other,
    })?;
    Ok(CleanLogo {
        bytes: kept.bytes,
        extension: kept.extension,
        width: kept.width,
        height: kept.height,
    })
}

fn rasterise(bytes: &[u8]) -> Result<CleanLogo, AppError> {
    let options = usvg::Options {
        // No file, no URL: only what the SVG itself holds is drawn.
        image_href_resolver: usvg::ImageHrefResolver {
            resolve_string: Box::new(|_, _| None),
            ..usvg::ImageHrefResolver::default()
        },
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_data(bytes, &options).map_err(|error| {
        AppError::invalid(format!(
            "This SVG could not be read ({error}): the file is damaged or incomplete."
        ))
    })?;
    let size = tree.size();
    let longest = size.width().max(size.height());
    if !(longest.is_finite() && longest > 0.0) {
        return Err(AppError::invalid("This SVG has no size to draw."));
    }
    let scale = SVG_SIDE as f32 / longest;
    let width = ((size.width() * scale).round() as u32).clamp(1, SVG_SIDE);
    let height = ((size.height() * scale).round() as u32).clamp(1, SVG_SIDE);
    let mut pixmap = tiny_skia::Pixmap::new(width, height).ok_or(AppError::Internal)?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    if pixmap.pixels().iter().all(|pixel| pixel.alpha() == 0) {
        return Err(AppError::invalid(
            "This SVG draws nothing (text in a logo must be converted to outlines).",
        ));
    }
    let mut image = RgbaImage::new(width, height);
    for (to, from) in image.pixels_mut().zip(pixmap.pixels()) {
        let color = from.demultiply();
        to.0 = [color.red(), color.green(), color.blue(), color.alpha()];
    }
    let mut bytes = Vec::new();
    DynamicImage::ImageRgba8(image)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|_| AppError::Internal)?;
    Ok(CleanLogo {
        bytes,
        extension: "png",
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100" viewBox="0 0 200 100">
        <rect x="0" y="0" width="100" height="100" fill="#e63946"/>
        <circle cx="150" cy="50" r="40" fill="#1d3557"/></svg>"##;

    #[test]
    fn an_svg_logo_is_rasterised_with_its_colours_and_transparency() {
        let logo = clean(SVG.as_bytes()).unwrap();
        assert_eq!(logo.extension, "png");
        assert_eq!((logo.width, logo.height), (1024, 512));
        let image = image::load_from_memory(&logo.bytes).unwrap().to_rgba8();
        assert_eq!(image.get_pixel(100, 256).0, [0xe6, 0x39, 0x46, 255]);
        assert_eq!(image.get_pixel(768, 256).0, [0x1d, 0x35, 0x57, 255]);
        // Outside the circle: transparent.
        assert_eq!(image.get_pixel(1020, 5).0[3], 0);
    }

    #[test]
    fn an_svg_cannot_pull_in_files_of_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret.png");
        let red = RgbaImage::from_pixel(8, 8, image::Rgba([255, 0, 0, 255]));
        red.save(&secret).unwrap();
        let svg = format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64">
                <rect width="8" height="8" fill="#00ff00"/>
                <image href="{0}" xlink:href="{0}" x="0" y="0" width="64" height="64"/></svg>"##,
            secret.display()
        );
        let logo = clean(svg.as_bytes()).unwrap();
        let image = image::load_from_memory(&logo.bytes).unwrap().to_rgba8();
        assert_eq!(image.get_pixel(512, 512).0[3], 0, "the file was drawn");
    }

    #[test]
    fn broken_or_empty_svgs_and_other_files_are_refused_with_a_reason() {
        let broken = clean(b"<svg xmlns=\"http://www.w3.org/2000/svg\"><rect").unwrap_err();
        assert_eq!(broken.status(), 400);
        let empty =
            clean(br#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>"#)
                .unwrap_err();
        assert!(empty.to_string().contains("draws nothing"), "{empty}");
        let text = clean(b"just some words").unwrap_err();
        assert_eq!(text.status(), 415);
        assert!(text.to_string().contains("SVG"), "{text}");
    }
}
