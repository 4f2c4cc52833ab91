//! The scenes the offline director writes: texts for each role from the brief's
//! messages, the visual prompt in the mood's direction, and each role's share of the
//! length.

use super::answers::{capitalise, clip, lower_first, strip_end};
use crate::creative::{Brief, Mood, SceneRole};
use crate::generation::offline::Sequence;

pub(super) fn pick<'a>(options: &'a [String], rng: &mut Sequence) -> &'a str {
    &options[rng.below(options.len() as u64) as usize]
}

/// The texts a scene of `role` can have, for the brief; `feature` picks the key message.
pub(super) fn text_options(brief: &Brief, role: SceneRole, feature: usize) -> Vec<String> {
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

pub(super) fn visual_for(brief: &Brief, mood: &Mood, role: SceneRole, text: &str) -> String {
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

pub(super) fn weight(role: SceneRole) -> f64 {
    match role {
        SceneRole::Hook => 0.8,
        SceneRole::Intro => 1.0,
        SceneRole::Feature => 1.1,
        SceneRole::CallToAction => 0.9,
    }
}
