//! Captions from the voiceover: each spoken line split into short phrases timed across
//! its measured speech (by the words' lengths, with pauses at punctuation: neither
//! espeak-ng's command line nor OpenAI's speech API reports word timings), burned in by
//! libass from an ASS file (fonts through fontconfig, so any script and emoji render)
//! and offered as SRT and WebVTT with the same times.

use crate::projects::VideoFormat;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// How captions look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptionStyle {
    /// White words with a dark outline low in the frame.
    #[default]
    LowerThird,
    /// Big bold words in the middle, each lit as it is spoken.
    WordByWord,
    /// Words on a dark box low in the frame.
    Boxed,
}

impl CaptionStyle {
    pub const ALL: [Self; 3] = [Self::LowerThird, Self::WordByWord, Self::Boxed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LowerThird => "lower_third",
            Self::WordByWord => "word_by_word",
            Self::Boxed => "boxed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|style| style.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::LowerThird => "Clean lower third",
            Self::WordByWord => "Bold, word by word",
            Self::Boxed => "Boxed",
        }
    }
}

/// One spoken word and when it is heard, in seconds of the video.
#[derive(Clone, Debug, PartialEq)]
pub struct Word {
    pub text: String,
    pub start: f64,
    pub end: f64,
}

/// A caption on screen: a few words shown together.
#[derive(Clone, Debug, PartialEq)]
pub struct Cue {
    pub words: Vec<Word>,
}

impl Cue {
    pub fn start(&self) -> f64 {
        self.words.first().map_or(0.0, |w| w.start)
    }

    pub fn end(&self) -> f64 {
        self.words.last().map_or(0.0, |w| w.end)
    }

    pub fn text(&self) -> String {
        let words: Vec<&str> = self.words.iter().map(|w| w.text.as_str()).collect();
        words.join(" ")
    }
}

/// A caption as a render keeps it, for its SRT and WebVTT files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimedCaption {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

impl From<&Cue> for TimedCaption {
    fn from(cue: &Cue) -> Self {
        Self {
            start: cue.start(),
            end: cue.end(),
            text: cue.text(),
        }
    }
}

/// A phrase holds at most this many words and characters: two short lines on a phone.
const PHRASE_WORDS: usize = 6;
const PHRASE_CHARS: usize = 32;
/// A pause after punctuation, in characters' worth of speaking time.
const PAUSE_WEIGHT: f64 = 3.0;

fn pause_after(word: &str) -> bool {
    word.ends_with([
        ',', ';', ':', '.', '!', '?', '—', '،', '。', '、', '！', '？',
    ])
}

/// The words of a line spoken from `start` for `secs`, each given a share of the time
/// by its length (plus a pause after punctuation, which is not spoken over).
pub fn timed_words(line: &str, start: f64, secs: f64) -> Vec<Word> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let weight = |word: &str| word.chars().filter(|c| c.is_alphanumeric()).count().max(1) as f64;
    let total: f64 = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            weight(w)
                + if pause_after(w) && i + 1 < words.len() {
                    PAUSE_WEIGHT
                } else {
                    0.0
                }
        })
        .sum();
    if total <= 0.0 || secs <= 0.0 {
        return Vec::new();
    }
    let per = secs / total;
    let mut at = start;
    words
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let end = at + weight(text) * per;
            let word = Word {
                text: text.to_string(),
                start: at,
                end,
            };
            at = end;
            if pause_after(text) && i + 1 < words.len() {
                at += PAUSE_WEIGHT * per;
            }
            word
        })
        .collect()
}

/// The words grouped into phrases: broken after punctuation, or when a phrase is full.
pub fn phrases(words: Vec<Word>) -> Vec<Cue> {
    let mut cues = Vec::new();
    let mut current: Vec<Word> = Vec::new();
    for word in words {
        let chars: usize = current.iter().map(|w| w.text.chars().count() + 1).sum();
        if !current.is_empty()
            && (current.len() >= PHRASE_WORDS || chars + word.text.chars().count() > PHRASE_CHARS)
        {
            cues.push(Cue {
                words: std::mem::take(&mut current),
            });
        }
        let ends = pause_after(&word.text);
        current.push(word);
        if ends {
            cues.push(Cue {
                words: std::mem::take(&mut current),
            });
        }
    }
    if !current.is_empty() {
        cues.push(Cue { words: current });
    }
    cues
}

/// `h:mm:ss.cc`, as ASS writes times.
fn ass_time(secs: f64) -> String {
    let centis = (secs.max(0.0) * 100.0).round() as u64;
    format!(
        "{}:{:02}:{:02}.{:02}",
        centis / 360_000,
        centis / 6000 % 60,
        centis / 100 % 60,
        centis % 100
    )
}

/// `hh:mm:ss,mmm` (SRT) or `hh:mm:ss.mmm` (WebVTT).
fn clock(secs: f64, separator: char) -> String {
    let millis = (secs.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}{separator}{:03}",
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000
    )
}

