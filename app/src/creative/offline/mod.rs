//! The offline creative director: no language model, no network. It asks for the brief
//! one question at a time and fills it from the answers, picks three moods from a library
//! of art directions by how well they fit the brief's tone, and plans scenes from the
//! brief's messages. Everything is deterministic for a given seed.

mod answers;
mod directions;
mod scenes;

use super::{
    balance,
    ssr::{scene_at, Director},
    Brief, Mood, PlannedScene, SceneRole, MAX_SCENES, MIN_SCENES,
};
use crate::generation::{
    llm::{ChatMessage, Role, TokenStream},
    offline::Sequence,
    ssr::GenerationError,
};
pub use answers::{brief_from_answers, product_name};
use answers::{clip, lower_first};
use directions::{Direction, DIRECTIONS};
use futures::StreamExt;
use scenes::{fit_words, pick, text_options, visual_for, voiceover_for, weight};
use std::time::Duration;

/// The questions, in the order the brief's fields are filled.
const QUESTIONS: [&str; 5] = [
    "Hi! I'm your creative director for this ad. Let's start with the product: what is it called, and what does it do?",
    "Great. Who is the ad for? Describe the audience you want to reach.",
    "How should people feel when they watch it? Give me two or three words for the tone (for example: calm, confident, playful).",
    "What are the key messages? List the two to four things the ad must get across, one per line or separated by semicolons.",
    "Last one: what should viewers do at the end? That's our call to action (for example: \"Order yours today\").",
];

pub struct OfflineDirector {
    /// Pause between streamed words, so a reply reads as it is written.
    token_delay: Duration,
}

impl OfflineDirector {
    pub fn new() -> Self {
        Self {
            token_delay: Duration::from_millis(18),
        }
    }

    /// Streams replies without pauses (tests).
    pub fn instant() -> Self {
        Self {
            token_delay: Duration::ZERO,
        }
    }
}

impl Default for OfflineDirector {
    fn default() -> Self {
        Self::new()
    }
}

fn answers(history: &[ChatMessage]) -> Vec<&str> {
    history
        .iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.content.trim())
        .collect()
}

