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

use super::branding::{self, Brand};
use super::captions::{phrases, timed_words, CaptionStyle, Cue};
use super::mix::{self, VoiceLine};
use super::overlays::Overlays;
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

/// The process's encoder: its configured preset (see [`crate::generation::ffmpeg::preset`]) at a quality
/// that looks clean on a phone.
impl Default for Encoder {
    fn default() -> Self {
        Self {
            preset: crate::generation::ffmpeg::preset().into(),
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

    /// Checks that the clips can be rendered at all.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.clips.is_empty() {
            bail!("there are no clips to render");
        }
        if self.clips.iter().any(|c| c.duration_secs < 0.2) {
            bail!("a clip is too short to render");
        }
        Ok(())
    }

    /// Adds the inputs of the sound after the clips (inputs `0..clips`): the music and
    /// the voice lines. Answers the music's input and each line's input and start.
    pub(super) fn sound_inputs(
        &self,
        args: &mut Vec<String>,
    ) -> (Option<usize>, Vec<(usize, f64)>) {
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
        let voice_inputs = self
            .voices
            .iter()
            .map(|line| {
                args.extend(["-i".into(), line.path.to_string_lossy().into_owned()]);
                next_input += 1;
                (next_input - 1, line.start_secs)
            })
            .collect();
        (music_input, voice_inputs)
    }

    /// The filters of the sound, ending in `[aout]`: each clip's own (or silence) for as
    /// long as it plays, crossfaded into the next, then the voice and the music mixed in
    /// (see `mix.rs`). Clip `i` is input `i`.
    pub(super) fn sound_graph(
        &self,
        music_input: Option<usize>,
        voice_inputs: Vec<(usize, f64)>,
    ) -> Vec<String> {
        let slots = self.slots();
        let parts = slots.len();
        let xf = self.crossfade();
        let mut graph = Vec::new();
        for (i, &d) in slots.iter().enumerate() {
            let with_hold = d + self.hold(i, parts);
            if self.clips.get(i).is_some_and(|clip| clip.has_audio) {
                graph.push(format!(
                    "[{i}:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,\
                     apad,atrim=duration={with_hold:.3},asetpts=PTS-STARTPTS[a{i}]"
                ));
            } else {
                // A silent clip, or the end card.
                graph.push(format!(
                    "aevalsrc=0:c=stereo:s=48000:d={with_hold:.3},aformat=sample_fmts=fltp:channel_layouts=stereo[a{i}]"
                ));
            }
        }
        let mut audio = "a0".to_string();
        for i in 1..parts {
            graph.push(format!(
                "[{audio}][a{i}]acrossfade=d={xf:.3}:c1=tri:c2=tri[ax{i}]"
            ));
            audio = format!("ax{i}");
        }
        graph.extend(mix::graph(&mix::Sources {
            clips: &audio,
            music: music_input.zip(self.music.as_ref().map(|m| m.volume)),
            voices: voice_inputs,
            total_secs: self.duration_secs(),
        }));
        graph
    }

    /// The encoder's arguments for the picture, shared by every file the render makes.
    pub(super) fn video_codec(&self) -> Vec<String> {
        vec![
            "-c:v".into(),
            "libx264".into(),
            "-preset".into(),
            self.encoder.preset.clone(),
            "-crf".into(),
            self.encoder.crf.to_string(),
            "-pix_fmt".into(),
            "yuv420p".into(),
        ]
    }

    /// FFmpeg's arguments. Text files (and the font) are written into `text_dir`.
    pub fn ffmpeg_args(&self, text_dir: &Path, output: &Path) -> anyhow::Result<Vec<String>> {
        self.check()?;
        let format = self.format;
        let slots = self.slots();
        let parts = slots.len();
        let xf = self.crossfade();
        let total = self.duration_secs();
        let mut args: Vec<String> = vec!["-hide_banner".into(), "-nostdin".into(), "-y".into()];
        for clip in &self.clips {
            args.extend(["-i".into(), clip.path.to_string_lossy().into_owned()]);
        }
        let (music_input, voice_inputs) = self.sound_inputs(&mut args);
        let overlays = Overlays::of(self, text_dir)?;
        // A still image: `overlay` repeats its one frame for as long as the video runs.
        let logo_input = overlays.logo_file().map(|logo| {
            args.extend(["-i".into(), logo.to_string_lossy().into_owned()]);
            self.clips.len() + music_input.is_some() as usize + voice_inputs.len()
        });

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
            if i >= self.clips.len() {
                // The end card, the last part: drawn here.
                let card =
                    self.end_card(&overlays, d, logo_input.map(|_| "logo_card"), text_dir)?;
                graph.push(format!("{card}[v{i}]"));
                continue;
            }
            graph.push(format!(
                "[{i}:v]{}{held}[v{i}]",
                normalise_filter(format, Some(d))
            ));
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
        // The logo in its corner, the titles and the captions.
        graph.extend(overlays.chain(&video, logo_input.map(|_| "logo_corner"), "vout"));

        // The sound: clips, voice, ducked music.
        graph.extend(self.sound_graph(music_input, voice_inputs));

        args.extend([
            "-filter_complex".into(),
            graph.join(";"),
            "-map".into(),
            "[vout]".into(),
            "-map".into(),
            "[aout]".into(),
        ]);
        args.extend(self.video_codec());
        args.extend(["-r".into(), FPS.to_string()]);
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

    /// The end card's filter chain, `seconds` long, without its output label (`logo`
    /// names the logo's stream).
    pub(super) fn end_card(
        &self,
        overlays: &Overlays,
        seconds: f64,
        logo: Option<&str>,
        text_dir: &Path,
    ) -> anyhow::Result<String> {
        let brand = self.brand.as_ref().context("an end card without a brand")?;
        branding::end_card(
            brand,
            self.format,
            seconds,
            logo,
            self.call_to_action.as_deref().or(self.title.as_deref()),
            &overlays.style,
            text_dir,
        )
    }
}

/// A clip's picture in the project's frame: 30 fps (first: fewer frames to scale), cut
/// to the frame's shape in the source's pixels and scaled once (the cheapest way to
/// "cover"), square pixels, yuv420p; `secs` long if given.
pub(super) fn normalise_filter(format: VideoFormat, secs: Option<f64>) -> String {
    let (width, height) = format.dimensions();
    let trim = secs
        .map(|d| format!("trim=duration={d:.3},setpts=PTS-STARTPTS,"))
        .unwrap_or_default();
    format!(
        "fps={FPS},{trim}crop='min(iw,ih*{width}/{height})':'min(ih,iw*{height}/{width})',\
         scale={width}:{height}:flags=bilinear,setsar=1,format=yuv420p"
    )
}