/// Captions as SubRip.
pub fn srt(cues: &[TimedCaption]) -> String {
    let mut out = String::new();
    for (i, cue) in cues.iter().enumerate() {
        let _ = write!(
            out,
            "{}\n{} --> {}\n{}\n\n",
            i + 1,
            clock(cue.start, ','),
            clock(cue.end, ','),
            cue.text
        );
    }
    out
}

/// Captions as WebVTT (what a browser's `<track>` reads).
pub fn vtt(cues: &[TimedCaption]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for cue in cues {
        let text = cue
            .text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let _ = write!(
            out,
            "{} --> {}\n{text}\n\n",
            clock(cue.start, '.'),
            clock(cue.end, '.')
        );
    }
    out
}

/// User text made safe for an ASS line: braces open override tags and a backslash
/// starts an escape, so both are replaced by look-alikes.
fn ass_text(text: &str) -> String {
    text.replace('\\', "∖")
        .replace('{', "(")
        .replace('}', ")")
        .replace(['\n', '\r'], " ")
}

/// `&HAABBGGRR`, ASS's colour (alpha 0 is opaque).
fn ass_colour(rgb: [u8; 3], alpha: u8) -> String {
    format!("&H{alpha:02X}{:02X}{:02X}{:02X}", rgb[2], rgb[1], rgb[0])
}

/// How the captions are drawn: the style, the font family (fontconfig finds it, and
/// falls back per glyph for scripts and emoji it lacks), the highlight colour.
pub struct CaptionLook {
    pub style: CaptionStyle,
    pub font_family: String,
    pub highlight: [u8; 3],
}

/// The ASS file libass burns in: the captions inside the format's safe zone.
pub fn ass(cues: &[Cue], format: VideoFormat, look: &CaptionLook) -> String {
    let (width, height) = format.dimensions();
    let (w, h) = (f64::from(width), f64::from(height));
    let [_, right, bottom, left] = format.safe_insets();
    let white = ass_colour([255, 255, 255], 0);
    let black = ass_colour([0, 0, 0], 0);
    let shade = ass_colour([0, 0, 0], 0x60);
    let highlight = ass_colour(look.highlight, 0);
    let short = w.min(h);
    // Alignment 2 is bottom centre, 5 the middle; BorderStyle 3 draws an opaque box.
    let (size, bold, primary, secondary, border_style, outline, alignment, margin_v) =
        match look.style {
            CaptionStyle::LowerThird => (
                short * 0.06,
                -1,
                &white,
                &white,
                1,
                short * 0.005,
                2,
                bottom * h + h * 0.02,
            ),
            CaptionStyle::Boxed => (
                short * 0.055,
                0,
                &white,
                &white,
                3,
                short * 0.012,
                2,
                bottom * h + h * 0.02,
            ),
            CaptionStyle::WordByWord => (
                short * 0.085,
                -1,
                &highlight,
                &white,
                1,
                short * 0.007,
                5,
                0.0,
            ),
        };
    let back = if look.style == CaptionStyle::Boxed {
        &shade
    } else {
        &black
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "[Script Info]\nScriptType: v4.00+\nPlayResX: {width}\nPlayResY: {height}\nWrapStyle: 0\nScaledBorderAndShadow: yes\n\n\
         [V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n\
         Style: Caption,{font},{size:.0},{primary},{secondary},{outline_colour},{back},{bold},0,0,0,100,100,0,0,{border_style},{outline:.1},0,{alignment},{margin_l:.0},{margin_r:.0},{margin_v:.0},1\n\n\
         [Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n",
        font = ass_text(&look.font_family).replace(',', " "),
        outline_colour = if look.style == CaptionStyle::Boxed { &shade } else { &black },
        margin_l = left * w + w * 0.04,
        margin_r = right * w + w * 0.04,
    );
    for cue in cues {
        let text = match look.style {
            // Karaoke: each word turns from the secondary colour to the primary as it
            // is spoken (`\k` counts centiseconds from the cue's start).
            CaptionStyle::WordByWord => {
                let mut text = String::new();
                let mut at = cue.start();
                for (i, word) in cue.words.iter().enumerate() {
                    let centis = ((word.end - at) * 100.0).round().max(1.0) as u64;
                    at = word.end;
                    let space = if i + 1 < cue.words.len() { " " } else { "" };
                    let _ = write!(text, "{{\\k{centis}}}{}{space}", ass_text(&word.text));
                }
                text
            }
            _ => ass_text(&cue.text()),
        };
        let _ = writeln!(
            out,
            "Dialogue: 0,{},{},Caption,,0,0,0,,{text}",
            ass_time(cue.start()),
            ass_time(cue.end())
        );
    }
    out
}

