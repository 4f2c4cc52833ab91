//! The offline creative director: no language model, no network. It asks for the brief
//! one question at a time and fills it from the answers, picks three moods from a library
//! of art directions by how well they fit the brief's tone, and plans scenes from the
//! brief's messages. Everything is deterministic for a given seed.

use super::{balance, ssr::Director, Brief, Mood, PlannedScene, SceneRole, MAX_SCENES, MIN_SCENES};
use crate::generation::{
    llm::{ChatMessage, Role, TokenStream},
    offline::Sequence,
    ssr::GenerationError,
};
use futures::StreamExt;
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

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        // Keep acronyms and names ("AI", "iPhone") as they are.
        Some(first) if chars.clone().next().is_some_and(|c| c.is_lowercase()) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_string(),
    }
}

fn clip(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    match cut.rfind(' ') {
        Some(space) if space > max_chars / 2 => cut[..space].to_string(),
        _ => cut,
    }
}

fn strip_end(text: &str) -> &str {
    text.trim().trim_end_matches(['.', '!', ' '])
}

/// The product's name from an answer like "It's called Lumen, a desk lamp that…",
/// "Lumen — a desk lamp" or just "Lumen".
pub fn product_name(answer: &str) -> String {
    let answer = answer.trim();
    let lower = answer.to_lowercase();
    for marker in ["called ", "named ", "name is "] {
        if let Some(at) = lower.find(marker) {
            let rest = &answer[at + marker.len()..];
            let name: String = rest
                .split([',', '.', ';', ':', '!', '?', '(', '\n', '—', '–'])
                .next()
                .unwrap_or("")
                .split(" - ")
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(['"', '\'', '“', '”'])
                .to_string();
            if !name.is_empty() {
                return clip(&name, 60);
            }
        }
    }
    let first = answer
        .split([',', '.', ';', ':', '!', '?', '(', '\n', '—', '–'])
        .next()
        .unwrap_or(answer)
        .split(" - ")
        .next()
        .unwrap_or(answer);
    let first = first
        .split(" is ")
        .next()
        .unwrap_or(first)
        .trim()
        .trim_matches(['"', '\'', '“', '”']);
    capitalise(&clip(first, 60))
}

fn split_list(answer: &str, max: usize) -> Vec<String> {
    let answer = answer.trim();
    let mut items: Vec<&str> = answer
        .split(['\n', ';', '•'])
        .map(|item| item.trim().trim_start_matches(['-', '*', ' ']).trim())
        .filter(|item| !item.is_empty())
        .collect();
    if items.len() == 1 {
        items = answer.split(". ").map(str::trim).collect();
    }
    if items.len() == 1 {
        items = answer.split(',').map(str::trim).collect();
    }
    items
        .into_iter()
        .map(|item| capitalise(strip_end(item)))
        .filter(|item| !item.is_empty())
        .map(|item| clip(&item, 120))
        .take(max)
        .collect()
}

fn tone_words(answer: &str) -> Vec<String> {
    answer
        .split([',', ';', '/', '&', '\n', '.'])
        .flat_map(|part| part.split(" and "))
        .map(|word| strip_end(word).trim().to_lowercase())
        .filter(|word| !word.is_empty() && word.chars().count() <= 30)
        .take(4)
        .collect()
}

/// An art direction the offline director can propose.
struct Direction {
    name: &'static str,
    tags: &'static [&'static str],
    description: &'static str,
    keywords: &'static [&'static str],
    palette: [&'static str; 5],
    aesthetic: &'static str,
    tempo_bpm: u32,
}

