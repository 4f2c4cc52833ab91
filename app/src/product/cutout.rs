//! A cut-out of the product with its background made transparent, made without any
//! model: a flood fill from the photo's edges through pixels close to the background's
//! colour. It is honest about its limits: it works for a product shot on a plain,
//! evenly lit background (a studio sweep, a table seen from above) and gives up where
//! the edges are not mostly one colour, or where what is left is too small or too large
//! to be a product; the scene images then use the whole photo. A background that
//! touches the product in the same colour (a white mug on white) is cut into the mug.

use image::{DynamicImage, GrayImage, Luma, Rgba, RgbaImage};

/// How far (Euclidean, in 0–255 RGB) a pixel may be from the background's colour and
/// still be background: enough for sensor noise and a soft shadow's edge.
const TOLERANCE: u32 = 44;
/// The share of the edge pixels that must be background for the photo to count as shot
/// on a plain background.
const PLAIN_EDGES: f64 = 0.8;
/// The product must cover at least this share of the photo…
const MIN_PRODUCT: f64 = 0.01;
/// …and leave at least this share as background.
const MAX_PRODUCT: f64 = 0.95;

fn distance_squared(a: Rgba<u8>, b: [u8; 3]) -> u32 {
    (0..3)
        .map(|i| {
            let d = i32::from(a.0[i]) - i32::from(b[i]);
            (d * d) as u32
        })
        .sum()
}

fn edge_pixels(width: u32, height: u32) -> impl Iterator<Item = (u32, u32)> {
    let top_bottom = (0..width).flat_map(move |x| [(x, 0), (x, height - 1)]);
    let sides = (1..height.saturating_sub(1)).flat_map(move |y| [(0, y), (width - 1, y)]);
    top_bottom.chain(sides)
}

/// The background's colour: the per-channel median of the edge pixels.
fn background_colour(image: &RgbaImage) -> [u8; 3] {
    let mut channels: [Vec<u8>; 3] = Default::default();
    for (x, y) in edge_pixels(image.width(), image.height()) {
        let pixel = image.get_pixel(x, y);
        for (channel, values) in channels.iter_mut().enumerate() {
            values.push(pixel.0[channel]);
        }
    }
    channels.map(|mut values| {
        values.sort_unstable();
        values[values.len() / 2]
    })
}

/// Which pixels are product (255) and which background (0), or none when the photo is
/// not one this method can cut.
fn product_mask(image: &RgbaImage) -> Option<GrayImage> {
    let (width, height) = image.dimensions();
    if width < 3 || height < 3 {
        return None;
    }
    // A photo that already has transparency says itself what the product is.
    if image.pixels().any(|pixel| pixel.0[3] < 255) {
        return Some(GrayImage::from_fn(width, height, |x, y| {
            Luma([if image.get_pixel(x, y).0[3] > 16 {
                255
            } else {
                0
            }])
        }));
    }
    let background = background_colour(image);
    let limit = TOLERANCE * TOLERANCE;
    let is_background =
        |x: u32, y: u32| distance_squared(*image.get_pixel(x, y), background) <= limit;
    let edges: Vec<_> = edge_pixels(width, height).collect();
    let plain = edges.iter().filter(|(x, y)| is_background(*x, *y)).count();
    if (plain as f64) < PLAIN_EDGES * edges.len() as f64 {
        return None;
    }
    let mut mask = GrayImage::from_pixel(width, height, Luma([255]));
    let mut queue: Vec<(u32, u32)> = Vec::new();
    for (x, y) in edges {
        if mask.get_pixel(x, y).0[0] == 255 && is_background(x, y) {
            mask.put_pixel(x, y, Luma([0]));
            queue.push((x, y));
        }
    }
    while let Some((x, y)) = queue.pop() {
        let neighbours = [
            (x.wrapping_sub(1), y),
            (x + 1, y),
            (x, y.wrapping_sub(1)),
            (x, y + 1),
        ];
        for (nx, ny) in neighbours {
            if nx < width
                && ny < height
                && mask.get_pixel(nx, ny).0[0] == 255
                && is_background(nx, ny)
            {
                mask.put_pixel(nx, ny, Luma([0]));
                queue.push((nx, ny));
            }
        }
    }
    Some(mask)
}