/// The word-by-word highlight without a brand kit: a warm yellow.
#[cfg(feature = "ssr")]
const CAPTION_HIGHLIGHT: [u8; 3] = [0xff, 0xd4, 0x00];

/// The `subtitles` filter burning `cues` in: the ASS file and the titles' font (the kit's,
/// else the bundled one) are written into `dir`; libass finds the font by its family
/// and, for glyphs it lacks, the system's fonts through fontconfig.
#[cfg(feature = "ssr")]
pub fn burn_in(
    cues: &[Cue],
    style: CaptionStyle,
    format: VideoFormat,
    brand: Option<&super::branding::Brand>,
    dir: &std::path::Path,
) -> anyhow::Result<String> {
    use crate::generation::ffmpeg::filter_path;
    use anyhow::Context;
    let fonts = dir.join("fonts");
    std::fs::create_dir_all(&fonts).context("making the captions' font folder")?;
    let bytes = match brand {
        Some(brand) => std::fs::read(&brand.font).context("reading the kit's font")?,
        None => crate::generation::offline::FONT.to_vec(),
    };
    std::fs::write(fonts.join("captions.ttf"), &bytes).context("writing the captions' font")?;
    let look = CaptionLook {
        style,
        font_family: crate::brand::font::check(&bytes)
            .map(|font| font.family)
            .unwrap_or_else(|_| "DejaVu Sans".into()),
        highlight: brand
            .and_then(|b| b.colors.first())
            .and_then(|c| crate::brand::rgb(c))
            .unwrap_or(CAPTION_HIGHLIGHT),
    };
    let file = dir.join("captions.ass");
    std::fs::write(&file, ass(cues, format, &look)).context("writing the captions")?;
    Ok(format!(
        "subtitles=filename={}:fontsdir={}",
        filter_path(&file)?,
        filter_path(&fonts)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_share_the_speech_by_length_and_pause_at_punctuation() {
        let words = timed_words("Meet Lumen, the lamp.", 1.0, 2.0);
        assert_eq!(words.len(), 4);
        assert!((words[0].start - 1.0).abs() < 1e-9);
        assert!((words[3].end - 3.0).abs() < 1e-9, "ends with the speech");
        assert!(words[2].start > words[1].end, "a pause after the comma");
        assert!(words[1].end - words[1].start > words[0].end - words[0].start);
    }

    #[test]
    fn phrases_break_at_punctuation_and_when_full() {
        let cues = phrases(timed_words(
            "Light that follows your day. Bright and cool at noon, then warm and soft at night",
            0.0,
            6.0,
        ));
        let texts: Vec<String> = cues.iter().map(Cue::text).collect();
        assert_eq!(
            texts,
            [
                "Light that follows your day.",
                "Bright and cool at noon,",
                "then warm and soft at night"
            ]
        );
        assert!(cues.windows(2).all(|pair| pair[0].end() <= pair[1].start()));
    }

    #[test]
    fn srt_and_vtt_carry_the_same_times() {
        let cues: Vec<TimedCaption> = phrases(timed_words("Order yours today.", 12.5, 1.25))
            .iter()
            .map(TimedCaption::from)
            .collect();
        assert_eq!(
            srt(&cues),
            "1\n00:00:12,500 --> 00:00:13,750\nOrder yours today.\n\n"
        );
        assert_eq!(
            vtt(&cues),
            "WEBVTT\n\n00:00:12.500 --> 00:00:13.750\nOrder yours today.\n\n"
        );
    }

    #[test]
    fn ass_keeps_user_text_from_becoming_tags() {
        let cues = phrases(timed_words(r"Save {\b1}50% now", 0.0, 2.0));
        let look = CaptionLook {
            style: CaptionStyle::LowerThird,
            font_family: "DejaVu Sans".into(),
            highlight: [255, 200, 0],
        };
        let file = ass(&cues, VideoFormat::Vertical, &look);
        assert!(
            file.contains("Dialogue: 0,0:00:00.00,0:00:02.00,Caption,,0,0,0,,Save (∖b1)50% now")
        );
        assert!(!file.contains("{\\b1}"));
        // 9:16: the lowest caption line sits above the bottom fifth.
        assert!(file.contains("Style: Caption,DejaVu Sans,65,"), "{file}");
    }

    #[test]
    fn word_by_word_lights_each_word_as_it_is_spoken() {
        let cues = phrases(timed_words("Meet Lumen", 0.0, 1.0));
        let look = CaptionLook {
            style: CaptionStyle::WordByWord,
            font_family: "DejaVu Sans".into(),
            highlight: [255, 200, 0],
        };
        let file = ass(&cues, VideoFormat::Square, &look);
        assert!(file.contains(",,{\\k44}Meet {\\k56}Lumen"), "{file}");
        assert!(
            file.contains("&H0000C8FF"),
            "the highlight in ASS's BGR order"
        );
    }
}
