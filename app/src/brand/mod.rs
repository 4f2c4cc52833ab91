//! The brand kit: an account's logo, colours, font, handle and end card, reused by every
//! project (a project can have a kit of its own instead). Logos are re-encoded or
//! rasterised on upload (`logo`), fonts are parsed before they are kept (`font`); the
//! render draws with the kit (`render::compose`), the mood boards offer an "on brand"
//! board from its colours (`on_brand`).

pub mod api;
#[cfg(feature = "ssr")]
pub mod font;
#[cfg(feature = "ssr")]
pub mod logo;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod upload;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Brand colours a kit holds.
pub const MAX_COLORS: usize = 5;
/// The longest handle line (a website or a social handle).
pub const MAX_HANDLE_CHARS: usize = 60;
/// How long the end card may last, in seconds.
pub const END_CARD_SECS: (f32, f32) = (1.5, 3.0);
/// The logo's width as a share of the frame's shorter side.
pub const LOGO_SIZE: (f32, f32) = (0.08, 0.3);
/// What the logo picker offers; the server decides by content.
pub const LOGO_TYPES: &str = "image/png,image/jpeg,image/webp,image/svg+xml,.svg";
/// What the font picker offers; the server decides by parsing the file.
pub const FONT_TYPES: &str = ".ttf,.otf,font/ttf,font/otf";

/// Where the logo sits in the frame (always inside the format's safe zone).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Corner {
    TopLeft,
    #[default]
    TopRight,
    BottomLeft,
    BottomRight,
}

impl Corner {
    pub const ALL: [Corner; 4] = [
        Self::TopLeft,
        Self::TopRight,
        Self::BottomLeft,
        Self::BottomRight,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TopLeft => "top_left",
            Self::TopRight => "top_right",
            Self::BottomLeft => "bottom_left",
            Self::BottomRight => "bottom_right",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|corner| corner.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::TopLeft => "Top left",
            Self::TopRight => "Top right",
            Self::BottomLeft => "Bottom left",
            Self::BottomRight => "Bottom right",
        }
    }

    pub fn top(self) -> bool {
        matches!(self, Self::TopLeft | Self::TopRight)
    }

    pub fn left(self) -> bool {
        matches!(self, Self::TopLeft | Self::BottomLeft)
    }
}

/// A font that ships with Reelsmith.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BundledFont {
    pub id: &'static str,
    pub label: &'static str,
}

/// The fonts a kit can choose without uploading one; the first is the default.
pub const BUNDLED_FONTS: [BundledFont; 3] = [
    BundledFont {
        id: "sans",
        label: "DejaVu Sans Bold (clean)",
    },
    BundledFont {
        id: "lato",
        label: "Lato Black (modern)",
    },
    BundledFont {
        id: "serif",
        label: "DejaVu Serif Bold (classic)",
    },
];

pub fn bundled_font(id: &str) -> Option<BundledFont> {
    BUNDLED_FONTS.into_iter().find(|font| font.id == id)
}

/// What the kit editor saves (the logo and an uploaded font are sent as files).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrandSettings {
    /// `#rrggbb`, the main colour first.
    pub colors: Vec<String>,
    pub logo_corner: Corner,
    pub logo_size: f32,
    pub bundled_font: String,
    /// Draw with the uploaded font (if there is one) rather than the bundled one.
    pub use_uploaded_font: bool,
    pub handle: String,
    pub end_card: bool,
    pub end_card_secs: f32,
}

impl Default for BrandSettings {
    fn default() -> Self {
        Self {
            colors: vec!["#1f2937".into()],
            logo_corner: Corner::default(),
            logo_size: 0.16,
            bundled_font: BUNDLED_FONTS[0].id.into(),
            use_uploaded_font: false,
            handle: String::new(),
            end_card: true,
            end_card_secs: 2.0,
        }
    }
}

/// A brand kit as the editor shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrandKit {
    /// Whether it has been saved at all (an account starts without one).
    pub saved: bool,
    /// The project whose own kit this is; `None` for the account's kit.
    pub project: Option<Uuid>,
    pub settings: BrandSettings,
    pub logo_url: Option<String>,
    pub logo_width: Option<i32>,
    pub logo_height: Option<i32>,
    /// The uploaded font's family name.
    pub font_name: Option<String>,
}

/// Which kit a project's render draws with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectBrand {
    /// The project has a kit of its own (else it uses the account's, if any).
    pub own: bool,
    /// The kit that applies; `None` when neither exists.
    pub kit: Option<BrandKit>,
}

