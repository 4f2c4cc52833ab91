//! The smart render's plan: the video as a list of pieces, in frames, each either copied
//! from a normalised clip as it is or made afresh (the crossfades, the end card, and the
//! spans where something is drawn over the picture). Pure arithmetic, so it is tested
//! without FFmpeg.

use super::super::compose::{Composition, FPS};

/// A keyframe every this many frames (half a second) in a normalised clip: a copied
/// span starts on one, so what is made afresh around an overlay or a crossfade is never
/// more than this much longer than the overlay or the crossfade.
pub const GOP: u32 = 15;

/// Where each part of the video starts, in frames.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    /// The first frame of each part (the clips, then the end card if any), and the
    /// video's length last.
    pub starts: Vec<u32>,
    /// The crossfade into every part but the first, in frames.
    pub crossfade: u32,
    /// How many parts are clips (an end card follows them).
    pub clips: usize,
}

fn frames(secs: f64) -> u32 {
    (secs * FPS as f64).round().max(0.0) as u32
}

impl Timeline {
    /// The composition's parts laid out the way the one-pass render lays them out: part
    /// `i` fills its slot, and the crossfade into it plays over its first frames (the
    /// part before holds its last frame meanwhile).
    pub fn of(composition: &Composition) -> Self {
        let mut starts = vec![0];
        let mut at = 0.0;
        for slot in composition.slots() {
            at += slot;
            starts.push(frames(at));
        }
        Self {
            starts,
            crossfade: frames(composition.crossfade()),
            clips: composition.clips.len(),
        }
    }

    pub fn total(&self) -> u32 {
        *self.starts.last().unwrap_or(&0)
    }

    fn parts(&self) -> usize {
        self.starts.len() - 1
    }

    /// How many frames part `i` shows.
    fn length(&self, part: usize) -> u32 {
        self.starts[part + 1] - self.starts[part]
    }
}

/// Where the frames of a piece made afresh come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// Normalised clip `clip`, from its frame `from`.
    Clip { clip: usize, from: u32 },
    /// The crossfade into clip `into`: the last frame clip `into - 1` shows (its frame
    /// `held`) fading into the first frames of clip `into`.
    Crossfade { into: usize, held: u32 },
    /// The end card, the crossfade into it (from frame `held` of the last clip) first.
    EndCard { held: u32 },
}

/// One piece of the video, frames `start..end` of it.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    /// Frames `from..to` of normalised clip `clip` as they are (`from` is a keyframe).
    Copy {
        start: u32,
        end: u32,
        clip: usize,
        from: u32,
    },
    /// Frames made afresh, with the overlays drawn.
    Make {
        start: u32,
        end: u32,
        source: Source,
    },
}

impl Piece {
    pub fn frames(&self) -> u32 {
        match self {
            Piece::Copy { start, end, .. } | Piece::Make { start, end, .. } => end - start,
        }
    }

    pub fn is_made(&self) -> bool {
        matches!(self, Piece::Make { .. })
    }
}

