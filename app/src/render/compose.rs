//! The final video in one FFmpeg run and one encode: every clip normalised to the
//! project's frame (scaled to cover, cropped, 30 fps, yuv420p) and given a stereo track
//! (its own or silence), chained with crossfades (each clip but the last holds its last
//! frame for the length of the crossfade, so that the video lasts exactly as long as its
//! clips add up to, the length the user planned), the product name and the call to action
//! drawn over the first and last seconds, and the music (looped or trimmed to fit, faded
//! out) mixed under the clips' sound. FFmpeg's `-progress` output reports how far it is.
//!
//! User text never enters the filter graph: each line is written to a file that
//! `drawtext` reads (`textfile=`) with expansion off.

use super::branding::{self, Brand, TextStyle};
use super::captions::{self, phrases, timed_words, CaptionStyle, Cue};
use super::mix::{self, VoiceLine};
use crate::generation::{
    ffmpeg::filter_path,
    offline::{wrap, FONT},
};
use crate::projects::VideoFormat;
use anyhow::{bail, Context};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

pub const FPS: u32 = 30;
pub const CROSSFADE_SECS: f64 = 0.5;

#[derive(Clone, Debug)]
pub struct Clip {
    pub path: PathBuf,
    pub duration_secs: f64,
    pub has_audio: bool,
}

#[derive(Clone, Debug)]
pub struct Music {
    pub path: PathBuf,
    /// 0–1, relative to the clips' own sound.
    pub volume: f64,
}

#[derive(Clone, Debug)]
pub struct Encoder {
    pub preset: String,
    pub crf: u32,
}

