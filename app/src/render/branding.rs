//! The brand kit in the render: titles in the kit's font on its main colour, the logo in
//! its corner inside the format's safe zone, and the end card (logo, call to action and
//! handle on the main colour), all drawn in the render's one FFmpeg pass.

use super::{compose::FPS, overlays::chars_per_line};
use crate::{
    brand::{parse_color, text_color_on, Corner},
    generation::{ffmpeg::filter_path, offline::wrap},
    projects::VideoFormat,
};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// A logo as the render gets it: a still image, with its size in pixels.
#[derive(Clone, Debug)]
pub struct Logo {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
}

/// The brand kit's look, its files on this machine.
#[derive(Clone, Debug)]
pub struct Brand {
    /// The font file titles are drawn with.
    pub font: PathBuf,
    /// `#rrggbb`, at least one: the first is the titles' and the end card's background.
    pub colors: Vec<String>,
    pub logo: Option<Logo>,
    pub corner: Corner,
    /// The logo's box as a share of the frame's shorter side.
    pub logo_size: f64,
    /// The website or handle line of the end card.
    pub handle: String,
    pub end_card_secs: Option<f64>,
}

impl Brand {
    fn main_color(&self) -> String {
        self.colors
            .first()
            .and_then(|c| parse_color(c))
            .unwrap_or_else(|| "#1f2937".into())
    }

    /// Titles on a box of the main colour, written in the colour that reads best on it.
    pub fn title_style(&self, font: &str) -> TextStyle {
        let main = self.main_color();
        TextStyle {
            font: font.into(),
            color: ffmpeg_color(&text_color_on(&main, &self.colors)),
            box_color: Some(format!("{}@0.88", ffmpeg_color(&main))),
            shadow: false,
        }
    }
}

/// `0xrrggbb`, FFmpeg's spelling of `#rrggbb`.
fn ffmpeg_color(color: &str) -> String {
    format!("0x{}", color.trim_start_matches('#'))
}

/// How a line of text is drawn.
#[derive(Clone, Debug)]
pub struct TextStyle {
    /// The font file, as a filter argument.
    pub font: String,
    pub color: String,
    pub box_color: Option<String>,
    pub shadow: bool,
}

impl TextStyle {
    /// White on a dark translucent box, with a shadow: reads on any footage.
    pub fn plain(font: &str) -> Self {
        Self {
            font: font.into(),
            color: "white".into(),
            box_color: Some("black@0.35".into()),
            shadow: true,
        }
    }

    /// A `drawtext` of the line in `textfile` (expansion off: user text is never read as
    /// a filter argument), without its position.
    pub fn drawtext(&self, textfile: &str, size: f64) -> String {
        let mut filter = format!(
            "drawtext=fontfile={}:textfile={textfile}:expansion=none:fontsize={size:.0}:fontcolor={}",
            self.font, self.color
        );
        if let Some(box_color) = &self.box_color {
            filter.push_str(&format!(
                ":box=1:boxcolor={box_color}:boxborderw={:.0}",
                size * 0.25
            ));
        }
        if self.shadow {
            filter.push_str(&format!(
                ":shadowcolor=black@0.5:shadowy={:.0}",
                (size / 16.0).max(1.0)
            ));
        }
        filter
    }
}

/// Where the logo goes over the scenes, in output pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogoPlace {
    pub corner: Corner,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// The largest even size of `logo` inside a `box_width` × `box_height` box.
fn fit(logo: &Logo, box_width: f64, box_height: f64) -> (u32, u32) {
    let scale = (box_width / logo.width.max(1) as f64).min(box_height / logo.height.max(1) as f64);
    let even = |v: f64| ((v / 2.0).round() as u32 * 2).max(2);
    (
        even(logo.width as f64 * scale),
        even(logo.height as f64 * scale),
    )
}

/// The logo in its corner: at most `logo_size` of the shorter side each way, inside the
/// format's safe zone.
pub fn logo_place(brand: &Brand, logo: &Logo, format: VideoFormat) -> LogoPlace {
    let (width, height) = format.dimensions();
    let (w, h) = (width as f64, height as f64);
    let side = brand.logo_size.clamp(0.05, 0.4) * w.min(h);
    let (logo_width, logo_height) = fit(logo, side, side);
    let [top, right, bottom, left] = format.safe_insets();
    let x = if brand.corner.left() {
        w * left
    } else {
        w * (1.0 - right) - logo_width as f64
    };
    let y = if brand.corner.top() {
        h * top
    } else {
        h * (1.0 - bottom) - logo_height as f64
    };
    LogoPlace {
        corner: brand.corner,
        x: x.round().max(0.0) as u32,
        y: y.round().max(0.0) as u32,
        width: logo_width,
        height: logo_height,
    }
}

