//! The creative work an ad is planned from: the brief, the mood boards and the scene plan,
//! with the rules they must follow (how many scenes, how long each clip may be). The
//! director that produces them (a language model or the offline one) sits behind `ssr`.

#[cfg(feature = "ssr")]
pub mod offline;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod timing;

use serde::{Deserialize, Serialize};

/// Fewest and most scenes in a storyboard.
pub const MIN_SCENES: usize = 5;
pub const MAX_SCENES: usize = 7;
/// Clip lengths the video model accepts, in whole seconds.
pub const MIN_CLIP_SECS: u32 = 3;
pub const MAX_CLIP_SECS: u32 = 10;
/// The ad's length unless the user picks another.
pub const DEFAULT_TARGET_SECS: u32 = 30;
/// Longest scene text a user may write.
pub const MAX_SCENE_TEXT_CHARS: usize = 400;
/// The longest voiceover line: a 10-second scene holds about 25 spoken words.
pub const MAX_VOICEOVER_CHARS: usize = 300;
/// How many mood boards are offered.
pub const MOOD_COUNT: usize = 3;

/// What the ad is for, extracted from the chat and editable by the user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brief {
    pub product_name: String,
    pub audience: String,
    pub emotional_tone: Vec<String>,
    pub visual_style: Vec<String>,
    pub key_messages: Vec<String>,
    pub call_to_action: String,
}

impl Brief {
    /// What is still missing before moods can be made, in the words shown to the user.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.product_name.trim().is_empty() {
            missing.push("the product name");
        }
        if self.audience.trim().is_empty() {
            missing.push("the audience");
        }
        if self.key_messages.iter().all(|m| m.trim().is_empty()) {
            missing.push("at least one key message");
        }
        if self.call_to_action.trim().is_empty() {
            missing.push("the call to action");
        }
        missing
    }

    /// How long the brief is in a director's prompt, for estimating what a call costs.
    pub fn prompt_chars(&self) -> usize {
        let lists = [&self.emotional_tone, &self.visual_style, &self.key_messages];
        self.product_name.len()
            + self.audience.len()
            + self.call_to_action.len()
            + lists
                .iter()
                .flat_map(|l| l.iter())
                .map(String::len)
                .sum::<usize>()
    }

    /// Trims every field and drops empty list items.
    pub fn tidy(mut self) -> Self {
        fn list(items: Vec<String>) -> Vec<String> {
            items
                .into_iter()
                .map(|item| item.trim().to_string())
                .filter(|item| !item.is_empty())
                .collect()
        }
        self.product_name = self.product_name.trim().to_string();
        self.audience = self.audience.trim().to_string();
        self.call_to_action = self.call_to_action.trim().to_string();
        self.emotional_tone = list(self.emotional_tone);
        self.visual_style = list(self.visual_style);
        self.key_messages = list(self.key_messages);
        self
    }
}

/// One of the mood boards a user picks from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mood {
    pub name: String,
    pub description: String,
    pub style_keywords: Vec<String>,
    /// Colours as `#rrggbb`, darkest first.
    pub palette: Vec<String>,
    pub aesthetic: String,
    /// Tempo of the music made for it.
    pub tempo_bpm: u32,
}

impl Mood {
    /// Whether every colour is `#rrggbb` and there are 3–6 of them.
    pub fn palette_is_valid(&self) -> bool {
        (3..=6).contains(&self.palette.len())
            && self.palette.iter().all(|colour| {
                colour.len() == 7
                    && colour.starts_with('#')
                    && colour[1..].chars().all(|c| c.is_ascii_hexdigit())
            })
    }
}

/// What a scene does in the ad.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SceneRole {
    Hook,
    Intro,
    Feature,
    CallToAction,
}

impl SceneRole {
    pub fn label(self) -> &'static str {
        match self {
            Self::Hook => "Hook",
            Self::Intro => "Product intro",
            Self::Feature => "Feature",
            Self::CallToAction => "Call to action",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hook => "hook",
            Self::Intro => "intro",
            Self::Feature => "feature",
            Self::CallToAction => "call_to_action",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Hook, Self::Intro, Self::Feature, Self::CallToAction]
            .into_iter()
            .find(|role| role.as_str() == text)
    }
}

