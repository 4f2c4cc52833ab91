//! Fonts: the bundled ones, and checking an uploaded TTF or OTF by parsing it (its tables
//! must read, it must draw the Latin letters and digits a call to action needs) before
//! FFmpeg's FreeType ever sees it.

use super::BundledFont;
use crate::error::AppError;

/// The largest font file accepted (15 MB, like photos: CJK fonts run to ~10 MB).
pub const MAX_FONT_BYTES: u64 = 15_000_000;

/// The offline provider's font, the default.
const SANS: &[u8] = crate::generation::offline::FONT;
const LATO: &[u8] = include_bytes!("../../assets/fonts/Lato-Black.ttf");
const SERIF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSerif-Bold.ttf");

/// The bytes of a bundled font (the default for an unknown id).
pub fn bundled_bytes(font: BundledFont) -> &'static [u8] {
    match font.id {
        "lato" => LATO,
        "serif" => SERIF,
        _ => SANS,
    }
}

/// An uploaded font that passed.
#[derive(Debug, PartialEq, Eq)]
pub struct CheckedFont {
    /// The family name from its name table ("Inter"), for the editor to show.
    pub family: String,
    /// `ttf` or `otf`, from its content.
    pub extension: &'static str,
}

pub fn too_large() -> AppError {
    AppError::TooLarge(format!(
        "A font can be at most {} MB; this one is larger.",
        MAX_FONT_BYTES / 1_000_000
    ))
}

/// Checks an uploaded font file. Decides by content: TrueType (`00 01 00 00` or `true`)
/// or OpenType with CFF outlines (`OTTO`); WOFF and collections are named and refused.
pub fn check(bytes: &[u8]) -> Result<CheckedFont, AppError> {
    if bytes.len() as u64 > MAX_FONT_BYTES {
        return Err(too_large());
    }
    let extension = match bytes.get(..4) {
        Some([0, 1, 0, 0]) | Some(b"true") => "ttf",
        Some(b"OTTO") => "otf",
        Some(b"wOFF") | Some(b"wOF2") => {
            return Err(AppError::Unsupported(
                "This is a web font (WOFF): upload the TTF or OTF file it was made from.".into(),
            ))
        }
        Some(b"ttcf") => {
            return Err(AppError::Unsupported(
                "This is a font collection (TTC): upload one TTF or OTF font from it.".into(),
            ))
        }
        _ => {
            return Err(AppError::Unsupported(
                "Upload a TTF or OTF font: this file is neither (what counts is its content, not its name)."
                    .into(),
            ))
        }
    };
    let face = ttf_parser::Face::parse(bytes, 0).map_err(|error| {
        AppError::invalid(format!(
            "This font could not be read ({error}): the file is damaged or incomplete."
        ))
    })?;
    let missing: String = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        .chars()
        .filter(|c| face.glyph_index(*c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(AppError::invalid(format!(
            "This font cannot write “{}”: pick one that covers the Latin letters and digits.",
            missing.chars().take(12).collect::<String>()
        )));
    }
    let family = face
        .names()
        .into_iter()
        .filter(|name| {
            name.is_unicode()
                && matches!(
                    name.name_id,
                    ttf_parser::name_id::TYPOGRAPHIC_FAMILY | ttf_parser::name_id::FAMILY
                )
        })
        // The typographic family ("Inter") before the legacy one ("Inter Black").
        .min_by_key(|name| name.name_id != ttf_parser::name_id::TYPOGRAPHIC_FAMILY)
        .and_then(|name| name.to_string())
        .map(|name| {
            name.chars()
                .filter(|c| !c.is_control())
                .take(80)
                .collect::<String>()
        })
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "Uploaded font".into());
    Ok(CheckedFont { family, extension })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::brand::BUNDLED_FONTS;

    #[test]
    fn the_bundled_fonts_pass_the_upload_check() {
        let families: Vec<String> = BUNDLED_FONTS
            .into_iter()
            .map(|font| check(bundled_bytes(font)).unwrap().family)
            .collect();
        assert_eq!(families, ["DejaVu Sans", "Lato", "DejaVu Serif"]);
    }

    #[test]
    fn files_that_are_not_fonts_are_refused_by_content() {
        let text = check(b"hello, this is not a font at all").unwrap_err();
        assert_eq!(text.status(), 415);
        let woff = check(b"wOFF\0\0\0\0rest").unwrap_err();
        assert!(woff.to_string().contains("WOFF"), "{woff}");
        // A TrueType header on garbage: the tables do not parse.
        let mut broken = vec![0u8, 1, 0, 0];
        broken.extend_from_slice(&[7; 200]);
        assert_eq!(check(&broken).unwrap_err().status(), 400);
        // A real font cut short.
        let cut = &bundled_bytes(BUNDLED_FONTS[0])[..4096];
        assert_eq!(check(cut).unwrap_err().status(), 400);
    }
}
