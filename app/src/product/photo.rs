//! Checking and cleaning an uploaded product photo: the format is read from its bytes
//! (never its name or Content-Type), the size and pixel count are bounded before
//! anything is decoded, and what is kept is a fresh encoding of the pixels alone, upright
//! by its EXIF orientation, so EXIF (GPS included) and anything appended to the file are
//! gone.

use super::{MAX_PHOTO_BYTES, MAX_PHOTO_PIXELS};
use crate::error::AppError;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// The longest side a kept photo has: plenty for a 1080×1920 frame and for image
/// models, which scale their inputs down anyway; larger photos are scaled to it.
pub const KEPT_SIDE: u32 = 2048;
/// JPEG quality of kept photos without transparency.
const JPEG_QUALITY: u8 = 90;

/// A photo as it is kept.
#[derive(Debug)]
pub struct CleanPhoto {
    pub bytes: Vec<u8>,
    /// `png` when the photo has transparent pixels, `jpg` otherwise.
    pub extension: &'static str,
    pub width: u32,
    pub height: u32,
    /// The decoded pixels, for the cut-out.
    pub pixels: DynamicImage,
}

pub fn too_large() -> AppError {
    too_large_a("photo")
}

/// The size limit's message for an upload of this kind ("photo", "logo", "font").
pub fn too_large_a(what: &str) -> AppError {
    AppError::TooLarge(format!(
        "A {what} can be at most {} MB; this one is larger.",
        MAX_PHOTO_BYTES / 1_000_000
    ))
}

fn unreadable() -> AppError {
    AppError::invalid("This image could not be read: the file is damaged or incomplete.")
}

/// Checks an uploaded file and re-encodes it. Slow for large photos: run it off the
/// async threads.
pub fn clean(bytes: &[u8]) -> Result<CleanPhoto, AppError> {
    clean_a(bytes, "photo")
}

/// [`clean`] for any uploaded picture (a brand kit's logo too): `what` names it in the
/// messages.
pub fn clean_a(bytes: &[u8], what: &str) -> Result<CleanPhoto, AppError> {
    if bytes.len() as u64 > MAX_PHOTO_BYTES {
        return Err(too_large_a(what));
    }
    let format = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()
        .and_then(|reader| reader.format());
    if !matches!(
        format,
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP)
    ) {
        return Err(AppError::Unsupported(format!(
            "Upload a PNG, JPEG or WebP {what}: this file is none of them (what counts is its content, not its name)."
        )));
    }
    let reader = || {
        let mut reader = ImageReader::new(Cursor::new(bytes));
        reader.set_format(format.unwrap_or(ImageFormat::Png));
        reader
    };
    let (width, height) = reader().into_dimensions().map_err(|_| unreadable())?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PHOTO_PIXELS {
        return Err(AppError::TooLarge(format!(
            "A {what} can have at most {} megapixels; this one has {:.1} ({width} × {height}).",
            MAX_PHOTO_PIXELS / 1_000_000,
            pixels as f64 / 1_000_000.0
        )));
    }
    let mut limits = Limits::default();
    // The pixel count is checked above; this bounds what a lying header could make a
    // decoder allocate (40 MP of 16-bit RGBA).
    limits.max_alloc = Some(MAX_PHOTO_PIXELS * 8 + (64 << 20));
    let mut reader = reader();
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|_| unreadable())?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|_| unreadable())?;
    image.apply_orientation(orientation);
    if image.width().max(image.height()) > KEPT_SIDE {
        image = image.resize(KEPT_SIDE, KEPT_SIDE, image::imageops::FilterType::Lanczos3);
    }
    encode(image)
}

fn has_transparency(image: &DynamicImage) -> bool {
    image.color().has_alpha() && image.to_rgba8().pixels().any(|pixel| pixel.0[3] < 255)
}