/// A scene as planned: what is said and shown, and for how long.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedScene {
    pub role: SceneRole,
    /// The words of the scene: on-screen copy or voice line.
    pub text: String,
    /// What the picture shows, the prompt for its seed image and clip.
    pub visual: String,
    pub duration_secs: u32,
    /// Whether the user's product is in the picture (its photo guides the seed image);
    /// a scene without it is a pure mood shot.
    #[serde(default = "shown")]
    pub shows_product: bool,
    /// What the voice says over the scene (empty: silence); fitted to its length.
    #[serde(default)]
    pub voiceover: String,
}

fn shown() -> bool {
    true
}

impl SceneRole {
    /// Whether a director shows the product in a scene of this role by default: every
    /// scene but the opening hook, which sets the mood before the product appears.
    pub fn shows_product(self) -> bool {
        self != Self::Hook
    }
}

/// Why a plan or a duration change cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("a storyboard has {MIN_SCENES} to {MAX_SCENES} scenes, not {0}")]
    SceneCount(usize),
    #[error("a scene lasts {MIN_CLIP_SECS} to {MAX_CLIP_SECS} seconds, not {0}")]
    ClipLength(u32),
    #[error("{count} scenes cannot add up to {target} seconds with clips of {MIN_CLIP_SECS}–{MAX_CLIP_SECS} seconds")]
    Unreachable { count: usize, target: u32 },
    #[error("scene {0} has no text")]
    EmptyText(usize),
    #[error("scene {0}'s text is longer than {MAX_SCENE_TEXT_CHARS} characters")]
    TextTooLong(usize),
}

/// Whether `count` scenes of allowed lengths can add up to `target` seconds.
pub fn reachable(count: usize, target: u32) -> bool {
    let count = count as u32;
    count * MIN_CLIP_SECS <= target && target <= count * MAX_CLIP_SECS
}

/// Splits `target` seconds into whole, allowed clip lengths in proportion to `weights`
/// (largest remainders get the spare seconds), so that they add up exactly.
pub fn balance(weights: &[f64], target: u32) -> Result<Vec<u32>, PlanError> {
    let count = weights.len();
    if !reachable(count, target) {
        return Err(PlanError::Unreachable { count, target });
    }
    let total: f64 = weights.iter().map(|w| w.max(0.01)).sum();
    let ideal: Vec<f64> = weights
        .iter()
        .map(|w| w.max(0.01) / total * target as f64)
        .collect();
    let mut lengths: Vec<u32> = ideal
        .iter()
        .map(|x| (x.floor() as u32).clamp(MIN_CLIP_SECS, MAX_CLIP_SECS))
        .collect();
    // Hand out or take back seconds one at a time, where the ideal is furthest away.
    loop {
        let sum: u32 = lengths.iter().sum();
        if sum == target {
            return Ok(lengths);
        }
        let grow = sum < target;
        let pick = (0..count)
            .filter(|&i| {
                if grow {
                    lengths[i] < MAX_CLIP_SECS
                } else {
                    lengths[i] > MIN_CLIP_SECS
                }
            })
            .max_by(|&a, &b| {
                let gap = |i: usize| {
                    if grow {
                        ideal[i] - lengths[i] as f64
                    } else {
                        lengths[i] as f64 - ideal[i]
                    }
                };
                gap(a).total_cmp(&gap(b)).then(b.cmp(&a))
            })
            .expect("reachable() guarantees room to adjust");
        if grow {
            lengths[pick] += 1;
        } else {
            lengths[pick] -= 1;
        }
    }
}

/// Sets scene `index` to `secs` and re-balances the others so the total stays `target`,
/// keeping their proportions. Fails (changing nothing) when that is impossible.
pub fn rebalance_with(
    lengths: &[u32],
    index: usize,
    secs: u32,
    target: u32,
) -> Result<Vec<u32>, PlanError> {
    if !(MIN_CLIP_SECS..=MAX_CLIP_SECS).contains(&secs) {
        return Err(PlanError::ClipLength(secs));
    }
    let others: Vec<f64> = lengths
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != index)
        .map(|(_, &len)| len as f64)
        .collect();
    let rest = target.checked_sub(secs).ok_or(PlanError::Unreachable {
        count: lengths.len(),
        target,
    })?;
    let balanced = balance(&others, rest).map_err(|_| PlanError::Unreachable {
        count: lengths.len(),
        target,
    })?;
    let mut balanced = balanced.into_iter();
    Ok((0..lengths.len())
        .map(|i| {
            if i == index {
                secs
            } else {
                balanced.next().unwrap_or(MIN_CLIP_SECS)
            }
        })
        .collect())
}