/// `#rrggbb` in lower case, from `#RGB`, `#RRGGBB` or the same without `#`.
pub fn parse_color(text: &str) -> Option<String> {
    let hex = text.trim().trim_start_matches('#');
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let hex = match hex.len() {
        3 => hex.chars().flat_map(|c| [c, c]).collect::<String>(),
        6 => hex.to_string(),
        _ => return None,
    };
    Some(format!("#{}", hex.to_ascii_lowercase()))
}

/// A colour's red, green and blue (0–255), from `#rrggbb`.
pub fn rgb(color: &str) -> Option<[u8; 3]> {
    let color = parse_color(color)?;
    let channel = |i: usize| u8::from_str_radix(&color[1 + 2 * i..3 + 2 * i], 16).ok();
    Some([channel(0)?, channel(1)?, channel(2)?])
}

/// Relative luminance (WCAG 2), 0 for black to 1 for white.
pub fn luminance([r, g, b]: [u8; 3]) -> f64 {
    let linear = |c: u8| {
        let c = c as f64 / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
}

/// How far apart two colours are: the largest difference of one channel, 0 to 255.
pub fn channel_distance(a: [u8; 3], b: [u8; 3]) -> u8 {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(y))
        .max()
        .unwrap_or(0)
}

/// WCAG contrast ratio of two colours, 1 to 21.
pub fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (a, b) = (luminance(a), luminance(b));
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

/// The colour to write on `background` with: the first of the kit's other colours that
/// reads well on it (contrast 4.5 or more), else white or black, whichever reads better.
pub fn text_color_on(background: &str, colors: &[String]) -> String {
    let Some(back) = rgb(background) else {
        return "#ffffff".into();
    };
    colors
        .iter()
        .filter(|c| parse_color(c).as_deref() != parse_color(background).as_deref())
        .find(|c| rgb(c).is_some_and(|fore| contrast(back, fore) >= 4.5))
        .cloned()
        .unwrap_or_else(|| {
            if contrast(back, [255, 255, 255]) >= contrast(back, [0, 0, 0]) {
                "#ffffff".into()
            } else {
                "#000000".into()
            }
        })
}

/// The palette of the "on brand" mood board: the kit's colours, darkest first, with
/// lighter and darker shades of the main colour added up to the three a palette needs.
pub fn on_brand_palette(colors: &[String]) -> Vec<String> {
    let mut palette: Vec<String> = colors.iter().filter_map(|c| parse_color(c)).collect();
    palette.dedup();
    let Some(main) = palette.first().and_then(|c| rgb(c)) else {
        return Vec::new();
    };
    let shade = |towards: f64, share: f64| {
        let mix = |c: u8| (c as f64 + (towards - c as f64) * share).round() as u8;
        let [r, g, b] = main.map(mix);
        format!("#{r:02x}{g:02x}{b:02x}")
    };
    let mut extra = [shade(0.0, 0.55), shade(255.0, 0.7), shade(255.0, 0.4)].into_iter();
    while palette.len() < 3 {
        match extra.next() {
            Some(color) if !palette.contains(&color) => palette.push(color),
            Some(_) => {}
            None => break,
        }
    }
    palette.sort_by(|a, b| {
        let lum = |c: &String| rgb(c).map(luminance).unwrap_or(0.0);
        lum(a).total_cmp(&lum(b))
    });
    palette
}

/// Which mood board is the "on brand" one when the account has a kit: the last.
pub const ON_BRAND_POSITION: i16 = 2;

/// The "on brand" version of a mood the director wrote: the kit's colours for its
/// palette, said in its name and description.
pub fn on_brand(mut mood: crate::creative::Mood, colors: &[String]) -> crate::creative::Mood {
    let palette = on_brand_palette(colors);
    if palette.is_empty() {
        return mood;
    }
    mood.palette = palette;
    mood.name = format!("On brand · {}", mood.name);
    mood.description = format!("{} In your brand colours.", mood.description.trim_end());
    mood
}