fn encode(image: DynamicImage) -> Result<CleanPhoto, AppError> {
    let mut bytes = Vec::new();
    let extension = if has_transparency(&image) {
        let image = DynamicImage::ImageRgba8(image.to_rgba8());
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .map_err(|_| AppError::Internal)?;
        "png"
    } else {
        let rgb = image.to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
            .encode_image(&rgb)
            .map_err(|_| AppError::Internal)?;
        "jpg"
    };
    Ok(CleanPhoto {
        bytes,
        extension,
        width: image.width(),
        height: image.height(),
        pixels: image,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    /// A JPEG with an EXIF block holding an orientation (rotate 90° clockwise) and a GPS
    /// position.
    fn jpeg_with_gps(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_pixel(width, height, Rgb([200, 40, 40]));
        let mut bytes = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new(&mut bytes);
        encoder.set_exif_metadata(exif_with_gps()).unwrap();
        encoder
            .write_image(
                image.as_raw(),
                width,
                height,
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        bytes
    }

    /// A big-endian TIFF directory: Orientation = 6 and a GPS directory with a latitude
    /// reference, the tag every GPS block starts with.
    pub(crate) fn exif_with_gps() -> Vec<u8> {
        let mut exif = b"MM\0\x2a\0\0\0\x08".to_vec();
        exif.extend_from_slice(&[0, 2]); // two entries
        exif.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]); // Orientation
        exif.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]); // GPS IFD at 38
        exif.extend_from_slice(&[0, 0, 0, 0]); // no next directory
        exif.extend_from_slice(&[0, 1]); // GPS: one entry
        exif.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]); // GPSLatitudeRef
        exif.extend_from_slice(&[0, 0, 0, 0]);
        exif
    }

    #[test]
    fn a_png_named_anything_is_kept_as_a_fresh_jpeg() {
        let photo = clean(&png(64, 48)).unwrap();
        assert_eq!(
            (photo.width, photo.height, photo.extension),
            (64, 48, "jpg")
        );
        assert_eq!(
            image::guess_format(&photo.bytes).unwrap(),
            ImageFormat::Jpeg
        );
    }

    #[test]
    fn exif_and_gps_are_gone_and_the_photo_is_upright() {
        let original = jpeg_with_gps(40, 20);
        assert!(original.windows(4).any(|w| w == b"Exif"));
        let photo = clean(&original).unwrap();
        assert!(!photo.bytes.windows(4).any(|w| w == b"Exif"));
        let mut kept = ImageReader::new(Cursor::new(&photo.bytes))
            .with_guessed_format()
            .unwrap()
            .into_decoder()
            .unwrap();
        assert_eq!(kept.exif_metadata().unwrap(), None);
        // Orientation 6 turns the 40×20 pixels into a 20×40 photo.
        assert_eq!((photo.width, photo.height), (20, 40));
    }

    #[test]
    fn what_is_appended_to_a_file_is_dropped() {
        let mut polyglot = png(32, 32);
        polyglot.extend_from_slice(b"<?php system($_GET['c']); ?>");
        let photo = clean(&polyglot).unwrap();
        assert!(!photo.bytes.windows(5).any(|w| w == b"<?php"));
    }

    #[test]
    fn text_is_refused_whatever_it_is_called() {
        let refused = clean(b"just some text, named photo.png").unwrap_err();
        assert_eq!(refused.status(), 415);
        assert!(refused.to_string().contains("PNG, JPEG or WebP"));
    }

    #[test]
    fn more_than_forty_megapixels_is_refused_before_decoding() {
        // 8000 × 5001 of one colour compresses to a small file.
        let image = RgbImage::from_pixel(8000, 5001, Rgb([1, 2, 3]));
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        let refused = clean(&bytes).unwrap_err();
        assert_eq!(refused.status(), 413);
        assert!(refused.to_string().contains("40 megapixels"), "{refused}");
    }

    #[test]
    fn large_photos_are_scaled_to_the_kept_side() {
        let photo = clean(&png(4096, 1024)).unwrap();
        assert_eq!((photo.width, photo.height), (KEPT_SIDE, KEPT_SIDE / 4));
    }

    #[test]
    fn transparency_is_kept_as_png() {
        let image = RgbaImage::from_fn(16, 16, |x, _| {
            Rgba([10, 20, 30, if x < 8 { 0 } else { 255 }])
        });
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        assert_eq!(clean(&bytes).unwrap().extension, "png");
    }

    #[test]
    fn a_truncated_file_is_refused_as_unreadable() {
        let whole = png(64, 64);
        let refused = clean(&whole[..whole.len() / 2]).unwrap_err();
        assert_eq!(refused.status(), 400);
    }
}
