//! Fitting scene lengths to the voiceover before a clip is paid for: the clip lengths a
//! video model can make, how long a spoken line needs its scene to be, and the choice of
//! lengths that keeps the storyboard's total while every line fits and no clip already
//! asked for changes length.

use super::{MAX_CLIP_SECS, MIN_CLIP_SECS};
use serde::{Deserialize, Serialize};

/// The clip lengths (whole seconds) a video model makes: a range, or only some values
/// (many models offer just 5 and 10 seconds). Always within the storyboard's own rule of
/// [`MIN_CLIP_SECS`]–[`MAX_CLIP_SECS`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClipLengths {
    Range { min: u32, max: u32 },
    Only(Vec<u32>),
}

impl Default for ClipLengths {
    fn default() -> Self {
        Self::Range {
            min: MIN_CLIP_SECS,
            max: MAX_CLIP_SECS,
        }
    }
}

impl ClipLengths {
    /// Reads `2-12` (a range) or `5,10` (only those), as `REELSMITH_CLIP_LENGTHS` is set.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        let number = |text: &str| {
            text.trim()
                .parse::<u32>()
                .map_err(|_| format!("“{}” is not a whole number of seconds", text.trim()))
        };
        let lengths = if let Some((min, max)) = spec.split_once('-') {
            let (min, max) = (number(min)?, number(max)?);
            if min > max {
                return Err(format!("the range {min}-{max} is empty"));
            }
            Self::Range { min, max }
        } else {
            let mut values = spec.split(',').map(number).collect::<Result<Vec<_>, _>>()?;
            values.sort_unstable();
            values.dedup();
            Self::Only(values)
        };
        if lengths.allowed().is_empty() {
            return Err(format!(
                "none of “{spec}” is within the storyboard's {MIN_CLIP_SECS}–{MAX_CLIP_SECS} seconds"
            ));
        }
        Ok(lengths)
    }

    /// Every length a scene may have, shortest first.
    pub fn allowed(&self) -> Vec<u32> {
        (MIN_CLIP_SECS..=MAX_CLIP_SECS)
            .filter(|&secs| self.allows(secs))
            .collect()
    }

    pub fn allows(&self, secs: u32) -> bool {
        let model = match self {
            Self::Range { min, max } => (*min..=*max).contains(&secs),
            Self::Only(values) => values.contains(&secs),
        };
        model && (MIN_CLIP_SECS..=MAX_CLIP_SECS).contains(&secs)
    }

    /// In the product's words: "3 to 10 seconds", "5 or 10 seconds".
    pub fn describe(&self) -> String {
        let allowed = self.allowed();
        match (self, allowed.as_slice()) {
            (_, [one]) => format!("{one} seconds"),
            (Self::Range { .. }, [first, .., last]) => format!("{first} to {last} seconds"),
            (_, [rest @ .., last]) => {
                let rest: Vec<String> = rest.iter().map(u32::to_string).collect();
                format!("{} or {last} seconds", rest.join(", "))
            }
            (_, []) => "no length".into(),
        }
    }
}

/// The breath before a line starts in its scene, and the room it keeps at the end (the
/// crossfade into the next scene starts there).
pub const VOICE_LEAD_SECS: f64 = 0.2;
const VOICE_TAIL_SECS: f64 = 0.3;
/// The end card's seconds come out of the clips (at most about a tenth of them), so a
/// scene plays a little shorter than planned when the brand kit has one.
const END_CARD_SHARE: f64 = 0.1;

/// The shortest whole scene length in which a line of `voice_ms` is heard in full.
pub fn needed_secs(voice_ms: u32) -> u32 {
    let spoken = f64::from(voice_ms) / 1000.0;
    ((spoken + VOICE_LEAD_SECS + VOICE_TAIL_SECS) / (1.0 - END_CARD_SHARE) - 1e-9).ceil() as u32
}

/// What a scene's length must respect while the others are fitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SceneTiming {
    pub secs: u32,
    /// The scene's spoken line needs at least this long.
    pub min_secs: u32,
    /// Its clip is made or asked for: its length stays, or that clip would be paid twice.
    pub locked: bool,
}

/// Lengths for every scene that add up to `target`, are lengths the model makes, keep
/// every line within its scene and every locked scene as it is; of those, the ones
/// closest to the scenes' present lengths (least squared change, which spreads a change
/// over several scenes rather than piling it on one; then fewest scenes changed).
/// `None` when no such lengths exist.
pub fn fit(scenes: &[SceneTiming], target: u32, lengths: &ClipLengths) -> Option<Vec<u32>> {
    let allowed = lengths.allowed();
    let target = target as usize;
    // Cost so far to reach each total, and the choice that got there, scene by scene.
    const NONE: (u32, u32) = (u32::MAX, u32::MAX);
    let mut best = vec![NONE; target + 1];
    best[0] = (0, 0);
    let mut choices: Vec<Vec<Option<(usize, u32)>>> = Vec::with_capacity(scenes.len());
    for scene in scenes {
        let options: Vec<u32> = if scene.locked {
            vec![scene.secs]
        } else {
            allowed
                .iter()
                .copied()
                .filter(|&secs| secs >= scene.min_secs)
                .collect()
        };
        let mut next = vec![NONE; target + 1];
        let mut chose = vec![None; target + 1];
        for (total, &(moved, changed)) in best.iter().enumerate() {
            if moved == u32::MAX {
                continue;
            }
            for &secs in &options {
                let sum = total + secs as usize;
                if sum > target {
                    continue;
                }
                let cost = (
                    moved + secs.abs_diff(scene.secs).pow(2),
                    changed + u32::from(secs != scene.secs),
                );
                if cost < next[sum] {
                    next[sum] = cost;
                    chose[sum] = Some((total, secs));
                }
            }
        }
        best = next;
        choices.push(chose);
    }
    if best[target] == NONE {
        return None;
    }
    let mut fitted = vec![0; scenes.len()];
    let mut total = target;
    for (i, chose) in choices.iter().enumerate().rev() {
        let (before, secs) = chose[total]?;
        fitted[i] = secs;
        total = before;
    }
    Some(fitted)
}