/// Checks a plan against the rules: scene count, clip lengths, total, texts.
pub fn validate(scenes: &[PlannedScene], target: u32) -> Result<(), PlanError> {
    if !(MIN_SCENES..=MAX_SCENES).contains(&scenes.len()) {
        return Err(PlanError::SceneCount(scenes.len()));
    }
    for (i, scene) in scenes.iter().enumerate() {
        if !(MIN_CLIP_SECS..=MAX_CLIP_SECS).contains(&scene.duration_secs) {
            return Err(PlanError::ClipLength(scene.duration_secs));
        }
        if scene.text.trim().is_empty() {
            return Err(PlanError::EmptyText(i + 1));
        }
        if scene.text.chars().count() > MAX_SCENE_TEXT_CHARS {
            return Err(PlanError::TextTooLong(i + 1));
        }
    }
    let total: u32 = scenes.iter().map(|s| s.duration_secs).sum();
    if total != target {
        return Err(PlanError::Unreachable {
            count: scenes.len(),
            target,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_lengths_add_up_and_stay_in_range() {
        for count in MIN_SCENES..=MAX_SCENES {
            for target in [15, 20, 30, 45, 60] {
                let weights: Vec<f64> = (0..count).map(|i| 1.0 + (i % 3) as f64 * 0.4).collect();
                match balance(&weights, target) {
                    Ok(lengths) => {
                        assert_eq!(lengths.iter().sum::<u32>(), target, "{count} {target}");
                        assert!(lengths
                            .iter()
                            .all(|l| (MIN_CLIP_SECS..=MAX_CLIP_SECS).contains(l)));
                    }
                    Err(PlanError::Unreachable { .. }) => assert!(!reachable(count, target)),
                    Err(other) => panic!("{other}"),
                }
            }
        }
    }

    #[test]
    fn balance_follows_the_weights() {
        let lengths = balance(&[1.0, 2.0, 1.0, 1.0, 1.0], 30).unwrap();
        assert_eq!(lengths, vec![5, 10, 5, 5, 5]);
    }

    #[test]
    fn changing_one_duration_rebalances_the_others() {
        let lengths = vec![5, 5, 5, 5, 5, 5];
        let changed = rebalance_with(&lengths, 2, 10, 30).unwrap();
        assert_eq!(changed[2], 10);
        assert_eq!(changed.iter().sum::<u32>(), 30);
        assert_eq!(
            rebalance_with(&lengths, 2, 11, 30),
            Err(PlanError::ClipLength(11))
        );
        // Five scenes of at least 3 s leave no room for a 10 s one in 20 s.
        assert!(matches!(
            rebalance_with(&[4, 4, 4, 4, 4, 4], 0, 10, 24),
            Err(PlanError::Unreachable { .. })
        ));
    }

    #[test]
    fn plans_are_checked() {
        let scene = |secs| PlannedScene {
            role: SceneRole::Feature,
            text: "Text".into(),
            visual: "A picture".into(),
            duration_secs: secs,
            shows_product: true,
            voiceover: String::new(),
        };
        assert_eq!(validate(&vec![scene(6); 5], 30), Ok(()));
        assert_eq!(
            validate(&vec![scene(6); 4], 24),
            Err(PlanError::SceneCount(4))
        );
        assert_eq!(
            validate(&vec![scene(2); 5], 10),
            Err(PlanError::ClipLength(2))
        );
        let mut empty = vec![scene(6); 5];
        empty[3].text = "  ".into();
        assert_eq!(validate(&empty, 30), Err(PlanError::EmptyText(4)));
        assert!(validate(&vec![scene(5); 5], 30).is_err());
    }

    #[test]
    fn a_brief_says_what_is_missing() {
        let brief = Brief {
            product_name: "Lumen".into(),
            ..Brief::default()
        };
        assert_eq!(
            brief.missing(),
            vec![
                "the audience",
                "at least one key message",
                "the call to action"
            ]
        );
    }
}