/// The product cut out of `photo` and cropped to it, its edge softened by a pixel; none
/// when the photo is not one this method can cut (see the module's note).
pub fn cut_out(photo: &DynamicImage) -> Option<RgbaImage> {
    let image = photo.to_rgba8();
    let mask = product_mask(&image)?;
    let (width, height) = mask.dimensions();
    let product = mask.pixels().filter(|pixel| pixel.0[0] == 255).count() as f64;
    let share = product / f64::from(width * height);
    if !(MIN_PRODUCT..=MAX_PRODUCT).contains(&share) {
        return None;
    }
    // The bounding box of the product.
    let (mut left, mut top, mut right, mut bottom) = (width, height, 0, 0);
    for (x, y, pixel) in mask.enumerate_pixels() {
        if pixel.0[0] == 255 {
            left = left.min(x);
            top = top.min(y);
            right = right.max(x);
            bottom = bottom.max(y);
        }
    }
    // A 3×3 average of the mask: a one-pixel soft edge instead of a jagged one.
    let soft = |x: u32, y: u32| -> u8 {
        let mut sum = 0u32;
        let mut count = 0u32;
        for dy in -1i64..=1 {
            for dx in -1i64..=1 {
                let (sx, sy) = (i64::from(x) + dx, i64::from(y) + dy);
                if sx >= 0 && sy >= 0 && sx < i64::from(width) && sy < i64::from(height) {
                    sum += u32::from(mask.get_pixel(sx as u32, sy as u32).0[0]);
                    count += 1;
                }
            }
        }
        (sum / count.max(1)) as u8
    };
    let cut = RgbaImage::from_fn(right - left + 1, bottom - top + 1, |x, y| {
        let (sx, sy) = (x + left, y + top);
        let mut pixel = *image.get_pixel(sx, sy);
        let alpha = if mask.get_pixel(sx, sy).0[0] == 255 {
            soft(sx, sy)
        } else {
            soft(sx, sy) / 2
        };
        pixel.0[3] = pixel.0[3].min(alpha);
        pixel
    });
    Some(cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    /// A red disc of radius 20 at (50, 40) on a light grey, slightly noisy background.
    fn studio_shot() -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(100, 80, |x, y| {
            let (dx, dy) = (x as i32 - 50, y as i32 - 40);
            if dx * dx + dy * dy <= 400 {
                Rgb([200, 30, 30])
            } else {
                let noise = ((x * 7 + y * 13) % 9) as u8;
                Rgb([228 + noise, 228 + noise, 226 + noise])
            }
        }))
    }

    #[test]
    fn a_product_on_a_plain_background_is_cut_out_and_cropped_to_it() {
        let cut = cut_out(&studio_shot()).expect("a studio shot can be cut");
        assert!((40..=42).contains(&cut.width()), "{}", cut.width());
        assert!((40..=42).contains(&cut.height()), "{}", cut.height());
        let centre = cut.get_pixel(cut.width() / 2, cut.height() / 2);
        assert_eq!(centre.0, [200, 30, 30, 255]);
        // The corners of the disc's box are background, now transparent.
        assert_eq!(cut.get_pixel(0, 0).0[3], 0);
        assert_eq!(cut.get_pixel(cut.width() - 1, cut.height() - 1).0[3], 0);
    }

    #[test]
    fn a_busy_background_is_not_cut() {
        let busy = DynamicImage::ImageRgb8(RgbImage::from_fn(100, 80, |x, y| {
            Rgb([
                ((x * 37) % 256) as u8,
                ((y * 59) % 256) as u8,
                ((x * y) % 256) as u8,
            ])
        }));
        assert!(cut_out(&busy).is_none());
    }

    #[test]
    fn a_photo_of_nothing_but_background_is_not_cut() {
        let empty = DynamicImage::ImageRgb8(RgbImage::from_pixel(60, 60, Rgb([240, 240, 240])));
        assert!(cut_out(&empty).is_none());
    }
}