/// Checks and normalises what the editor sends: 1–5 valid colours, a known bundled
/// font, sizes and lengths inside their ranges, a handle without control characters.
pub fn validate(mut settings: BrandSettings) -> Result<BrandSettings, String> {
    let mut colors = Vec::new();
    for color in &settings.colors {
        if color.trim().is_empty() {
            continue;
        }
        let parsed = parse_color(color).ok_or_else(|| {
            format!(
                "“{}” is not a colour: write it as #rrggbb, like #ff6600.",
                color.trim()
            )
        })?;
        if !colors.contains(&parsed) {
            colors.push(parsed);
        }
    }
    if colors.is_empty() || colors.len() > MAX_COLORS {
        return Err(format!("A brand kit has 1 to {MAX_COLORS} colours."));
    }
    settings.colors = colors;
    if bundled_font(&settings.bundled_font).is_none() {
        return Err("Pick one of the fonts offered.".into());
    }
    let (small, large) = LOGO_SIZE;
    if !(small..=large).contains(&settings.logo_size) {
        return Err(format!(
            "The logo's size goes from {:.0}% to {:.0}% of the frame.",
            small * 100.0,
            large * 100.0
        ));
    }
    let (short, long) = END_CARD_SECS;
    if !(short..=long).contains(&settings.end_card_secs) {
        return Err(format!("The end card lasts {short} to {long} seconds."));
    }
    let handle: String = settings
        .handle
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let handle = handle.trim().to_string();
    if handle.chars().count() > MAX_HANDLE_CHARS {
        return Err(format!(
            "The handle line can be at most {MAX_HANDLE_CHARS} characters."
        ));
    }
    settings.handle = handle;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_read_in_the_ways_people_write_them() {
        assert_eq!(parse_color("#FF6600").as_deref(), Some("#ff6600"));
        assert_eq!(parse_color(" f60 ").as_deref(), Some("#ff6600"));
        assert_eq!(parse_color("#ff66"), None);
        assert_eq!(parse_color("orange"), None);
        assert_eq!(rgb("#102030"), Some([16, 32, 48]));
    }

    #[test]
    fn text_on_a_brand_colour_reads_well() {
        // White on dark navy; the kit's own light colour where it contrasts enough.
        assert_eq!(text_color_on("#14213d", &[]), "#ffffff");
        assert_eq!(text_color_on("#ffd60a", &[]), "#000000");
        let kit = ["#14213d".to_string(), "#fca311".to_string()];
        assert_eq!(text_color_on("#14213d", &kit), "#fca311");
        // A second colour too close to the background is passed over.
        let close = ["#14213d".to_string(), "#1d3160".to_string()];
        assert_eq!(text_color_on("#14213d", &close), "#ffffff");
    }

    #[test]
    fn an_on_brand_palette_has_three_colours_darkest_first() {
        let palette = on_brand_palette(&["#e63946".into()]);
        assert_eq!(palette.len(), 3);
        assert!(palette.contains(&"#e63946".to_string()));
        let lum: Vec<f64> = palette.iter().map(|c| luminance(rgb(c).unwrap())).collect();
        assert!(lum.windows(2).all(|w| w[0] <= w[1]), "{palette:?}");
        let five: Vec<String> = ["#000000", "#111111", "#222222", "#333333", "#444444"]
            .map(String::from)
            .into();
        assert_eq!(on_brand_palette(&five), five);
    }

    #[test]
    fn settings_outside_their_ranges_are_refused_with_the_range() {
        let ok = validate(BrandSettings {
            colors: vec!["#FFF".into(), " ".into(), "#ffffff".into(), "#000".into()],
            handle: "  @lumen\u{7}.co ".into(),
            ..BrandSettings::default()
        })
        .unwrap();
        assert_eq!(ok.colors, ["#ffffff", "#000000"]);
        assert_eq!(ok.handle, "@lumen.co");
        let six = BrandSettings {
            colors: (0..6).map(|i| format!("#00000{i}")).collect(),
            ..BrandSettings::default()
        };
        assert!(validate(six).unwrap_err().contains("1 to 5 colours"));
        let none = BrandSettings {
            colors: vec![],
            ..BrandSettings::default()
        };
        assert!(validate(none).is_err());
        let long_card = BrandSettings {
            end_card_secs: 4.0,
            ..BrandSettings::default()
        };
        assert!(validate(long_card)
            .unwrap_err()
            .contains("1.5 to 3 seconds"));
        let font = BrandSettings {
            bundled_font: "comic".into(),
            ..BrandSettings::default()
        };
        assert!(validate(font).is_err());
        let bad = BrandSettings {
            colors: vec!["tomato".into()],
            ..BrandSettings::default()
        };
        assert!(validate(bad)
            .unwrap_err()
            .contains("“tomato” is not a colour"));
    }
}
