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

/// What the voice says over a scene of `role`: the fullest of a few spoken sentences
/// around the brief that is spoken within `secs`, cut by words only as a last resort.
pub(super) fn voiceover_for(
    brief: &Brief,
    role: SceneRole,
    feature: usize,
    text: &str,
    secs: u32,
) -> String {
    let product = &brief.product_name;
    let candidates = match role {
        SceneRole::Hook => vec![text.to_string(), "This one's for you.".into()],
        SceneRole::Intro => vec![
            format!(
                "Meet {product}, made for {}.",
                lower_first(&clip(&brief.audience, 60))
            ),
            format!("Meet {product}."),
        ],
        SceneRole::Feature => {
            let message = brief
                .key_messages
                .get(feature % brief.key_messages.len().max(1))
                .map(|m| strip_end(m).to_string())
                .unwrap_or_else(|| strip_end(text).to_string());
            let clause = message
                .split([',', ';', ':', '—'])
                .next()
                .unwrap_or(&message)
                .trim()
                .to_string();
            vec![
                format!("With {product}, {}.", lower_first(&message)),
                format!("{}.", capitalise(&message)),
                format!("{}.", capitalise(&clause)),
            ]
        }
        SceneRole::CallToAction => vec![
            format!("{product}. {}.", strip_end(&brief.call_to_action)),
            format!("{}.", strip_end(&brief.call_to_action)),
        ],
    };
    let room = room_secs(secs);
    match candidates.iter().find(|line| estimated_secs(line) <= room) {
        Some(line) => line.clone(),
        None => fit_words(candidates.last().map_or(text, String::as_str), secs),
    }
}

/// How long the offline voice (espeak-ng at 160 words a minute) takes over `line`,
/// measured: about 0.6 s of its own silence, a third of a second a word, more at breaks.
fn estimated_secs(line: &str) -> f64 {
    let words = line.split_whitespace().count() as f64;
    let trimmed = line.trim().trim_end_matches(['.', '!', '?']);
    let stops = trimmed.matches(['.', '!', '?']).count() as f64;
    let pauses = trimmed.matches([',', ';', ':', '—']).count() as f64;
    0.6 + 0.32 * words + 0.6 * stops + 0.2 * pauses
}

/// The seconds of a scene a line may take: its length less the breath before and the
/// room after (see `creative::timing::needed_secs`), and a little for the estimate's error.
fn room_secs(secs: u32) -> f64 {
    f64::from(secs) * 0.9 - 0.65
}

/// `line` cut to what is spoken in a scene of `secs`, at a clause's end where one is
/// near, ending in a full stop.
pub(super) fn fit_words(line: &str, secs: u32) -> String {
    let line = line.trim();
    if estimated_secs(line) <= room_secs(secs) {
        return line.to_string();
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let budget = (((room_secs(secs) - 0.6) / 0.32).floor().max(2.0) as usize).min(words.len());
    let kept = &words[..budget];
    // End at the last clause boundary in what is kept, if there is one past its first word.
    let cut = (1..budget)
        .rev()
        .find(|&i| kept[i - 1].ends_with([',', ';', ':', '.', '—']))
        .unwrap_or(budget);
    let text = kept[..cut].join(" ");
    format!(
        "{}.",
        strip_end(text.trim_end_matches([',', ';', ':', '—']))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_cut_at_a_clause_and_ends_a_sentence() {
        let line = "With Lumen, light that follows your day from morning to night.";
        let cut = fit_words(line, 3);
        assert_eq!(cut, "With Lumen.");
        assert_eq!(fit_words("Meet Lumen.", 3), "Meet Lumen.");
        assert!(estimated_secs(&fit_words(line, 5)) <= room_secs(5));
    }
}
