//! The render's sound, in the same FFmpeg pass as the picture: the clips' own sound, the
//! voiceover lines each at its scene's start, and the music looped or trimmed to fit and
//! faded out, ducked under the voice (sidechain compression keyed by the voice). Then
//! the loudness is set to the social platforms' target, −14 LUFS integrated with a true
//! peak of at most −1 dBTP, by audio-only passes over the rendered file, the picture
//! copied as it is: measure, try the gain through a true-peak limiter (which takes a
//! little loudness off the peaks), then apply the gain that lands on the target. One-pass
//! `loudnorm` misses the target by 2–3 LU on a short ad, and its linear mode falls a full
//! unit short when the peaks would pass the ceiling; this lands within a tenth of one.

use crate::generation::ffmpeg;
use anyhow::Context;
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// Integrated loudness of the result, in LUFS.
pub const TARGET_LUFS: f64 = -14.0;
/// The true-peak ceiling, in dBTP.
pub const TRUE_PEAK_DBTP: f64 = -1.0;

/// One spoken line, placed in the video.
#[derive(Clone, Debug)]
pub struct VoiceLine {
    pub path: PathBuf,
    /// Where it starts in the video, in seconds.
    pub start_secs: f64,
    /// What it says, and how long the speech lasts: the captions are timed from them.
    pub text: String,
    pub secs: f64,
}

/// The inputs the sound is made of, by their FFmpeg input index.
pub struct Sources<'a> {
    /// The label of the clips' chained sound.
    pub clips: &'a str,
    /// The music's input and its volume (0–1).
    pub music: Option<(usize, f64)>,
    /// Each voice line's input and start.
    pub voices: Vec<(usize, f64)>,
    /// The video's length.
    pub total_secs: f64,
}

/// How every render's sound is encoded.
pub const AUDIO_CODEC: [&str; 6] = ["-c:a", "aac", "-b:a", "192k", "-ar", "48000"];

const STEREO: &str = "aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo";

/// The filters that make the sound, ending in the label `aout`.
pub fn graph(sources: &Sources) -> Vec<String> {
    let total = sources.total_secs;
    let mut graph = Vec::new();
    let mut layers = vec![format!("[{}]", sources.clips)];
    let voice = match sources.voices.len() {
        0 => None,
        count => {
            for (j, &(input, start)) in sources.voices.iter().enumerate() {
                let delay = (start.max(0.0) * 1000.0).round() as u64;
                graph.push(format!(
                    "[{input}:a]{STEREO},adelay=delays={delay}:all=1,apad,\
                     atrim=duration={total:.3},asetpts=PTS-STARTPTS[voice{j}]"
                ));
            }
            if count == 1 {
                Some("voice0".to_string())
            } else {
                let inputs: String = (0..count).map(|j| format!("[voice{j}]")).collect();
                graph.push(format!(
                    "{inputs}amix=inputs={count}:duration=longest:dropout_transition=0:normalize=0[voices]"
                ));
                Some("voices".to_string())
            }
        }
    };
    if let Some((input, volume)) = sources.music {
        let volume = volume.clamp(0.0, 1.0);
        let fade = total.min(2.0);
        graph.push(format!(
            "[{input}:a]{STEREO},atrim=duration={total:.3},asetpts=PTS-STARTPTS,volume={volume:.3},\
             afade=t=out:st={:.3}:d={fade:.3}[music]",
            total - fade
        ));
        match &voice {
            // The voice is the key: while it speaks the music drops by up to ~12 dB,
            // coming back over 0.4 s in the pauses.
            Some(voice) => {
                graph.push(format!("[{voice}]asplit=2[voice_mix][voice_key]"));
                graph.push(
                    "[music][voice_key]sidechaincompress=threshold=0.015:ratio=8:attack=15:release=400[ducked]"
                        .to_string(),
                );
                layers.push("[ducked]".into());
                layers.push("[voice_mix]".into());
            }
            None => layers.push("[music]".into()),
        }
    } else if let Some(voice) = &voice {
        layers.push(format!("[{voice}]"));
    }
    let mix = if layers.len() == 1 {
        format!("{}anull", layers[0])
    } else {
        format!(
            "{}amix=inputs={}:duration=first:dropout_transition=0:normalize=0",
            layers.concat(),
            layers.len()
        )
    };
    graph.push(format!("{mix}[aout]"));
    graph
}

/// The loudness target as `loudnorm` takes it.
fn target() -> String {
    format!("loudnorm=I={TARGET_LUFS}:TP={TRUE_PEAK_DBTP}:LRA=11")
}