const DIRECTIONS: &[Direction] = &[
    Direction {
        name: "Golden Hour",
        tags: &[
            "warm",
            "nostalgic",
            "friendly",
            "cosy",
            "cozy",
            "intimate",
            "heartfelt",
            "authentic",
            "honest",
            "human",
        ],
        description: "Sunlit, unhurried moments that feel lived-in and true",
        keywords: &["warm backlight", "film grain", "soft focus", "lived-in"],
        palette: ["#2b1a12", "#7a3e1d", "#d9822b", "#f2c14e", "#fbeed7"],
        aesthetic: "late-afternoon sun, slow dolly moves, shallow depth of field",
        tempo_bpm: 84,
    },
    Direction {
        name: "Neon Pulse",
        tags: &[
            "energetic",
            "exciting",
            "bold",
            "young",
            "fun",
            "dynamic",
            "fast",
            "electric",
            "vibrant",
        ],
        description: "High-energy night colour with quick, rhythmic cuts",
        keywords: &["neon glow", "high contrast", "motion blur", "night city"],
        palette: ["#0b0221", "#3a0ca3", "#f72585", "#4cc9f0", "#e0fbfc"],
        aesthetic: "saturated neon against deep shadow, whip pans, punchy close-ups",
        tempo_bpm: 124,
    },
    Direction {
        name: "Nordic Calm",
        tags: &[
            "calm",
            "minimal",
            "clean",
            "simple",
            "serene",
            "peaceful",
            "relaxed",
            "trustworthy",
            "focused",
        ],
        description: "Quiet, airy spaces where the product has room to breathe",
        keywords: &[
            "negative space",
            "soft daylight",
            "matte textures",
            "minimal",
        ],
        palette: ["#1f2a30", "#51646e", "#a3b8c2", "#dfe7ea", "#f7f9fa"],
        aesthetic: "diffuse window light, symmetrical framing, slow locked-off shots",
        tempo_bpm: 72,
    },
    Direction {
        name: "Studio Luxe",
        tags: &[
            "premium",
            "elegant",
            "luxurious",
            "luxury",
            "sophisticated",
            "exclusive",
            "refined",
            "confident",
        ],
        description: "Dark, polished studio light that makes every detail precious",
        keywords: &[
            "rim light",
            "macro detail",
            "glossy reflections",
            "editorial",
        ],
        palette: ["#0d0d0d", "#3b3024", "#8c6d46", "#cfb997", "#f4efe6"],
        aesthetic: "low-key studio lighting, slow orbiting camera, macro textures",
        tempo_bpm: 90,
    },
    Direction {
        name: "Fresh Market",
        tags: &[
            "healthy",
            "natural",
            "fresh",
            "optimistic",
            "green",
            "sustainable",
            "organic",
            "happy",
            "uplifting",
        ],
        description: "Bright, natural freshness with greens and morning light",
        keywords: &["morning light", "natural textures", "botanical", "crisp"],
        palette: ["#12351f", "#2d6a4f", "#74c69d", "#d8f3dc", "#fffbea"],
        aesthetic: "bright morning light, handheld warmth, overhead table shots",
        tempo_bpm: 104,
    },
    Direction {
        name: "Urban Edge",
        tags: &[
            "confident",
            "edgy",
            "rebellious",
            "bold",
            "powerful",
            "gritty",
            "strong",
            "determined",
        ],
        description: "Concrete, contrast and attitude for a product that stands its ground",
        keywords: &["hard shadows", "concrete", "street style", "graphic"],
        palette: ["#111111", "#2f2f2f", "#e63946", "#a8a8a8", "#f1faee"],
        aesthetic: "hard midday light, low angles, graphic compositions",
        tempo_bpm: 96,
    },
    Direction {
        name: "Pastel Pop",
        tags: &[
            "playful", "fun", "cheerful", "friendly", "joyful", "quirky", "light", "happy",
            "youthful",
        ],
        description: "Candy colours and bouncy framing that make people smile",
        keywords: &["pastel sets", "flat lay", "bouncy motion", "playful props"],
        palette: ["#3d314a", "#ff8fab", "#ffc6ff", "#bde0fe", "#fdffb6"],
        aesthetic: "even bright light, colour-blocked sets, playful stop-motion feel",
        tempo_bpm: 116,
    },
    Direction {
        name: "Deep Tech",
        tags: &[
            "innovative",
            "smart",
            "futuristic",
            "modern",
            "trustworthy",
            "precise",
            "reliable",
            "professional",
            "inspiring",
        ],
        description: "Cool blues and precise light for something cleverly made",
        keywords: &[
            "cool gradients",
            "glass and light",
            "clean UI glow",
            "precision",
        ],
        palette: ["#03045e", "#0077b6", "#00b4d8", "#90e0ef", "#caf0f8"],
        aesthetic: "cool key light, slow push-ins, reflections on glass",
        tempo_bpm: 110,
    },
];