/// The end card's filter chain, `seconds` long, without its output label: the main
/// colour, the logo (`logo` names its stream) large in the middle, the call to action and
/// the handle under it, kept inside the safe zone.
pub fn end_card(
    brand: &Brand,
    format: VideoFormat,
    seconds: f64,
    logo: Option<&str>,
    call_to_action: Option<&str>,
    titles: &TextStyle,
    text_dir: &Path,
) -> anyhow::Result<String> {
    let (width, height) = format.dimensions();
    let (w, h) = (width as f64, height as f64);
    let short = w.min(h);
    let main = brand.main_color();
    let style = TextStyle {
        font: titles.font.clone(),
        color: ffmpeg_color(&text_color_on(&main, &brand.colors)),
        box_color: None,
        shadow: false,
    };
    let logo_size = match (logo, &brand.logo) {
        (Some(_), Some(file)) => Some(fit(file, short * 0.5, h * 0.22)),
        _ => None,
    };
    let cta_size = (short * 0.075).round();
    let cta_lines = call_to_action
        .filter(|t| !t.trim().is_empty())
        .map(|t| wrap(t, chars_per_line(width, cta_size), 3))
        .unwrap_or_default();
    let handle_size = (short * 0.048).round();
    let handle = brand.handle.trim();
    let gap = h * 0.035;
    let mut block = 0.0;
    if let Some((_, logo_height)) = logo_size {
        block += logo_height as f64;
    }
    if !cta_lines.is_empty() {
        block += gap + cta_size * 1.3 * cta_lines.len() as f64;
    }
    if !handle.is_empty() {
        block += gap + handle_size * 1.3;
    }
    let [safe_top, _, safe_bottom, _] = format.safe_insets();
    let top = ((h - block) / 2.0)
        .min(h * (1.0 - safe_bottom) - block)
        .max(h * safe_top);

    let mut chain = format!(
        "color=c={}:s={width}x{height}:r={FPS}:d={seconds:.3},format=yuv420p,setsar=1",
        ffmpeg_color(&main)
    );
    let mut y = top;
    if let (Some(label), Some((logo_width, logo_height))) = (logo, logo_size) {
        chain = format!(
            "{chain}[card_bg];[{label}]scale={logo_width}:{logo_height}:flags=lanczos[card_logo];\
             [card_bg][card_logo]overlay=x=(W-w)/2:y={y:.0}:format=auto,format=yuv420p"
        );
        y += logo_height as f64;
    }
    let mut lines: Vec<(String, f64)> = Vec::new();
    if !cta_lines.is_empty() {
        y += gap;
        for line in cta_lines {
            lines.push((line, cta_size));
        }
    }
    let cta_count = lines.len();
    if !handle.is_empty() {
        lines.push((handle.to_string(), handle_size));
    }
    for (index, (line, size)) in lines.into_iter().enumerate() {
        if index == cta_count && index > 0 {
            y += gap;
        }
        let file = text_dir.join(format!("card-{index}.txt"));
        std::fs::write(&file, &line).context("writing the end card's text")?;
        chain.push_str(&format!(
            ",{}:x=(w-text_w)/2:y={y:.0}",
            style.drawtext(&filter_path(&file)?, size)
        ));
        y += size * 1.3;
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand(corner: Corner) -> Brand {
        Brand {
            font: PathBuf::from("/tmp/font.ttf"),
            colors: vec!["#14213d".into(), "#fca311".into()],
            logo: None,
            corner,
            logo_size: 0.2,
            handle: "@lumen".into(),
            end_card_secs: Some(2.0),
        }
    }

    #[test]
    fn the_logo_stays_inside_the_safe_zone_of_every_format_and_corner() {
        let wide = Logo {
            path: PathBuf::new(),
            width: 400,
            height: 100,
        };
        for format in VideoFormat::ALL {
            let (width, height) = format.dimensions();
            let [top, right, bottom, left] = format.safe_insets();
            for corner in Corner::ALL {
                let place = logo_place(&brand(corner), &wide, format);
                let short = width.min(height) as f64;
                assert_eq!(
                    place.width,
                    (0.2 * short / 2.0).round() as u32 * 2,
                    "{format:?}"
                );
                assert_eq!(place.height % 2, 0);
                assert!(
                    place.x as f64 >= width as f64 * left - 1.0,
                    "{format:?} {corner:?}"
                );
                assert!(
                    (place.x + place.width) as f64 <= width as f64 * (1.0 - right) + 1.0,
                    "{format:?} {corner:?}"
                );
                assert!(place.y as f64 >= height as f64 * top - 1.0);
                assert!((place.y + place.height) as f64 <= height as f64 * (1.0 - bottom) + 1.0);
            }
        }
        // A tall logo is bounded by its height.
        let tall = Logo {
            path: PathBuf::new(),
            width: 100,
            height: 400,
        };
        let place = logo_place(&brand(Corner::TopLeft), &tall, VideoFormat::Square);
        assert_eq!(place.height, 216);
        assert_eq!(place.width, 54);
    }
}
