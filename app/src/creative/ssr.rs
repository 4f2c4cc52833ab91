//! The creative director: talks the user through the brief, proposes moods and plans
//! scenes. One implementation asks a language model; the offline one works without any.

use super::{
    balance, validate, Brief, Mood, PlanError, PlannedScene, SceneRole, MAX_SCENES, MIN_SCENES,
    MOOD_COUNT,
};
use crate::generation::{
    llm::{structured, ChatMessage, Llm, Role, TokenStream},
    ssr::GenerationError,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[async_trait::async_trait]
pub trait Director: Send + Sync + 'static {
    /// Whether this is the offline director (labelled as an offline preview).
    fn offline(&self) -> bool {
        false
    }

    /// The director's next chat message, token by token. `history` holds the user's and
    /// the director's messages so far (no system message).
    async fn reply(&self, history: &[ChatMessage]) -> Result<TokenStream, GenerationError>;

    /// The brief, as far as the conversation tells it.
    async fn extract_brief(&self, history: &[ChatMessage]) -> Result<Brief, GenerationError>;

    /// `count` moods for the brief, unlike each other and unlike the ones named in `avoid`.
    async fn moods(
        &self,
        brief: &Brief,
        count: usize,
        avoid: &[String],
        seed: u64,
    ) -> Result<Vec<Mood>, GenerationError>;

    /// 5–7 scenes (hook, intro, features, call to action) adding up to `target_secs`.
    async fn plan(
        &self,
        brief: &Brief,
        mood: &Mood,
        target_secs: u32,
        seed: u64,
    ) -> Result<Vec<PlannedScene>, GenerationError>;

    /// A new text and visual for scene `index` of `scenes`, keeping its role and length.
    async fn rewrite(
        &self,
        brief: &Brief,
        mood: &Mood,
        scenes: &[PlannedScene],
        index: usize,
        seed: u64,
    ) -> Result<PlannedScene, GenerationError>;

    /// `line` said in fewer words, so that it is spoken within a scene of `secs`.
    async fn shorten_line(
        &self,
        brief: &Brief,
        line: &str,
        secs: u32,
    ) -> Result<String, GenerationError>;
}

/// The scene a rewrite is asked for, or a refusal naming it when the plan has no such one.
pub fn scene_at(scenes: &[PlannedScene], index: usize) -> Result<&PlannedScene, GenerationError> {
    scenes
        .get(index)
        .ok_or_else(|| GenerationError::Refused(format!("there is no scene {}", index + 1)))
}

const DIRECTOR_PERSONA: &str = "You are the creative director of Reelsmith, helping a \
    marketer plan a 30-second vertical video ad. Be warm, brief and concrete. Ask one \
    question at a time until you know: the product and its name, the audience, the \
    emotional tone, the key messages and the call to action. When you know all of them, \
    summarise the brief in a few lines and tell the user they can continue to the moods.";

/// A director that asks a language model for everything.
pub struct LlmDirector {
    llm: Arc<dyn Llm>,
}

impl LlmDirector {
    pub fn new(llm: Arc<dyn Llm>) -> Self {
        Self { llm }
    }
}

fn with_system(system: &str, history: &[ChatMessage]) -> Vec<ChatMessage> {
    let mut messages = vec![ChatMessage::new(Role::System, system)];
    messages.extend(history.iter().cloned());
    messages
}

fn string_list() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

fn brief_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["product_name", "audience", "emotional_tone", "visual_style", "key_messages", "call_to_action"],
        "properties": {
            "product_name": {"type": "string"},
            "audience": {"type": "string"},
            "emotional_tone": string_list(),
            "visual_style": string_list(),
            "key_messages": string_list(),
            "call_to_action": {"type": "string"},
        }
    })
}

fn mood_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "description", "style_keywords", "palette", "aesthetic", "tempo_bpm"],
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "style_keywords": string_list(),
            "palette": {"type": "array", "items": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"}, "minItems": 3, "maxItems": 6},
            "aesthetic": {"type": "string"},
            "tempo_bpm": {"type": "integer", "minimum": 60, "maximum": 160},
        }
    })
}