impl Default for Encoder {
    fn default() -> Self {
        Self {
            preset: "veryfast".into(),
            crf: 20,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Composition {
    pub clips: Vec<Clip>,
    pub format: VideoFormat,
    /// Shown near the top over the first seconds.
    pub title: Option<String>,
    /// Shown near the bottom over the last seconds.
    pub call_to_action: Option<String>,
    pub music: Option<Music>,
    /// The brand kit's look; plain white titles without one.
    pub brand: Option<Brand>,
    /// The voiceover lines, each placed where its scene starts.
    pub voices: Vec<VoiceLine>,
    /// Captions of the voiceover, burned in in this style (none: no captions).
    pub captions: Option<CaptionStyle>,
    pub encoder: Encoder,
}

impl Composition {
    /// The end card's length (none without clips to end).
    pub fn end_card_secs(&self) -> f64 {
        let clips: f64 = self.clips.iter().map(|c| c.duration_secs).sum();
        self.brand
            .as_ref()
            .and_then(|brand| brand.end_card_secs)
            .map_or(0.0, |secs| secs.min(clips / 3.0))
    }

    /// How long each part lasts in the video: the clips, shortened together by the end
    /// card's length (so that the video still lasts as planned), then the end card.
    pub fn slots(&self) -> Vec<f64> {
        let clips: f64 = self.clips.iter().map(|c| c.duration_secs).sum();
        let card = self.end_card_secs();
        let scale = if clips > 0.0 {
            (clips - card) / clips
        } else {
            1.0
        };
        let mut slots: Vec<f64> = self.clips.iter().map(|c| c.duration_secs * scale).collect();
        if card > 0.0 {
            slots.push(card);
        }
        slots
    }

    /// The crossfade actually used: half a second, less for very short parts.
    pub fn crossfade(&self) -> f64 {
        let slots = self.slots();
        let shortest = slots.iter().copied().fold(f64::INFINITY, f64::min);
        if slots.len() < 2 {
            0.0
        } else {
            CROSSFADE_SECS.min(shortest / 3.0)
        }
    }

    /// How long part `index` holds its last frame: the crossfade into the next part,
    /// which would otherwise shorten the video by its length.
    fn hold(&self, index: usize, parts: usize) -> f64 {
        if index + 1 < parts {
            self.crossfade()
        } else {
            0.0
        }
    }

    /// How long the render may take before it is killed: generous (the one pass runs at
    /// about twice real time on two cores; a busy machine is slower), yet finite.
    pub fn time_limit(&self) -> Duration {
        Duration::from_secs_f64(120.0 + 10.0 * self.duration_secs())
    }

    /// The captions the render burns in (and offers as SRT and WebVTT): each spoken
    /// line in phrases timed over its speech.
    pub fn caption_cues(&self) -> Vec<Cue> {
        if self.captions.is_none() {
            return Vec::new();
        }
        self.voices
            .iter()
            .flat_map(|line| phrases(timed_words(&line.text, line.start_secs, line.secs)))
            .collect()
    }

    /// Length of the result: the clips' lengths added up (the held frames make up for
    /// the overlaps of the crossfades, the end card's length comes out of the clips').
    pub fn duration_secs(&self) -> f64 {
        self.slots().iter().sum()
    }

    /// FFmpeg's arguments. Text files (and the font) are written into `text_dir`.
    pub fn ffmpeg_args(&self, text_dir: &Path, output: &Path) -> anyhow::Result<Vec<String>> {
        if self.clips.is_empty() {
            bail!("there are no clips to render");
        }
        if self.clips.iter().any(|c| c.duration_secs < 0.2) {
            bail!("a clip is too short to render");
        }
        let format = self.format;
        let (width, height) = format.dimensions();
        let slots = self.slots();
        let parts = slots.len();
        let xf = self.crossfade();
        let total = self.duration_secs();
        // Where the clips end and the end card (if any) starts.
        let scenes_end = total - self.end_card_secs();
        let mut args: Vec<String> = vec!["-hide_banner".into(), "-nostdin".into(), "-y".into()];
        for clip in &self.clips {
            args.extend(["-i".into(), clip.path.to_string_lossy().into_owned()]);
        }
        let mut next_input = self.clips.len();
        let music_input = self.music.as_ref().map(|music| {
            args.extend([
                "-stream_loop".into(),
                "-1".into(),
                "-i".into(),
                music.path.to_string_lossy().into_owned(),
            ]);
            next_input += 1;
            next_input - 1
        });
        let brand = self.brand.as_ref();
        let logo = brand.and_then(|b| b.logo.as_ref());
        // A still image: `overlay` repeats its one frame for as long as the video runs.
        let logo_input = logo.map(|logo| {
            args.extend(["-i".into(), logo.path.to_string_lossy().into_owned()]);
            next_input += 1;
            next_input - 1
        });
        let voice_inputs: Vec<(usize, f64)> = self
            .voices
            .iter()
            .map(|line| {
                args.extend(["-i".into(), line.path.to_string_lossy().into_owned()]);
                next_input += 1;
                (next_input - 1, line.start_secs)
            })
            .collect();

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

        let mut graph: Vec<String> = Vec::new();
        if let Some(input) = logo_input {
            // One copy for the corner, one for the end card if there is one.
            if self.end_card_secs() > 0.0 {
                graph.push(format!(
                    "[{input}:v]format=rgba,split=2[logo_corner][logo_card]"
                ));
            } else {
                graph.push(format!("[{input}:v]format=rgba[logo_corner]"));
            }
        }
        for (i, &d) in slots.iter().enumerate() {
            let hold = self.hold(i, parts);
            let held = if hold > 0.0 {
                format!(",tpad=stop_mode=clone:stop_duration={hold:.3}")
            } else {
                String::new()
            };
            let with_hold = d + hold;
            let Some(clip) = self.clips.get(i) else {
                // The end card, the last part: drawn here, silent.
                let brand = brand.context("an end card without a brand")?;
                let card = branding::end_card(
                    brand,
                    format,
                    d,
                    logo_input.map(|_| "logo_card"),
                    self.call_to_action.as_deref().or(self.title.as_deref()),
                    &style,
                    text_dir,
                )?;
                graph.push(format!("{card}[v{i}]"));
                graph.push(format!(
                    "aevalsrc=0:c=stereo:s=48000:d={d:.3},aformat=sample_fmts=fltp:channel_layouts=stereo[a{i}]"
                ));
                continue;
            };
            // Frame rate first (fewer frames to scale), then crop to the frame's shape in
            // the source's pixels and scale once: the cheapest way to "cover".
            graph.push(format!(
                "[{i}:v]fps={FPS},trim=duration={d:.3},setpts=PTS-STARTPTS,\
                 crop='min(iw,ih*{width}/{height})':'min(ih,iw*{height}/{width})',\
                 scale={width}:{height}:flags=bilinear,setsar=1,format=yuv420p{held}[v{i}]"
            ));
            if clip.has_audio {
                graph.push(format!(
                    "[{i}:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,\
                     apad,atrim=duration={with_hold:.3},asetpts=PTS-STARTPTS[a{i}]"
                ));
            } else {
                graph.push(format!(
                    "aevalsrc=0:c=stereo:s=48000:d={with_hold:.3},aformat=sample_fmts=fltp:channel_layouts=stereo[a{i}]"
                ));
            }
        }
        // Crossfades: each part is split into head, middle and tail; only the 0.5 s
        // overlaps go through `xfade` (tail of one part with head of the next), and the
        // pieces are concatenated. Chaining whole streams through `xfade` costs as much
        // again as decoding every input.
        let video = if parts == 1 {
            "v0".to_string()
        } else {
            let last = parts - 1;
            let mut pieces = Vec::new();
            for (i, &slot) in slots.iter().enumerate() {
                let d = slot + self.hold(i, parts);
                let head = i > 0;
                let tail = i < last;
                let outputs = 1 + head as usize + tail as usize;
                let mut names = vec![format!("[m{i}in]")];
                if head {
                    names.push(format!("[h{i}in]"));
                }
                if tail {
                    names.push(format!("[t{i}in]"));
                }
                graph.push(format!("[v{i}]split={outputs}{}", names.concat()));
                let start = if head { xf } else { 0.0 };
                let end = if tail { d - xf } else { d };
                graph.push(format!(
                    "[m{i}in]trim=start={start:.3}:end={end:.3},setpts=PTS-STARTPTS[m{i}]"
                ));
                if head {
                    graph.push(format!(
                        "[h{i}in]trim=duration={xf:.3},setpts=PTS-STARTPTS[h{i}]"
                    ));
                }
                if tail {
                    graph.push(format!(
                        "[t{i}in]trim=start={:.3}:end={d:.3},setpts=PTS-STARTPTS[t{i}]",
                        d - xf
                    ));
                }
            }
            for i in 1..=last {
                graph.push(format!(
                    "[t{}][h{i}]xfade=transition=fade:duration={xf:.3}:offset=0[x{i}]",
                    i - 1
                ));
            }
            for i in 0..=last {
                if i > 0 {
                    pieces.push(format!("[x{i}]"));
                }
                pieces.push(format!("[m{i}]"));
            }
            graph.push(format!(
                "{}concat=n={}:v=1:a=0[vcat]",
                pieces.concat(),
                pieces.len()
            ));
            "vcat".to_string()
        };
        let mut audio = "a0".to_string();
        for i in 1..parts {
            graph.push(format!(
                "[{audio}][a{i}]acrossfade=d={xf:.3}:c1=tri:c2=tri[ax{i}]"
            ));
            audio = format!("ax{i}");
        }

        // The logo in its corner over the scenes (the end card shows it large).
        let mut video = video;
        let logo_place = match (brand, logo) {
            (Some(brand), Some(logo)) => {
                let place = branding::logo_place(brand, logo, format);
                graph.push(format!(
                    "[logo_corner]scale={}:{}:flags=lanczos[logo_small]",
                    place.width, place.height
                ));
                graph.push(format!(
                    "[{video}][logo_small]overlay=x={}:y={}:enable='lt(t\\,{scenes_end:.3})'[vlogo]",
                    place.x, place.y
                ));
                video = "vlogo".into();
                Some(place)
            }
            _ => None,
        };

        // Titles, clear of the logo and inside the safe zone.
        let [safe_top, _, safe_bottom, _] = format.safe_insets();
        let h = height as f64;
        let mut overlays: Vec<String> = Vec::new();
        let short = width.min(height) as f64;
        let show = (scenes_end / 3.0).clamp(1.0, 3.5);
        if let Some(title) = self.title.as_deref().filter(|t| !t.trim().is_empty()) {
            let size = (short * 0.085).round();
            let lines = wrap(title, chars_per_line(width, size), 2);
            let (start, end) = (0.2, 0.2 + show);
            let mut top = (h * 0.09).max(h * safe_top);
            if let Some(place) = logo_place.filter(|p| p.corner.top()) {
                top = top.max((place.y + place.height) as f64 + h * 0.02);
            }
            overlays.extend(text_lines(
                text_dir, "title", &lines, &style, size, top, start, end,
            )?);
        }
        // With an end card the call to action is written on it, not over the last scene.
        let cta = self
            .call_to_action
            .as_deref()
            .filter(|t| !t.trim().is_empty() && self.end_card_secs() == 0.0);
        if let Some(cta) = cta {
            let size = (short * 0.07).round();
            let lines = wrap(cta, chars_per_line(width, size), 3);
            let (start, end) = ((scenes_end - show).max(0.0), scenes_end);
            let block = size * 1.3 * lines.len() as f64;
            let mut bottom = (h * 0.88).min(h * (1.0 - safe_bottom));
            if let Some(place) = logo_place.filter(|p| !p.corner.top()) {
                bottom = bottom.min(place.y as f64 - h * 0.02);
            }
            overlays.extend(text_lines(
                text_dir,
                "cta",
                &lines,
                &style,
                size,
                bottom - block,
                start,
                end,
            )?);
        }
        // Captions last, over everything: libass draws them with fontconfig's fallback
        // (any script, emoji), in the kit's font where it has the glyphs.
        let cues = self.caption_cues();
        if let (Some(style), false) = (self.captions, cues.is_empty()) {
            overlays.push(captions::burn_in(&cues, style, format, brand, text_dir)?);
        }
        if overlays.is_empty() {
            graph.push(format!("[{video}]null[vout]"));
        } else {
            graph.push(format!("[{video}]{}[vout]", overlays.join(",")));
        }
        let vout = "vout";

        // The sound: clips, voice, ducked music, normalised loudness.
        graph.extend(mix::graph(&mix::Sources {
            clips: &audio,
            music: music_input.zip(self.music.as_ref().map(|m| m.volume)),
            voices: voice_inputs,
            total_secs: total,
        }));
        let aout = "aout";

        args.extend([
            "-filter_complex".into(),
            graph.join(";"),
            "-map".into(),
            format!("[{vout}]"),
            "-map".into(),
            format!("[{aout}]"),
            "-c:v".into(),
            "libx264".into(),
            "-preset".into(),
            self.encoder.preset.clone(),
            "-crf".into(),
            self.encoder.crf.to_string(),
            "-pix_fmt".into(),
            "yuv420p".into(),
            "-r".into(),
            FPS.to_string(),
        ]);
        args.extend(mix::AUDIO_CODEC.map(String::from));
        args.extend([
            "-t".into(),
            format!("{total:.3}"),
            "-movflags".into(),
            "+faststart".into(),
            "-progress".into(),
            "pipe:1".into(),
            "-nostats".into(),
            "-loglevel".into(),
            "error".into(),
            output.to_string_lossy().into_owned(),
        ]);
        Ok(args)
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
