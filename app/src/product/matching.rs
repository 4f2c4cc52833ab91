//! How well a picture preserves the product: the product photo (its cut-out where there
//! is one) is searched for in the picture at several sizes and every position, and the
//! score is the share of the product's pixels that the best place matches in colour.
//!
//! It is a real measure, not a model: it finds the product as photographed, so it drops
//! when the product is missing, recoloured, reshaped or much smaller than a product shot
//! shows it. Its limits: a model that relights or turns the product scores lower than a
//! person would judge (a vision model, where configured, judges those), and a picture
//! with a large area in the product's own colour can score a flat, one-colour product
//! too high. Without a cut-out the photo's background is part of what is searched for.

use image::{imageops::FilterType, DynamicImage, RgbImage};

/// The picture is searched at this size (its longer side), which keeps the search to a
/// few milliseconds in a release build while a product of a tenth of the frame still
/// spans several pixels.
const SEARCH_SIDE: u32 = 128;
/// How far (Euclidean, in 0–255 RGB) a pixel may be from the product's and still match:
/// room for compression, scaling and a little change of light.
const TOLERANCE: u32 = 48;
/// Sizes tried, as the product's height over the picture's: from a detail to a close-up.
const SMALLEST: f64 = 0.2;
const LARGEST: f64 = 0.9;
const SIZES: usize = 24;
/// Scores this close count as equal when choosing the product's size.
const SAME_SCORE: f64 = 0.05;
/// At most this many of the product's pixels are compared at each place.
const MAX_SAMPLES: usize = 1_200;

/// Where the product was found and how well it matched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProductMatch {
    /// 0–1: the share of the product's pixels matched at the best place.
    pub score: f64,
    /// That place, as shares of the picture: left, top, width, height.
    pub place: [f64; 4],
}

/// The product's pixels at one size: offsets from its top-left corner and colours.
struct Template {
    width: u32,
    height: u32,
    pixels: Vec<(u32, u32, [u8; 3])>,
}

fn template(product: &DynamicImage, width: u32, height: u32) -> Template {
    let scaled = product
        .resize_exact(width, height, FilterType::Triangle)
        .to_rgba8();
    let mut pixels: Vec<(u32, u32, [u8; 3])> = scaled
        .enumerate_pixels()
        .filter(|(_, _, p)| p.0[3] >= 128)
        .map(|(x, y, p)| (x, y, [p.0[0], p.0[1], p.0[2]]))
        .collect();
    if pixels.len() > MAX_SAMPLES {
        let step = pixels.len().div_ceil(MAX_SAMPLES);
        pixels = pixels.into_iter().step_by(step).collect();
    }
    Template {
        width,
        height,
        pixels,
    }
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    let distance: u32 = (0..3)
        .map(|i| {
            let d = i32::from(a[i]) - i32::from(b[i]);
            (d * d) as u32
        })
        .sum();
    distance <= TOLERANCE * TOLERANCE
}

/// The most of `template`'s pixels matched at any place in `frame`, and where; places
/// that can no longer beat `best` are given up early.
fn best_place(frame: &RgbImage, template: &Template, mut best: usize) -> Option<(usize, u32, u32)> {
    let total = template.pixels.len();
    let mut found = None;
    for y in 0..=frame.height() - template.height {
        for x in 0..=frame.width() - template.width {
            let mut matched = 0;
            for (index, &(dx, dy, colour)) in template.pixels.iter().enumerate() {
                if close(frame.get_pixel(x + dx, y + dy).0, colour) {
                    matched += 1;
                }
                if matched + (total - index - 1) <= best {
                    break;
                }
            }
            if matched > best {
                best = matched;
                found = Some((matched, x, y));
            }
        }
    }
    found
}