/// The pieces of the video, in order, or `None` when a normalised clip has fewer frames
/// than its part shows (the one-pass render then makes the video). `drawn(a, b)` tells
/// whether anything is drawn over the video between `a` and `b` seconds.
pub fn pieces(
    timeline: &Timeline,
    clip_frames: &[u32],
    drawn: impl Fn(f64, f64) -> bool,
) -> Option<Vec<Piece>> {
    let crossfade = timeline.crossfade;
    let mut pieces: Vec<Piece> = Vec::new();
    let secs = |frame: u32| frame as f64 / FPS as f64;
    for part in 0..timeline.parts() {
        let start = timeline.starts[part];
        let end = timeline.starts[part + 1];
        let held = (part > 0).then(|| timeline.length(part - 1) - 1);
        if part >= timeline.clips {
            pieces.push(Piece::Make {
                start,
                end,
                source: Source::EndCard { held: held? },
            });
            continue;
        }
        if *clip_frames.get(part)? < timeline.length(part) {
            return None;
        }
        // The crossfade into this clip is made whole.
        let mut local = 0;
        if let (Some(held), true) = (held, crossfade > 0) {
            pieces.push(Piece::Make {
                start,
                end: start + crossfade,
                source: Source::Crossfade { into: part, held },
            });
            local = crossfade;
        }
        // The rest in chunks between keyframes: a chunk is copied when it starts on a
        // keyframe and nothing is drawn over any of its frames.
        let length = timeline.length(part);
        while local < length {
            let next = ((local / GOP + 1) * GOP).min(length);
            let copied = local % GOP == 0 && !drawn(secs(start + local), secs(start + next - 1));
            let piece = if copied {
                Piece::Copy {
                    start: start + local,
                    end: start + next,
                    clip: part,
                    from: local,
                }
            } else {
                Piece::Make {
                    start: start + local,
                    end: start + next,
                    source: Source::Clip {
                        clip: part,
                        from: local,
                    },
                }
            };
            // A chunk continuing the piece before (same clip, same kind) joins it.
            match (pieces.last_mut(), &piece) {
                (
                    Some(Piece::Copy {
                        end: last_end,
                        clip: last_clip,
                        ..
                    }),
                    Piece::Copy { clip, end, .. },
                ) if last_clip == clip => *last_end = *end,
                (
                    Some(Piece::Make {
                        end: last_end,
                        source:
                            Source::Clip {
                                clip: last_clip, ..
                            },
                        ..
                    }),
                    Piece::Make {
                        source: Source::Clip { clip, .. },
                        end,
                        ..
                    },
                ) if last_clip == clip => *last_end = *end,
                _ => pieces.push(piece),
            }
            local = next;
        }
    }
    Some(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeline(lengths: &[u32], crossfade: u32, clips: usize) -> Timeline {
        let mut starts = vec![0];
        for length in lengths {
            starts.push(starts.last().unwrap() + length);
        }
        Timeline {
            starts,
            crossfade,
            clips,
        }
    }

    fn check_covers(pieces: &[Piece], total: u32) {
        let mut at = 0;
        for piece in pieces {
            let (start, end) = match piece {
                Piece::Copy { start, end, .. } | Piece::Make { start, end, .. } => (*start, *end),
            };
            assert_eq!(start, at, "pieces follow each other: {pieces:?}");
            assert!(end > start);
            at = end;
        }
        assert_eq!(at, total, "the pieces fill the video");
    }

    #[test]
    fn only_crossfades_are_made_when_nothing_is_drawn() {
        // Three 5 s clips, crossfades of 15 frames.
        let timeline = timeline(&[150, 150, 150], 15, 3);
        let pieces = pieces(&timeline, &[150, 150, 150], |_, _| false).unwrap();
        check_covers(&pieces, 450);
        let made: Vec<&Piece> = pieces.iter().filter(|p| p.is_made()).collect();
        assert_eq!(made.len(), 2);
        assert_eq!(
            made[0],
            &Piece::Make {
                start: 150,
                end: 165,
                source: Source::Crossfade { into: 1, held: 149 }
            }
        );
        assert_eq!(
            pieces[2],
            Piece::Copy {
                start: 165,
                end: 300,
                clip: 1,
                from: 15
            },
            "the rest of a clip is copied from the keyframe after its crossfade"
        );
    }

    #[test]
    fn what_is_drawn_over_is_made_to_the_keyframes_around_it() {
        let timeline = timeline(&[150, 140], 15, 2);
        // A title from 0.2 s to 3.7 s, a call to action over the last 1.5 s.
        let drawn = |a: f64, b: f64| (a <= 3.7 && b >= 0.2) || (b >= 8.16 && a <= 9.66);
        let pieces = pieces(&timeline, &[150, 150], drawn).unwrap();
        check_covers(&pieces, 290);
        assert_eq!(
            pieces[0],
            Piece::Make {
                start: 0,
                end: 120,
                source: Source::Clip { clip: 0, from: 0 }
            },
            "the title's 3.7 s are made up to the keyframe at 4 s"
        );
        assert_eq!(
            pieces[1],
            Piece::Copy {
                start: 120,
                end: 150,
                clip: 0,
                from: 120
            }
        );
        // Clip 1: crossfade 150..165, copy from its frame 15 up to the keyframe before
        // the call to action (8.16 s is frame 244.8, clip frame 94.8: chunk 90..105).
        assert_eq!(
            pieces[3],
            Piece::Copy {
                start: 165,
                end: 240,
                clip: 1,
                from: 15
            }
        );
        assert_eq!(
            pieces[4],
            Piece::Make {
                start: 240,
                end: 290,
                source: Source::Clip { clip: 1, from: 90 }
            }
        );
        let made: u32 = pieces
            .iter()
            .filter(|p| p.is_made())
            .map(Piece::frames)
            .sum();
        assert_eq!(made, 120 + 15 + 50);
    }

    #[test]
    fn an_end_card_is_made_whole_and_a_short_clip_means_one_pass() {
        let timeline = timeline(&[150, 150, 60], 15, 2);
        let pieces = pieces(&timeline, &[150, 150], |_, _| false).unwrap();
        check_covers(&pieces, 360);
        assert_eq!(
            pieces.last(),
            Some(&Piece::Make {
                start: 300,
                end: 360,
                source: Source::EndCard { held: 149 }
            })
        );
        assert_eq!(super::pieces(&timeline, &[150, 149], |_, _| false), None);
    }

    #[test]
    fn the_timeline_follows_the_slots() {
        use crate::projects::VideoFormat;
        use crate::render::compose::{Clip, Encoder};
        let clip = |secs: f64| Clip {
            path: "clip.mp4".into(),
            duration_secs: secs,
            has_audio: false,
        };
        let composition = Composition {
            clips: vec![clip(5.0), clip(4.5), clip(6.0)],
            format: VideoFormat::Vertical,
            title: None,
            call_to_action: None,
            music: None,
            brand: None,
            voices: vec![],
            captions: None,
            encoder: Encoder::default(),
        };
        let timeline = Timeline::of(&composition);
        assert_eq!(timeline.starts, vec![0, 150, 285, 465]);
        assert_eq!(timeline.crossfade, 15);
        assert_eq!(timeline.total(), 465);
    }
}
