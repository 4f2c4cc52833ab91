//! What is drawn over the scenes: the logo in its corner while the scenes play, the
//! product name over the first seconds, the call to action over the last ones (unless an
//! end card says it), and the captions. Every filter is timed in the video's own clock
//! (`t` from its first frame), so the one-pass render draws them over the whole video and
//! the smart render over any piece of it, given the piece's frames carry their times in
//! the video.
//!
//! User text never enters the filter graph: each line is written to a file that
//! `drawtext` reads (`textfile=`) with expansion off.

use super::branding::{self, LogoPlace, TextStyle};
use super::captions;
use super::compose::Composition;
use crate::generation::{
    ffmpeg::filter_path,
    offline::{wrap, FONT},
};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// The overlays of one composition, their text files written.
pub struct Overlays {
    /// The logo's file and its place, shown until the scenes end.
    logo: Option<(PathBuf, LogoPlace)>,
    /// `drawtext` and `subtitles` filters, in the order they are drawn.
    text: Vec<String>,
    /// When any text shows, in seconds of the video: `[start, end]` each.
    spans: Vec<(f64, f64)>,
    /// Where the scenes end (and the end card, if any, starts).
    scenes_end: f64,
    /// How titles are drawn (the end card's text too).
    pub style: TextStyle,
}

impl Overlays {
    /// Writes the text files (and the font) into `text_dir`.
    pub fn of(composition: &Composition, text_dir: &Path) -> anyhow::Result<Self> {
        let format = composition.format;
        let (width, height) = format.dimensions();
        let total = composition.duration_secs();
        let scenes_end = total - composition.end_card_secs();
        let brand = composition.brand.as_ref();
        // Titles are drawn with the kit's font, else the bundled one.
        let font = match brand {
            Some(brand) => filter_path(&brand.font)?,
            None => {
                let font = text_dir.join("font.ttf");
                std::fs::write(&font, FONT).context("writing the font")?;
                filter_path(&font)?
            }
        };
        let style = match brand {
            Some(brand) => brand.title_style(&font),
            None => TextStyle::plain(&font),
        };
        let logo = brand.and_then(|brand| {
            let logo = brand.logo.as_ref()?;
            Some((logo.path.clone(), branding::logo_place(brand, logo, format)))
        });
        let logo_place = logo.as_ref().map(|(_, place)| place);

        // Titles, clear of the logo and inside the safe zone.
        let [safe_top, _, safe_bottom, _] = format.safe_insets();
        let h = height as f64;
        let mut text: Vec<String> = Vec::new();
        let mut spans = Vec::new();
        let short = width.min(height) as f64;
        let show = (scenes_end / 3.0).clamp(1.0, 3.5);
        let title = composition.title.as_deref();
        if let Some(title) = title.filter(|t| !t.trim().is_empty()) {
            let size = (short * 0.085).round();
            let lines = wrap(title, chars_per_line(width, size), 2);
            let (start, end) = (0.2, 0.2 + show);
            let mut top = (h * 0.09).max(h * safe_top);
            if let Some(place) = logo_place.filter(|p| p.corner.top()) {
                top = top.max((place.y + place.height) as f64 + h * 0.02);
            }
            text.extend(text_lines(
                text_dir, "title", &lines, &style, size, top, start, end,
            )?);
            spans.push((start, end));
        }
        // With an end card the call to action is written on it, not over the last scene.
        let cta = composition
            .call_to_action
            .as_deref()
            .filter(|t| !t.trim().is_empty() && composition.end_card_secs() == 0.0);
        if let Some(cta) = cta {
            let size = (short * 0.07).round();
            let lines = wrap(cta, chars_per_line(width, size), 3);
            let (start, end) = ((scenes_end - show).max(0.0), scenes_end);
            let block = size * 1.3 * lines.len() as f64;
            let mut bottom = (h * 0.88).min(h * (1.0 - safe_bottom));
            if let Some(place) = logo_place.filter(|p| !p.corner.top()) {
                bottom = bottom.min(place.y as f64 - h * 0.02);
            }
            text.extend(text_lines(
                text_dir,
                "cta",
                &lines,
                &style,
                size,
                bottom - block,
                start,
                end,
            )?);
            spans.push((start, end));
        }
        // Captions last, over everything: libass draws them with fontconfig's fallback
        // (any script, emoji), in the kit's font where it has the glyphs.
        let cues = composition.caption_cues();
        if let (Some(caption_style), false) = (composition.captions, cues.is_empty()) {
            text.push(captions::burn_in(
                &cues,
                caption_style,
                format,
                brand,
                text_dir,
            )?);
            spans.extend(cues.iter().map(|cue| (cue.start(), cue.end())));
        }
        Ok(Self {
            logo,
            text,
            spans,
            scenes_end,
            style,
        })
    }

    /// The logo's file, if the video shows one: an input of the graph.
    pub fn logo_file(&self) -> Option<&Path> {
        self.logo.as_ref().map(|(path, _)| path.as_path())
    }

    /// Whether anything is drawn over the video between `start` and `end` seconds.
    pub fn over(&self, start: f64, end: f64) -> bool {
        let logo = self.logo.is_some() && start < self.scenes_end;
        logo || self.spans.iter().any(|&(a, b)| a <= end && start <= b)
    }

    /// The filters from the stream `[input]` to `[output]`: the logo (`logo` names its
    /// stream, RGBA) in its corner until the scenes end, then the text.
    pub fn chain(&self, input: &str, logo: Option<&str>, output: &str) -> Vec<String> {
        let mut graph = Vec::new();
        let mut video = input.to_string();
        if let (Some((_, place)), Some(logo)) = (&self.logo, logo) {
            graph.push(format!(
                "[{logo}]scale={}:{}:flags=lanczos[logo_small]",
                place.width, place.height
            ));
            graph.push(format!(
                "[{video}][logo_small]overlay=x={}:y={}:enable='lt(t\\,{:.3})'[vlogo]",
                place.x, place.y, self.scenes_end
            ));
            video = "vlogo".into();
        }
        if self.text.is_empty() {
            graph.push(format!("[{video}]null[{output}]"));
        } else {
            graph.push(format!("[{video}]{}[{output}]", self.text.join(",")));
        }
        graph
    }
}

pub(super) fn chars_per_line(width: u32, size: f64) -> usize {
    ((width as f64 * 0.84) / (size * 0.62)).max(8.0) as usize
}

/// One `drawtext` per line, centred, fading in and out between `start` and `end`.
#[allow(clippy::too_many_arguments)]
fn text_lines(
    dir: &Path,
    name: &str,
    lines: &[String],
    style: &TextStyle,
    size: f64,
    top: f64,
    start: f64,
    end: f64,
) -> anyhow::Result<Vec<String>> {
    let fade = ((end - start) / 4.0).min(0.4);
    let alpha = format!(
        "if(lt(t\\,{a:.3})\\,(t-{start:.3})/{fade:.3}\\,if(gt(t\\,{b:.3})\\,({end:.3}-t)/{fade:.3}\\,1))",
        a = start + fade,
        b = end - fade,
    );
    let mut filters = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let file = dir.join(format!("{name}-{index}.txt"));
        std::fs::write(&file, line).context("writing overlay text")?;
        filters.push(format!(
            "{}:x=(w-text_w)/2:y={:.0}:enable=between(t\\,{start:.3}\\,{end:.3}):alpha={alpha}",
            style.drawtext(&filter_path(&file)?, size),
            top + index as f64 * size * 1.3,
        ));
    }
    Ok(filters)
}