/// FNV-1a over the brief's words: a stable number to mix into seeds.
fn fingerprint(parts: &[&str]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for part in parts {
        for byte in part.bytes().chain([0]) {
            hash ^= byte as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn brief_seed(brief: &Brief, seed: u64) -> Sequence {
    Sequence(
        seed ^ fingerprint(&[
            &brief.product_name,
            &brief.audience,
            &brief.call_to_action,
            &brief.key_messages.join("|"),
            &brief.emotional_tone.join("|"),
        ]),
    )
}

#[async_trait::async_trait]
impl Director for OfflineDirector {
    fn offline(&self) -> bool {
        true
    }

    async fn reply(&self, history: &[ChatMessage]) -> Result<TokenStream, GenerationError> {
        let answered = answers(history);
        let text = match QUESTIONS.get(answered.len()) {
            Some(question) if answered.is_empty() => question.to_string(),
            Some(question) => {
                let nods = ["Got it.", "Thanks!", "Love it.", "Noted."];
                let nod = nods[answered.len() % nods.len()];
                // The first question's greeting is only for the first message.
                let question = question.trim_start_matches("Great. ");
                format!("{nod} {question}")
            }
            None => {
                let brief = brief_from_answers(&answered);
                format!(
                    "Here's the brief I have:\n\n• Product: {}\n• Audience: {}\n• Tone: {}\n• Key messages: {}\n• Call to action: {}\n\nEdit anything in the summary, then continue to the moods.",
                    brief.product_name,
                    brief.audience,
                    brief.emotional_tone.join(", "),
                    brief.key_messages.join("; "),
                    brief.call_to_action
                )
            }
        };
        // Words with their following space, so the pieces join back to the text.
        let mut pieces = Vec::new();
        let mut start = 0;
        for (at, c) in text.char_indices() {
            if c == ' ' || c == '\n' {
                pieces.push(text[start..at + c.len_utf8()].to_string());
                start = at + c.len_utf8();
            }
        }
        pieces.push(text[start..].to_string());
        let delay = self.token_delay;
        Ok(futures::stream::iter(pieces)
            .then(move |piece| async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Ok(piece)
            })
            .boxed())
    }

    async fn extract_brief(&self, history: &[ChatMessage]) -> Result<Brief, GenerationError> {
        Ok(brief_from_answers(&answers(history)))
    }

    async fn moods(
        &self,
        brief: &Brief,
        count: usize,
        avoid: &[String],
        seed: u64,
    ) -> Result<Vec<Mood>, GenerationError> {
        let mut rng = brief_seed(brief, seed);
        let words: Vec<String> = brief
            .emotional_tone
            .iter()
            .chain(&brief.visual_style)
            .map(|w| w.to_lowercase())
            .collect();
        let mut scored: Vec<(u64, &Direction)> = DIRECTIONS
            .iter()
            .filter(|d| !avoid.iter().any(|name| name == d.name))
            .map(|d| {
                let fit = words
                    .iter()
                    .filter(|w| d.tags.iter().any(|t| w.contains(t)))
                    .count() as u64;
                // Fit first; the seed breaks ties and adds variety among near fits.
                (fit * 1000 + rng.below(700), d)
            })
            .collect();
        scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
        let audience = clip(&brief.audience, 60);
        Ok(scored
            .into_iter()
            .take(count)
            .map(|(_, d)| {
                let mut keywords: Vec<String> = d.keywords.iter().map(|k| k.to_string()).collect();
                if let Some(style) = brief.visual_style.iter().find(|s| !keywords.contains(s)) {
                    keywords.push(style.clone());
                }
                Mood {
                    name: d.name.to_string(),
                    description: if audience.is_empty() {
                        format!("{} — {}.", d.description, brief.product_name)
                    } else {
                        format!(
                            "{}: {} as {} will feel it.",
                            d.description,
                            brief.product_name,
                            lower_first(&audience)
                        )
                    },
                    style_keywords: keywords,
                    palette: d.palette.iter().map(|c| c.to_string()).collect(),
                    aesthetic: d.aesthetic.to_string(),
                    tempo_bpm: d.tempo_bpm,
                }
            })
            .collect())
    }

    async fn plan(
        &self,
        brief: &Brief,
        mood: &Mood,
        target_secs: u32,
        seed: u64,
    ) -> Result<Vec<PlannedScene>, GenerationError> {
        let mut rng = brief_seed(brief, seed);
        let features = brief
            .key_messages
            .len()
            .clamp(MIN_SCENES - 3, MAX_SCENES - 3);
        let mut roles = vec![SceneRole::Hook, SceneRole::Intro];
        roles.extend(std::iter::repeat_n(SceneRole::Feature, features));
        roles.push(SceneRole::CallToAction);
        let weights: Vec<f64> = roles.iter().map(|&r| weight(r)).collect();
        let lengths = balance(&weights, target_secs)
            .map_err(|error| GenerationError::Refused(error.to_string()))?;
        Ok(roles
            .iter()
            .zip(lengths)
            .enumerate()
            .map(|(i, (&role, duration_secs))| {
                let options = text_options(brief, role, i.saturating_sub(2));
                let text = pick(&options, &mut rng).to_string();
                PlannedScene {
                    role,
                    visual: visual_for(brief, mood, role, &text),
                    voiceover: voiceover_for(
                        brief,
                        role,
                        i.saturating_sub(2),
                        &text,
                        duration_secs,
                    ),
                    text,
                    duration_secs,
                    shows_product: role.shows_product(),
                }
            })
            .collect())
    }

    async fn rewrite(
        &self,
        brief: &Brief,
        mood: &Mood,
        scenes: &[PlannedScene],
        index: usize,
        seed: u64,
    ) -> Result<PlannedScene, GenerationError> {
        let current = scene_at(scenes, index)?;
        let feature = scenes[..index]
            .iter()
            .filter(|s| s.role == SceneRole::Feature)
            .count();
        let options = text_options(brief, current.role, feature);
        let start = brief_seed(brief, seed).below(options.len() as u64) as usize;
        let text = (0..options.len())
            .map(|k| &options[(start + k) % options.len()])
            .find(|text| **text != current.text)
            .cloned()
            .unwrap_or_else(|| current.text.clone());
        Ok(PlannedScene {
            role: current.role,
            visual: visual_for(brief, mood, current.role, &text),
            voiceover: voiceover_for(brief, current.role, feature, &text, current.duration_secs),
            text,
            duration_secs: current.duration_secs,
            shows_product: current.shows_product,
        })
    }

    async fn shorten_line(
        &self,
        _brief: &Brief,
        line: &str,
        secs: u32,
    ) -> Result<String, GenerationError> {
        // A rough cut by words: the offline voice is measured again once it speaks.
        Ok(fit_words(line, secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::creative::{validate, MOOD_COUNT};

    fn conversation() -> Vec<ChatMessage> {
        let answers = [
            "It's called Lumen, a desk lamp that adapts its light to your day.",
            "Remote workers and students who spend long hours at a desk",
            "Calm, focused and a little premium",
            "Light that follows your circadian rhythm\nNo glare on screens\nSet up in 30 seconds",
            "Order yours today at lumen.example.",
        ];
        let mut history = Vec::new();
        for (question, answer) in QUESTIONS.iter().zip(answers) {
            history.push(ChatMessage::new(Role::Assistant, *question));
            history.push(ChatMessage::new(Role::User, answer));
        }
        history
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn names_are_found_in_answers() {
        assert_eq!(product_name("It's called Lumen, a desk lamp"), "Lumen");
        assert_eq!(product_name("Lumen — a desk lamp"), "Lumen");
        assert_eq!(product_name("Brewly is a coffee subscription"), "Brewly");
        assert_eq!(
            product_name("our app's name is \"Pathfinder\"."),
            "Pathfinder"
        );
        assert_eq!(product_name("oat milk"), "Oat milk");
    }

    #[test]
    fn the_director_asks_each_question_then_summarises() {
        let director = OfflineDirector::instant();
        let history = conversation();
        let reply = |n: usize| {
            block_on(async {
                let stream = director.reply(&history[..n]).await.unwrap();
                let pieces: Vec<String> = stream.map(|p| p.unwrap()).collect().await;
                assert!(pieces.len() > 3, "streamed in pieces");
                pieces.concat()
            })
        };
        assert_eq!(reply(0), QUESTIONS[0]);
        assert!(reply(2).contains("Who is the ad for?"));
        let summary = reply(history.len());
        assert!(summary.contains("Product: Lumen"), "{summary}");
        assert!(summary.contains("continue to the moods"));
    }

    #[test]
    fn the_brief_is_filled_from_the_answers() {
        let brief = block_on(OfflineDirector::instant().extract_brief(&conversation())).unwrap();
        assert_eq!(brief.product_name, "Lumen");
        assert_eq!(
            brief.audience,
            "Remote workers and students who spend long hours at a desk"
        );
        assert_eq!(
            brief.emotional_tone,
            vec!["calm", "focused", "a little premium"]
        );
        assert_eq!(brief.key_messages.len(), 3);
        assert_eq!(brief.key_messages[1], "No glare on screens");
        assert_eq!(brief.call_to_action, "Order yours today at lumen.example");
        assert!(!brief.visual_style.is_empty());
        assert!(brief.missing().is_empty());
    }

    #[test]
    fn moods_are_distinct_fit_the_tone_and_repeat_for_a_seed() {
        let director = OfflineDirector::instant();
        let brief = block_on(director.extract_brief(&conversation())).unwrap();
        let moods = block_on(director.moods(&brief, MOOD_COUNT, &[], 7)).unwrap();
        assert_eq!(moods.len(), 3);
        let names: Vec<&str> = moods.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names[0], "Nordic Calm", "a calm, focused brief: {names:?}");
        assert!(names[1] != names[2] && names[0] != names[1] && names[0] != names[2]);
        assert!(moods.iter().all(Mood::palette_is_valid));
        assert_ne!(moods[0].palette, moods[1].palette);
        assert_eq!(moods, block_on(director.moods(&brief, 3, &[], 7)).unwrap());
        let avoid: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let other = block_on(director.moods(&brief, 1, &avoid, 7)).unwrap();
        assert!(!names.contains(&other[0].name.as_str()));
    }

    #[test]
    fn plans_follow_the_rules() {
        let director = OfflineDirector::instant();
        let brief = block_on(director.extract_brief(&conversation())).unwrap();
        let mood = block_on(director.moods(&brief, 1, &[], 1))
            .unwrap()
            .remove(0);
        for seed in 0..20 {
            for target in [20, 30, 45] {
                let plan = block_on(director.plan(&brief, &mood, target, seed)).unwrap();
                validate(&plan, target).unwrap();
                assert_eq!(plan.len(), 6, "hook, intro, three messages, CTA");
                assert_eq!(plan[0].role, SceneRole::Hook);
                assert_eq!(plan[5].role, SceneRole::CallToAction);
                assert!(plan[1].text.contains("Lumen"));
                assert!(plan[5].text.contains("Order yours today"));
                assert!(plan.iter().all(|s| s.visual.contains(&mood.aesthetic)));
            }
        }
        let plan = block_on(director.plan(&brief, &mood, 30, 3)).unwrap();
        assert_eq!(plan, block_on(director.plan(&brief, &mood, 30, 3)).unwrap());
        let rewritten = block_on(director.rewrite(&brief, &mood, &plan, 2, 9)).unwrap();
        assert_ne!(rewritten.text, plan[2].text);
        assert_eq!(rewritten.duration_secs, plan[2].duration_secs);
        assert_eq!(rewritten.role, SceneRole::Feature);
    }

    #[test]
    fn a_sparse_brief_still_plans_five_scenes() {
        let brief = brief_from_answers(&["Brewly", "coffee lovers", "", "", "Subscribe"]);
        let director = OfflineDirector::instant();
        let mood = block_on(director.moods(&brief, 3, &[], 0))
            .unwrap()
            .remove(0);
        let plan = block_on(director.plan(&brief, &mood, 30, 0)).unwrap();
        validate(&plan, 30).unwrap();
        assert_eq!(plan.len(), 5);
    }
}
