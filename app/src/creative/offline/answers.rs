//! Reading the brief from the user's answers: the product's name, lists, tone words,
//! and the text helpers the rest of the offline director shares.

use super::directions::style_for_tone;
use crate::creative::Brief;

pub(super) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub(super) fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        // Keep acronyms and names ("AI", "iPhone") as they are.
        Some(first) if chars.clone().next().is_some_and(|c| c.is_lowercase()) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_string(),
    }
}

pub(super) fn clip(text: &str, max_chars: usize) -> String {
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

pub(super) fn strip_end(text: &str) -> &str {
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

pub(super) fn split_list(answer: &str, max: usize) -> Vec<String> {
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

pub(super) fn tone_words(answer: &str) -> Vec<String> {
    answer
        .split([',', ';', '/', '&', '\n', '.'])
        .flat_map(|part| part.split(" and "))
        .map(|word| strip_end(word).trim().to_lowercase())
        .filter(|word| !word.is_empty() && word.chars().count() <= 30)
        .take(4)
        .collect()
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
