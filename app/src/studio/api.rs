//! Server functions of the wizard. Every one is scoped to the logged-in user; ids that are
//! not the user's answer 404 like missing ones.

use super::{BriefState, MoodBoard, StoryboardView};
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
mod server {
    pub use crate::{
        auth::ssr::require_user,
        creative::{Brief, MOOD_COUNT},
        error::ssr::respond,
        state::app_state,
        studio::ssr,
    };
}

/// Ids arrive as text so that a malformed one is a 404 like any other.
#[cfg(feature = "ssr")]
pub(crate) fn parse_id(id: &str, what: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id.trim()).map_err(|_| AppError::not_found(what))
}

#[server(endpoint = "studio/brief")]
pub async fn get_brief(project: String) -> Result<BriefState, AppError> {
    use server::*;
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let project = parse_id(&project, "Project")?;
        ssr::brief_state(&state.pool, owner, project, state.director.offline()).await
    })
    .await
}

/// Splits a list typed one item per line (or separated by semicolons).
#[cfg(feature = "ssr")]
fn lines(text: &str) -> Vec<String> {
    text.split(['\n', ';'])
        .map(|item| item.trim().to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

#[server(endpoint = "studio/save_brief")]
pub async fn save_brief(
    project: String,
    product_name: String,
    audience: String,
    emotional_tone: String,
    visual_style: String,
    key_messages: String,
    call_to_action: String,
) -> Result<BriefState, AppError> {
    use server::*;
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let project = parse_id(&project, "Project")?;
        let split = |text: &str| {
            text.split([',', '\n', ';'])
                .map(|item| item.trim().to_string())
                .filter(|item| !item.is_empty())
                .collect::<Vec<_>>()
        };
        let brief = ssr::check_brief(Brief {
            product_name,
            audience,
            emotional_tone: split(&emotional_tone),
            visual_style: split(&visual_style),
            key_messages: lines(&key_messages),
            call_to_action,
        })?;
        ssr::store_brief(&state.pool, owner, project, &brief, true).await?;
        ssr::brief_state(&state.pool, owner, project, state.director.offline()).await
    })
    .await
}

#[server(endpoint = "studio/moods")]
pub async fn get_moods(project: String) -> Result<Vec<MoodBoard>, AppError> {
    use server::*;
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let project = parse_id(&project, "Project")?;
        ssr::mood_boards(&state.pool, &*state.storage, owner, project).await
    })
    .await
}

/// The images of a mood board: how each is framed, and its offline caption (the mood's
/// name, or one of its style keywords by index).
#[cfg(feature = "ssr")]
const MOOD_SHOTS: [(&str, Option<usize>); 3] = [
    ("a hero shot", None),
    ("a lifestyle moment with people using it", Some(0)),
    ("a close-up detail and texture study", Some(1)),
];