/// Why a line does not fit its scene, as the scene card says it.
pub fn too_long_message(voice_ms: u32, scene_secs: u32) -> String {
    format!(
        "This line runs {:.1} s; the scene is {scene_secs} s: shorten the line or lengthen the scene.",
        f64::from(voice_ms) / 1000.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free(secs: u32) -> SceneTiming {
        SceneTiming {
            secs,
            min_secs: 0,
            locked: false,
        }
    }

    #[test]
    fn lengths_are_read_from_the_setting() {
        assert_eq!(
            ClipLengths::parse("2-12").unwrap().allowed(),
            (3..=10).collect::<Vec<_>>()
        );
        assert_eq!(ClipLengths::parse("10, 5").unwrap().allowed(), vec![5, 10]);
        assert_eq!(
            ClipLengths::parse("5,10").unwrap().describe(),
            "5 or 10 seconds"
        );
        assert_eq!(ClipLengths::default().describe(), "3 to 10 seconds");
        assert!(ClipLengths::parse("12,15").is_err());
        assert!(ClipLengths::parse("five").is_err());
        assert!(ClipLengths::parse("8-4").is_err());
    }

    #[test]
    fn a_line_needs_its_length_and_some_room() {
        assert_eq!(needed_secs(2_000), 3);
        assert_eq!(needed_secs(4_200), 6);
        assert_eq!(needed_secs(7_400), 9);
        assert!(needed_secs(9_000) > 10);
    }

    #[test]
    fn a_long_line_takes_seconds_from_the_free_scenes_and_keeps_the_target() {
        let mut scenes = vec![free(5), free(6), free(6), free(6), free(7)];
        scenes[1].min_secs = 9;
        let fitted = fit(&scenes, 30, &ClipLengths::default()).unwrap();
        assert_eq!(fitted.iter().sum::<u32>(), 30);
        assert_eq!(fitted[1], 9);
        // The three seconds come from three other scenes, a second each.
        let moved: Vec<u32> = fitted
            .iter()
            .zip(&scenes)
            .map(|(a, s)| a.abs_diff(s.secs))
            .collect();
        assert_eq!(moved.iter().sum::<u32>(), 6);
        assert_eq!(moved.iter().filter(|&&m| m == 1).count(), 3, "{fitted:?}");
    }

    #[test]
    fn locked_scenes_and_other_lines_are_kept() {
        let scenes = [
            SceneTiming {
                secs: 5,
                min_secs: 4,
                locked: true,
            },
            SceneTiming {
                secs: 5,
                min_secs: 8,
                locked: false,
            },
            SceneTiming {
                secs: 6,
                min_secs: 6,
                locked: false,
            },
            free(7),
            free(7),
        ];
        let fitted = fit(&scenes, 30, &ClipLengths::default()).unwrap();
        assert_eq!(fitted[0], 5);
        assert!(fitted[1] >= 8 && fitted[2] >= 6);
        assert_eq!(fitted.iter().sum::<u32>(), 30);
    }

    #[test]
    fn only_the_models_lengths_are_used() {
        let only = ClipLengths::Only(vec![5, 10]);
        let scenes = vec![free(4), free(6), free(6), free(6), free(8)];
        let fitted = fit(&scenes, 30, &only).unwrap();
        assert!(fitted.iter().all(|s| [5, 10].contains(s)), "{fitted:?}");
        assert_eq!(fitted.iter().sum::<u32>(), 30);
        // Six scenes of 5 or 10 cannot make 32 seconds.
        assert_eq!(fit(&[free(5); 6], 32, &only), None);
    }

    #[test]
    fn a_line_that_cannot_fit_anywhere_is_refused() {
        let mut scenes = vec![free(6); 5];
        scenes[0].locked = true;
        scenes[1].min_secs = 11;
        assert_eq!(fit(&scenes, 30, &ClipLengths::default()), None);
        // Every scene needing 7 s cannot fit 30 seconds in five scenes.
        let full = vec![
            SceneTiming {
                secs: 6,
                min_secs: 7,
                locked: false
            };
            5
        ];
        assert_eq!(fit(&full, 30, &ClipLengths::default()), None);
    }

    #[test]
    fn lengths_that_already_fit_do_not_move() {
        let scenes = vec![free(4), free(5), free(6), free(7), free(8)];
        assert_eq!(
            fit(&scenes, 30, &ClipLengths::default()),
            Some(vec![4, 5, 6, 7, 8])
        );
    }

    #[test]
    fn the_warning_names_both_lengths() {
        assert_eq!(
            too_long_message(7_400, 5),
            "This line runs 7.4 s; the scene is 5 s: shorten the line or lengthen the scene."
        );
    }
}