fn style_for_tone(tones: &[String]) -> Vec<String> {
    let mut styles: Vec<String> = Vec::new();
    for tone in tones {
        if let Some(direction) = DIRECTIONS.iter().find(|d| d.tags.contains(&tone.as_str())) {
            for keyword in direction.keywords.iter().take(2) {
                if !styles.iter().any(|s| s == keyword) {
                    styles.push((*keyword).to_string());
                }
            }
        }
    }
    if styles.is_empty() {
        styles = vec!["clean product shots".into(), "soft natural light".into()];
    }
    styles.truncate(4);
    styles
}

fn pick<'a>(options: &'a [String], rng: &mut Sequence) -> &'a str {
    &options[rng.below(options.len() as u64) as usize]
}

/// The texts a scene of `role` can have, for the brief; `feature` picks the key message.
fn text_options(brief: &Brief, role: SceneRole, feature: usize) -> Vec<String> {
    let product = &brief.product_name;
    let tone = brief
        .emotional_tone
        .first()
        .map(|t| t.to_lowercase())
        .unwrap_or_else(|| "effortless".into());
    let cta = strip_end(&brief.call_to_action);
    match role {
        SceneRole::Hook => vec![
            format!("What if every day felt this {tone}?"),
            format!(
                "{}, this one's for you.",
                capitalise(&clip(&brief.audience, 60))
            ),
            "You deserve better than ordinary.".into(),
            "The moment you've been waiting for.".into(),
        ],
        SceneRole::Intro => vec![
            format!("Meet {product}."),
            format!("Introducing {product}."),
            format!("Say hello to {product}."),
            format!("This is {product}."),
        ],
        SceneRole::Feature => {
            let message = brief
                .key_messages
                .get(feature % brief.key_messages.len().max(1))
                .cloned()
                .unwrap_or_else(|| format!("{product}, made to be {tone}"));
            let message = strip_end(&message).to_string();
            vec![
                format!("{message}."),
                format!("{product}: {}.", lower_first(&message)),
                format!("Made for you: {}.", lower_first(&message)),
                format!("{message}, every single day."),
            ]
        }
        SceneRole::CallToAction => vec![
            format!("{cta}."),
            format!("{cta} — {product}."),
            format!("Don't wait. {cta}."),
            format!("{product}. {cta}."),
        ],
    }
}

fn visual_for(brief: &Brief, mood: &Mood, role: SceneRole, text: &str) -> String {
    let keywords = mood.style_keywords.join(", ");
    let product = &brief.product_name;
    match role {
        SceneRole::Hook => format!(
            "Opening close-up: {} in a {} moment; {keywords}; {}",
            clip(&brief.audience, 80),
            brief
                .emotional_tone
                .first()
                .map_or("striking", |t| t.as_str()),
            mood.aesthetic
        ),
        SceneRole::Intro => format!(
            "Hero shot of {product} centred on a clean backdrop; {keywords}; {}",
            mood.aesthetic
        ),
        SceneRole::Feature => format!(
            "{product} in use, showing: {}; {keywords}; {}",
            lower_first(strip_end(text)),
            mood.aesthetic
        ),
        SceneRole::CallToAction => format!(
            "Final frame: {product} with open space for the call to action; {keywords}; {}",
            mood.aesthetic
        ),
    }
}

fn weight(role: SceneRole) -> f64 {
    match role {
        SceneRole::Hook => 0.8,
        SceneRole::Intro => 1.0,
        SceneRole::Feature => 1.1,
        SceneRole::CallToAction => 0.9,
    }
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

/// The brief the answers give (each user message answers the question before it).
pub fn brief_from_answers(answers: &[&str]) -> Brief {
    let answer = |i: usize| answers.get(i).copied().unwrap_or("");
    let emotional_tone = tone_words(answer(2));
    let audience = answer(1)
        .trim()
        .trim_start_matches("It's for ")
        .trim_start_matches("it's for ")
        .trim_start_matches("For ")
        .trim_start_matches("for ");
    Brief {
        product_name: if answer(0).is_empty() {
            String::new()
        } else {
            product_name(answer(0))
        },
        audience: clip(strip_end(audience), 160),
        visual_style: style_for_tone(&emotional_tone),
        emotional_tone,
        key_messages: split_list(answer(3), 4),
        call_to_action: clip(strip_end(answer(4)), 80),
    }
    .tidy()
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
                    text,
                    duration_secs,
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
        let Some(current) = scenes.get(index) else {
            return Err(GenerationError::Refused(format!(
                "there is no scene {}",
                index + 1
            )));
        };
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
            text,
            duration_secs: current.duration_secs,
        })
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