/// Makes mood boards: all three (`position` empty) or the one at `position` (0–2),
/// each with three sample images, all in parallel.
#[server(endpoint = "studio/generate_moods")]
pub async fn generate_moods(
    project: String,
    position: Option<i16>,
) -> Result<Vec<MoodBoard>, AppError> {
    use crate::generation::ssr::{keep, ImageRequest, Rgb, Run};
    use crate::storage::AssetKind;
    use server::*;
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let project = parse_id(&project, "Project")?;
        let mut conn = state.pool.acquire().await?;
        let facts = ssr::project_facts(&mut conn, owner, project).await?;
        drop(conn);
        let brief = facts.brief.unwrap_or_default();
        let missing = brief.missing();
        if !missing.is_empty() {
            return Err(AppError::invalid(format!(
                "The brief still needs {} before moods can be made.",
                missing.join(", ")
            )));
        }
        if position.is_some_and(|p| !(0..MOOD_COUNT as i16).contains(&p)) {
            return Err(AppError::invalid("Pick mood 1, 2 or 3."));
        }
        let current = ssr::mood_boards(&state.pool, &*state.storage, owner, project).await?;
        let seed = rand::random::<u64>();
        let (positions, avoid): (Vec<i16>, Vec<String>) = match position {
            None => ((0..MOOD_COUNT as i16).collect(), Vec::new()),
            Some(p) => (
                vec![p],
                current.iter().map(|b| b.mood.name.clone()).collect(),
            ),
        };
        let moods = state
            .director
            .moods(&brief, positions.len(), &avoid, seed)
            .await
            .map_err(|error| AppError::invalid(super::jobs::user_message(&error)))?;
        let format = crate::projects::VideoFormat::parse(&facts.format).unwrap_or_default();
        let product = &brief.product_name;
        let makes = moods.into_iter().zip(positions).map(|(mood, position)| {
            let state = state.clone();
            async move {
                let palette: Vec<Rgb> = mood.palette.iter().filter_map(|c| Rgb::parse(c)).collect();
                let style = format!(
                    "{}. {}; {}",
                    mood.description,
                    mood.style_keywords.join(", "),
                    mood.aesthetic
                );
                // A board: a hero frame, then a lifestyle moment and a close detail in
                // the same direction, made side by side.
                let shots = MOOD_SHOTS
                    .iter()
                    .enumerate()
                    .map(|(shot, (framing, caption))| {
                        let state = state.clone();
                        let prompt = format!(
                            "Mood board for {}, {framing} of {}: {style}",
                            mood.name, product
                        );
                        let caption = match caption {
                            None => mood.name.clone(),
                            Some(index) => mood
                                .style_keywords
                                .get(*index)
                                .cloned()
                                .unwrap_or_else(|| mood.name.clone()),
                        };
                        let request = ImageRequest {
                            prompt,
                            format,
                            palette: palette.clone(),
                            caption: Some(caption),
                            seed: seed ^ ((position as u64) << 8) ^ shot as u64,
                        };
                        async move {
                            let image = state
                                .media
                                .image
                                .generate_image(&request, &Run::default())
                                .await
                                .map_err(|error| {
                                    AppError::invalid(super::jobs::user_message(&error))
                                })?;
                            let stored = keep(
                                &state.pool,
                                &*state.storage,
                                owner,
                                project,
                                AssetKind::Image,
                                &request.prompt,
                                image,
                            )
                            .await?;
                            Ok::<_, AppError>(stored.id)
                        }
                    });
                let images = futures::future::try_join_all(shots).await?;
                ssr::store_mood(&state.pool, project, position, &mood, &images).await?;
                Ok::<_, AppError>(())
            }
        });
        futures::future::try_join_all(makes).await?;
        ssr::mood_boards(&state.pool, &*state.storage, owner, project).await
    })
    .await
}

#[server(endpoint = "studio/choose_mood")]
pub async fn choose_mood(project: String, mood: String) -> Result<(), AppError> {
    use server::*;
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let project = parse_id(&project, "Project")?;
        let mood = parse_id(&mood, "Mood")?;
        ssr::choose_mood(&state.pool, owner, project, mood).await
    })
    .await
}

#[server(endpoint = "studio/storyboard")]
pub async fn get_storyboard(project: String) -> Result<Option<StoryboardView>, AppError> {
    use server::*;
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let project = parse_id(&project, "Project")?;
        let mut conn = state.pool.acquire().await?;
        ssr::project_facts(&mut conn, owner, project).await?;
        drop(conn);
        ssr::storyboard_view(
            &state.pool,
            &*state.storage,
            owner,
            project,
            state.media.offline,
        )
        .await
    })
    .await
}

/// Plans the storyboard from the brief and the chosen mood. An existing storyboard is
/// only replaced when `replace` is set.
#[server(endpoint = "studio/plan_storyboard")]
pub async fn plan_storyboard(
    project: String,
    target_secs: Option<u32>,
    replace: Option<bool>,
) -> Result<StoryboardView, AppError> {
    use crate::creative::{reachable, DEFAULT_TARGET_SECS, MAX_SCENES, MIN_SCENES};
    use server::*;
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let project = parse_id(&project, "Project")?;
        let target = target_secs.unwrap_or(DEFAULT_TARGET_SECS);
        if !(15..=70).contains(&target) || !(MIN_SCENES..=MAX_SCENES).any(|n| reachable(n, target))
        {
            return Err(AppError::invalid(
                "Pick a length between 15 and 70 seconds.",
            ));
        }
        let mut conn = state.pool.acquire().await?;
        let facts = ssr::project_facts(&mut conn, owner, project).await?;
        let brief = facts.brief.unwrap_or_default();
        if !brief.missing().is_empty() {
            return Err(AppError::invalid("Finish the brief first."));
        }
        let mood_id = facts
            .chosen_mood_id
            .ok_or_else(|| AppError::invalid("Pick a mood first."))?;
        let mood = ssr::chosen_mood(&mut conn, project, mood_id)
            .await?
            .ok_or_else(|| AppError::invalid("Pick a mood first."))?;
        let existing = ssr::storyboard_view(
            &state.pool,
            &*state.storage,
            owner,
            project,
            state.media.offline,
        )
        .await?;
        drop(conn);
        if existing.is_some() && replace != Some(true) {
            return Err(AppError::Conflict(
                "This project already has a storyboard; confirm to replace it.".into(),
            ));
        }
        let plan = state
            .director
            .plan(&brief, &mood, target, rand::random())
            .await
            .map_err(|error| AppError::invalid(super::jobs::user_message(&error)))?;
        ssr::store_storyboard(&state.pool, owner, project, &mood, target, &plan).await?;
        ssr::storyboard_view(
            &state.pool,
            &*state.storage,
            owner,
            project,
            state.media.offline,
        )
        .await?
        .ok_or(AppError::Internal)
    })
    .await
}