fn scene_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["role", "text", "visual", "duration_secs", "shows_product", "voiceover"],
        "properties": {
            "role": {"type": "string", "enum": ["hook", "intro", "feature", "call_to_action"]},
            "text": {"type": "string"},
            "visual": {"type": "string"},
            "duration_secs": {"type": "integer"},
            "shows_product": {"type": "boolean"},
            "voiceover": {"type": "string"},
        }
    })
}

#[derive(Deserialize)]
struct Moods {
    moods: Vec<Mood>,
}

#[derive(Deserialize)]
struct Plan {
    scenes: Vec<PlannedScene>,
}

/// Makes a model's plan follow the rules: a hook first and a call to action last, 5–7
/// scenes, and whole clip lengths adding up to the target in the model's proportions.
pub fn conform(mut scenes: Vec<PlannedScene>, target: u32) -> Result<Vec<PlannedScene>, PlanError> {
    scenes.retain(|scene| !scene.text.trim().is_empty());
    if !(MIN_SCENES..=MAX_SCENES).contains(&scenes.len()) {
        return Err(PlanError::SceneCount(scenes.len()));
    }
    let last = scenes.len() - 1;
    scenes[0].role = SceneRole::Hook;
    scenes[last].role = SceneRole::CallToAction;
    let weights: Vec<f64> = scenes.iter().map(|s| s.duration_secs as f64).collect();
    for (scene, secs) in scenes.iter_mut().zip(balance(&weights, target)?) {
        scene.duration_secs = secs;
        scene.text = scene.text.trim().to_string();
    }
    validate(&scenes, target)?;
    Ok(scenes)
}

fn brief_text(brief: &Brief) -> String {
    serde_json::to_string_pretty(brief).unwrap_or_default()
}

#[async_trait::async_trait]
impl Director for LlmDirector {
    async fn reply(&self, history: &[ChatMessage]) -> Result<TokenStream, GenerationError> {
        self.llm
            .chat_stream(&with_system(DIRECTOR_PERSONA, history))
            .await
    }

    async fn extract_brief(&self, history: &[ChatMessage]) -> Result<Brief, GenerationError> {
        let mut messages = with_system(
            "Extract the creative brief from this conversation between a marketer and a \
             creative director. Use only what the marketer said or agreed to; leave a field \
             empty (or an empty list) when it is unknown. Suggest visual style keywords that \
             fit the tone when the marketer gave none.",
            history,
        );
        messages.push(ChatMessage::new(Role::User, "Give the brief as JSON."));
        let brief: Brief =
            structured(self.llm.as_ref(), &messages, "brief", &brief_schema()).await?;
        Ok(brief.tidy())
    }