/// Headroom below the true-peak ceiling for the limiter: AAC encoding overshoots the
/// limited peaks by a few tenths of a decibel.
const LIMITER_HEADROOM_DB: f64 = 1.0;
/// The most a render is made louder: anything quieter is near silence.
const MAX_GAIN_DB: f64 = 30.0;

/// One gain of `gain_db`, then a limiter on the 4× oversampled sound (which sees the
/// peaks between samples) holding them under the true-peak ceiling. `loudnorm`'s own
/// linear mode gives up gain instead when the peaks would pass the ceiling, and a short
/// ad with a voice over music then lands a full unit under the target.
/// The gain and limiter applied to reach the target (what a sound was made with names
/// it too: see `smart/pieces.rs`).
pub(crate) fn level(gain_db: f64) -> String {
    let gain = gain_db.min(MAX_GAIN_DB);
    let limit = 10f64.powf((TRUE_PEAK_DBTP - LIMITER_HEADROOM_DB) / 20.0);
    format!(
        "volume={gain:.2}dB,aresample=192000,\
         alimiter=limit={limit:.4}:attack=1:release=60:level=false:latency=true,{STEREO}"
    )
}

/// The integrated loudness of `video`'s sound after `filter` (if any), in LUFS; `None`
/// for silence, which has none.
async fn loudness(
    video: &Path,
    filter: Option<&str>,
    limit: Duration,
) -> anyhow::Result<Option<f64>> {
    let measure = format!("{}:print_format=json", target());
    let report = ffmpeg::report_of(
        &[
            "-i".into(),
            video.to_string_lossy().into_owned(),
            "-vn".into(),
            "-af".into(),
            match filter {
                Some(filter) => format!("{filter},{measure}"),
                None => measure,
            },
            "-f".into(),
            "null".into(),
            "-".into(),
        ],
        limit,
    )
    .await?;
    let json = report
        .rfind('{')
        .and_then(|start| {
            report[start..]
                .find('}')
                .map(|end| &report[start..=start + end])
        })
        .context("loudnorm did not report its measure")?;
    let measured: serde_json::Value = serde_json::from_str(json).context("loudnorm's measure")?;
    Ok(measured["input_i"]
        .as_str()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite()))
}

/// Sets the loudness of `video` (an MP4 with one audio track) to the target: measures
/// it, finds the gain that reaches it through the limiter (the limiter takes a little
/// loudness off the peaks: one audio-only trial measures how much), then re-encodes the
/// sound alone with that gain, copying the picture. Silence is left as it is.
pub async fn normalise_loudness(video: &Path, limit: Duration) -> anyhow::Result<()> {
    let Some(input_i) = loudness(video, None, limit).await? else {
        return Ok(());
    };
    let mut gain = TARGET_LUFS - input_i;
    if let Some(limited) = loudness(video, Some(&level(gain)), limit).await? {
        gain += TARGET_LUFS - limited;
    }
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let normalised = video.with_extension("loud.mp4");
    let mut args: Vec<String> = vec![
        "-i".into(),
        path(video),
        "-map".into(),
        "0".into(),
        "-c:v".into(),
        "copy".into(),
        "-af".into(),
        level(gain),
    ];
    args.extend(AUDIO_CODEC.map(String::from));
    args.extend(["-movflags".into(), "+faststart".into(), path(&normalised)]);
    ffmpeg::run_within(&args, limit).await?;
    tokio::fs::rename(&normalised, video)
        .await
        .context("keeping the normalised video")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_music_is_keyed_by_the_voice_only_when_both_are_there() {
        let both = graph(&Sources {
            clips: "ax2",
            music: Some((3, 0.4)),
            voices: vec![(4, 0.0), (5, 2.5)],
            total_secs: 6.0,
        })
        .join(";");
        assert!(both.contains("adelay=delays=2500:all=1"), "{both}");
        assert!(
            both.contains("[music][voice_key]sidechaincompress"),
            "{both}"
        );
        assert!(
            both.contains("[ax2][ducked][voice_mix]amix=inputs=3"),
            "{both}"
        );
        assert!(both.ends_with("[aout]"));
        let music_only = graph(&Sources {
            clips: "a0",
            music: Some((1, 0.3)),
            voices: vec![],
            total_secs: 4.0,
        })
        .join(";");
        assert!(!music_only.contains("sidechaincompress"));
        assert!(music_only.contains("[a0][music]amix=inputs=2"));
        let plain = graph(&Sources {
            clips: "a0",
            music: None,
            voices: vec![],
            total_secs: 4.0,
        })
        .join(";");
        assert_eq!(plain, "[a0]anull[aout]");
        assert_eq!(target(), "loudnorm=I=-14:TP=-1:LRA=11");
    }
}