/// How well `picture` shows `product` (see the module's note).
pub fn product_match(product: &DynamicImage, picture: &DynamicImage) -> ProductMatch {
    let none = ProductMatch {
        score: 0.0,
        place: [0.0; 4],
    };
    if product.width() == 0 || product.height() == 0 || picture.width() == 0 {
        return none;
    }
    let frame = picture
        .resize(SEARCH_SIDE, SEARCH_SIDE, FilterType::Triangle)
        .to_rgb8();
    let (fw, fh) = (frame.width(), frame.height());
    let aspect = f64::from(product.width()) / f64::from(product.height());
    let mut best = none;
    for step in 0..SIZES {
        let share = SMALLEST + (LARGEST - SMALLEST) * step as f64 / (SIZES - 1) as f64;
        let mut height = (f64::from(fh) * share).round().max(4.0);
        let mut width = (height * aspect).round().max(2.0);
        if width > f64::from(fw) {
            height = (height * f64::from(fw) / width).floor();
            width = f64::from(fw);
        }
        let template = template(product, width as u32, height as u32);
        if template.pixels.is_empty() || template.height > fh {
            continue;
        }
        // Compare shares, not counts: templates of each size sample differently. A part
        // of the product can match as well as all of it (a lamp's shade and the top of
        // its stem): of sizes that match about equally, the larger (later) one wins.
        let floor = (best.score - SAME_SCORE).max(0.0);
        let needed = (floor * template.pixels.len() as f64) as usize;
        if let Some((matched, x, y)) = best_place(&frame, &template, needed) {
            let score = matched as f64 / template.pixels.len() as f64;
            if score > floor {
                best = ProductMatch {
                    score,
                    place: [
                        f64::from(x) / f64::from(fw),
                        f64::from(y) / f64::from(fh),
                        width / f64::from(fw),
                        height / f64::from(fh),
                    ],
                };
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{imageops, Rgba, RgbaImage};

    /// A lamp-like product: a red shade over a dark stem, on a transparent cut-out.
    fn product() -> DynamicImage {
        DynamicImage::ImageRgba8(RgbaImage::from_fn(60, 120, |x, y| {
            if y < 50 {
                Rgba([200, 40, 40, 255])
            } else if (25..35).contains(&x) {
                Rgba([40, 40, 48, 255])
            } else {
                Rgba([0, 0, 0, 0])
            }
        }))
    }

    /// A soft blue-to-green gradient scene, 540×960.
    fn scene() -> RgbaImage {
        RgbaImage::from_fn(540, 960, |x, y| {
            Rgba([30, (60 + y / 8) as u8, (120 + x / 6) as u8, 255])
        })
    }

    fn with_product(product: &DynamicImage, scale: f64, at: (i64, i64)) -> DynamicImage {
        let mut picture = scene();
        let (w, h) = (
            (f64::from(product.width()) * scale) as u32,
            (f64::from(product.height()) * scale) as u32,
        );
        let placed = product.resize_exact(w, h, FilterType::Triangle);
        imageops::overlay(&mut picture, &placed, at.0, at.1);
        DynamicImage::ImageRgba8(picture)
    }

    #[test]
    fn the_product_set_into_a_scene_is_found_where_it_is() {
        let found = product_match(&product(), &with_product(&product(), 3.5, (200, 400)));
        assert!(found.score > 0.85, "{found:?}");
        let [left, top, width, height] = found.place;
        assert!((left - 200.0 / 540.0).abs() < 0.05, "{found:?}");
        assert!((top - 400.0 / 960.0).abs() < 0.05, "{found:?}");
        assert!((width - 210.0 / 540.0).abs() < 0.08, "{found:?}");
        assert!((height - 420.0 / 960.0).abs() < 0.08, "{found:?}");
    }

    #[test]
    fn a_scene_without_the_product_or_with_another_one_scores_low() {
        let missing = product_match(&product(), &DynamicImage::ImageRgba8(scene()));
        assert!(missing.score < 0.2, "{missing:?}");
        // The same shape in another colour is another product.
        let mut blue = product().to_rgba8();
        for pixel in blue.pixels_mut().filter(|p| p.0[3] > 0 && p.0[0] > 100) {
            *pixel = Rgba([40, 60, 210, 255]);
        }
        let blue = DynamicImage::ImageRgba8(blue);
        let recoloured = product_match(&product(), &with_product(&blue, 3.5, (200, 400)));
        assert!(recoloured.score < 0.45, "{recoloured:?}");
    }

    #[test]
    fn degenerate_pictures_score_nothing() {
        let empty = DynamicImage::ImageRgba8(RgbaImage::new(0, 0));
        assert_eq!(product_match(&product(), &empty).score, 0.0);
        let clear = DynamicImage::ImageRgba8(RgbaImage::new(10, 10));
        assert_eq!(
            product_match(&clear, &with_product(&product(), 1.0, (0, 0))).score,
            0.0
        );
    }
}