    async fn moods(
        &self,
        brief: &Brief,
        count: usize,
        avoid: &[String],
        seed: u64,
    ) -> Result<Vec<Mood>, GenerationError> {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["moods"],
            "properties": {"moods": {"type": "array", "items": mood_schema(), "minItems": count, "maxItems": count}},
        });
        let avoid = if avoid.is_empty() {
            String::new()
        } else {
            format!(" Do not repeat these moods: {}.", avoid.join(", "))
        };
        let messages = vec![
            ChatMessage::new(
                Role::System,
                "You design mood boards for short video ads. Each mood has an evocative \
                 name, a one-sentence description, 4–6 style keywords, a palette of 4–5 \
                 colours as #rrggbb (darkest first), an aesthetic direction for images and \
                 camera, and a music tempo in bpm. Moods must be clearly different from \
                 each other.",
            ),
            ChatMessage::new(
                Role::User,
                format!(
                    "Brief:\n{}\n\nPropose {count} distinct moods (variation {seed}).{avoid}",
                    brief_text(brief)
                ),
            ),
        ];
        let Moods { moods } = structured(self.llm.as_ref(), &messages, "moods", &schema).await?;
        let moods: Vec<Mood> = moods
            .into_iter()
            .filter(Mood::palette_is_valid)
            .take(count)
            .collect();
        if moods.len() < count.min(MOOD_COUNT) {
            return Err(GenerationError::Failed(anyhow::anyhow!(
                "the model proposed too few usable moods"
            )));
        }
        Ok(moods)
    }

    async fn plan(
        &self,
        brief: &Brief,
        mood: &Mood,
        target_secs: u32,
        seed: u64,
    ) -> Result<Vec<PlannedScene>, GenerationError> {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["scenes"],
            "properties": {"scenes": {"type": "array", "items": scene_schema(), "minItems": MIN_SCENES, "maxItems": MAX_SCENES}},
        });
        let messages = vec![
            ChatMessage::new(
                Role::System,
                format!(
                    "You plan storyboards for {target_secs}-second video ads: {MIN_SCENES} to \
                     {MAX_SCENES} scenes — an opening hook, a product intro, features, and a \
                     closing call to action. Each scene has short on-screen text (under 12 \
                     words), a visual description for an image model (subject, setting, \
                     light, camera), a duration of 3–10 whole seconds (durations add up to \
                     {target_secs}), whether the product itself is in the picture \
                     (false only for pure mood shots, such as an opening hook), and a \
                     voiceover line spoken over the scene, in the brief's language: \
                     natural speech of at most two words per second of the scene."
                ),
            ),
            ChatMessage::new(
                Role::User,
                format!(
                    "Brief:\n{}\n\nMood: {} — {} ({}). Aesthetic: {}.\n\nPlan the scenes \
                     (variation {seed}).",
                    brief_text(brief),
                    mood.name,
                    mood.description,
                    mood.style_keywords.join(", "),
                    mood.aesthetic
                ),
            ),
        ];
        let Plan { scenes } = structured(self.llm.as_ref(), &messages, "plan", &schema).await?;
        conform(scenes, target_secs).map_err(|error| {
            GenerationError::Failed(anyhow::anyhow!("the model's plan is unusable: {error}"))
        })
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
        let outline: Vec<String> = scenes
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{}. [{}] {}", i + 1, s.role.label(), s.text))
            .collect();
        let messages = vec![
            ChatMessage::new(
                Role::System,
                "You rewrite one scene of a video ad storyboard: fresh on-screen text (under \
                 12 words), a fresh visual description and a voiceover line (at most two \
                 words per second of the scene), in the same role, fitting the scenes \
                 around it.",
            ),
            ChatMessage::new(
                Role::User,
                format!(
                    "Brief:\n{}\n\nMood: {} ({}).\n\nStoryboard:\n{}\n\nRewrite scene {} \
                     (variation {seed}); keep role {} and duration {}.",
                    brief_text(brief),
                    mood.name,
                    mood.style_keywords.join(", "),
                    outline.join("\n"),
                    index + 1,
                    current.role.as_str(),
                    current.duration_secs
                ),
            ),
        ];
        let scene: PlannedScene =
            structured(self.llm.as_ref(), &messages, "scene", &scene_schema()).await?;
        if scene.text.trim().is_empty() {
            return Err(GenerationError::Failed(anyhow::anyhow!(
                "the model wrote an empty scene"
            )));
        }
        Ok(PlannedScene {
            role: current.role,
            duration_secs: current.duration_secs,
            text: scene.text.trim().to_string(),
            visual: scene.visual.trim().to_string(),
            shows_product: current.shows_product,
            voiceover: scene.voiceover.trim().to_string(),
        })
    }

    async fn shorten_line(
        &self,
        brief: &Brief,
        line: &str,
        secs: u32,
    ) -> Result<String, GenerationError> {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["line"],
            "properties": {"line": {"type": "string"}},
        });
        let words = (secs.saturating_sub(1) * 2).max(3);
        let messages = vec![
            ChatMessage::new(
                Role::System,
                "You shorten voiceover lines of video ads: same meaning, same language, \
                 natural speech, fewer words.",
            ),
            ChatMessage::new(
                Role::User,
                format!(
                    "Product: {}.\n\nLine: {line}\n\nSay it in at most {words} words, so it \
                     is spoken within {secs} seconds.",
                    brief.product_name
                ),
            ),
        ];
        #[derive(Deserialize)]
        struct Shortened {
            line: String,
        }
        let Shortened { line } = structured(self.llm.as_ref(), &messages, "line", &schema).await?;
        let line = line.trim().to_string();
        if line.is_empty() {
            return Err(GenerationError::Failed(anyhow::anyhow!(
                "the model wrote an empty line"
            )));
        }
        Ok(line)
    }
}