/// One step of a scene's flow: `edit_text` (with `text`), `regenerate_text`,
/// `approve_text`, `regenerate_image`, `approve_image`, `regenerate_video`, `approve_video`.
#[server(endpoint = "studio/scene")]
pub async fn scene_action(
    scene: String,
    action: String,
    text: Option<String>,
) -> Result<(), AppError> {
    use server::*;
    use ssr::SceneAction;
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let scene = parse_id(&scene, "Scene")?;
        let action = match action.as_str() {
            "edit_text" => SceneAction::EditText {
                text: text.ok_or_else(|| AppError::invalid("A scene needs some text."))?,
                visual: None,
            },
            "regenerate_text" => {
                let (brief, mood, plan, index) =
                    ssr::scene_context(&state.pool, owner, scene).await?;
                let rewritten = state
                    .director
                    .rewrite(&brief, &mood, &plan, index, rand::random())
                    .await
                    .map_err(|error| AppError::invalid(super::jobs::user_message(&error)))?;
                SceneAction::EditText {
                    text: rewritten.text,
                    visual: Some(rewritten.visual),
                }
            }
            "approve_text" => SceneAction::ApproveText,
            "regenerate_image" => SceneAction::RegenerateImage,
            "approve_image" => SceneAction::ApproveImage,
            "regenerate_video" => SceneAction::RegenerateVideo,
            "approve_video" => SceneAction::ApproveVideo,
            other => {
                return Err(AppError::invalid(format!(
                    "Unknown scene action {other:?}."
                )))
            }
        };
        ssr::act_on_scene(&state.pool, owner, scene, action).await
    })
    .await
}

#[server(endpoint = "studio/approve_all")]
pub async fn approve_all(storyboard: String, stage: String) -> Result<usize, AppError> {
    use server::*;
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let storyboard = parse_id(&storyboard, "Storyboard")?;
        let stage = super::Stage::parse(&stage)
            .ok_or_else(|| AppError::invalid("Approve all of: text, image or video."))?;
        ssr::approve_all(&state.pool, owner, storyboard, stage).await
    })
    .await
}

#[server(endpoint = "studio/set_duration")]
pub async fn set_duration(scene: String, seconds: u32) -> Result<(), AppError> {
    use server::*;
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let scene = parse_id(&scene, "Scene")?;
        ssr::set_duration(&state.pool, owner, scene, seconds).await
    })
    .await
}

/// Moves a scene to `position` (1-based, as shown).
#[server(endpoint = "studio/move_scene")]
pub async fn move_scene(scene: String, position: usize) -> Result<(), AppError> {
    use server::*;
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let scene = parse_id(&scene, "Scene")?;
        if position == 0 {
            return Err(AppError::invalid("Positions start at 1."));
        }
        ssr::move_scene(&state.pool, owner, scene, position - 1).await
    })
    .await
}

/// Adds a scene after scene number `after` (1-based; 0 puts it first).
#[server(endpoint = "studio/add_scene")]
pub async fn add_scene(storyboard: String, after: usize, text: String) -> Result<Uuid, AppError> {
    use server::*;
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let storyboard = parse_id(&storyboard, "Storyboard")?;
        let after = after.checked_sub(1);
        ssr::add_scene(&state.pool, owner, storyboard, after, &text).await
    })
    .await
}

#[server(endpoint = "studio/delete_scene")]
pub async fn delete_scene(scene: String) -> Result<(), AppError> {
    use server::*;
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let scene = parse_id(&scene, "Scene")?;
        ssr::delete_scene(&state.pool, owner, scene).await
    })
    .await
}
