//! The storyboard's shape: scene lengths, order, and scenes added or removed. Lengths
//! always add up to the storyboard's target, are lengths the video model makes and hold
//! every spoken line; a scene whose length changes loses its clip, and scenes with
//! clips keep their lengths wherever the others can give way.

use super::{
    actions::check_text,
    events::{emit, Recorded},
    jobs::cancel_scene_jobs,
    record::SceneRecord,
    ssr::{lock_scene, save_scene, scene_not_found, scenes_of, storyboard_not_found},
    voice::{cancel_voice_jobs, timing_of},
    GenStatus,
};
use crate::{
    creative::{
        reachable,
        timing::{fit, ClipLengths, SceneTiming},
        Mood, SceneRole, MAX_SCENES, MIN_CLIP_SECS, MIN_SCENES,
    },
    error::AppError,
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A scene whose length changed loses its clip's approval: the clip no longer fits.
fn set_length(scene: &mut SceneRecord, secs: u32) -> bool {
    if scene.duration_secs == secs {
        return false;
    }
    scene.duration_secs = secs;
    if scene.video_status != GenStatus::None || scene.video_approved {
        scene.video_approved = false;
        scene.video_status = GenStatus::None;
        if scene.image_approved {
            scene.error = Some("The scene's length changed: make its clip again.".into());
        }
        scene.generation += 1;
    }
    true
}

async fn lock_storyboard(
    tx: &mut PgConnection,
    owner: Uuid,
    storyboard: Uuid,
) -> Result<(Uuid, u32), AppError> {
    let row = sqlx::query!(
        "SELECT project_id, target_secs FROM storyboards WHERE id = $1 AND owner_id = $2 FOR UPDATE",
        storyboard,
        owner
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(storyboard_not_found)?;
    Ok((row.project_id, row.target_secs.max(0) as u32))
}

/// Saves every scene whose position, length or state changed.
async fn save_changed(
    tx: &mut PgConnection,
    before: &[SceneRecord],
    after: &[SceneRecord],
) -> sqlx::Result<()> {
    for scene in after {
        let old = before.iter().find(|s| s.id == scene.id);
        let changed = old.is_none_or(|old| {
            old.position != scene.position
                || old.duration_secs != scene.duration_secs
                || old.generation != scene.generation
        });
        if changed {
            if old.is_some_and(|old| old.generation != scene.generation) {
                cancel_scene_jobs(tx, scene.id).await?;
            }
            save_scene(tx, scene).await?;
        }
    }
    Ok(())
}

/// Moves scenes to positions 0..n in `order` (positions are unique at commit).
fn renumber(scenes: &mut [SceneRecord]) {
    for (position, scene) in scenes.iter_mut().enumerate() {
        scene.position = position as i16;
    }
}

/// Lengths for `scenes` that add up to `target`, are lengths the video model makes and
/// hold every spoken line; `fixed` is a scene the user set. Scenes whose clips are made
/// keep their lengths where the others can give way; where they cannot, they give way
/// too (their clips are then made again: the user asked for the change).
fn fitted(
    scenes: &[SceneRecord],
    fixed: Option<(usize, u32)>,
    target: u32,
    lengths: &ClipLengths,
) -> Result<Vec<u32>, AppError> {
    let longest = lengths.allowed().last().copied().unwrap_or_default();
    let timings = |keep_clips: bool| -> Vec<SceneTiming> {
        scenes
            .iter()
            .enumerate()
            .map(|(i, scene)| match fixed {
                Some((at, secs)) if at == i => SceneTiming {
                    secs,
                    min_secs: 0,
                    locked: true,
                },
                _ => {
                    let timing = timing_of(scene);
                    SceneTiming {
                        // A line no length holds is shown as too long, not a reason to
                        // refuse every other change.
                        min_secs: timing.min_secs.min(longest),
                        locked: keep_clips && timing.locked,
                        ..timing
                    }
                }
            })
            .collect()
    };
    fit(&timings(true), target, lengths)
        .or_else(|| fit(&timings(false), target, lengths))
        .ok_or_else(|| {
            AppError::invalid(format!(
                "{} scenes cannot add up to {target} seconds with clips of {} that hold every spoken line.",
                scenes.len(),
                lengths.describe()
            ))
        })
}

/// Sets a scene's length; the others are re-balanced so the total stays the target.
#[tracing::instrument(name = "storyboard::set_duration", skip_all, fields(user = %owner, scene = %scene_id, secs))]
pub async fn set_duration(
    pool: &PgPool,
    owner: Uuid,
    scene_id: Uuid,
    secs: u32,
    lengths: &ClipLengths,
) -> Result<(), AppError> {
    if !lengths.allows(secs) {
        return Err(AppError::invalid(format!(
            "A scene lasts {}, not {secs}.",
            lengths.describe()
        )));
    }
    let mut tx = pool.begin().await?;
    let scene = lock_scene(&mut tx, owner, scene_id).await?;
    let (_, target) = lock_storyboard(&mut tx, owner, scene.storyboard_id).await?;
    let before = scenes_of(&mut tx, scene.storyboard_id).await?;
    let index = before
        .iter()
        .position(|s| s.id == scene_id)
        .ok_or_else(scene_not_found)?;
    let spoken = before[index].spoken_secs();
    if secs < spoken {
        return Err(AppError::invalid(format!(
            "This scene's line needs {spoken} seconds: shorten the line first."
        )));
    }
    let balanced = fitted(&before, Some((index, secs)), target, lengths)?;
    let mut after = before.clone();
    for (scene, secs) in after.iter_mut().zip(balanced) {
        set_length(scene, secs);
    }
    save_changed(&mut tx, &before, &after).await?;
    tx.commit().await?;
    Ok(())
}

/// Moves a scene to `position` (0-based), shifting the ones between.
#[tracing::instrument(name = "storyboard::move_scene", skip_all, fields(user = %owner, scene = %scene_id, position))]
pub async fn move_scene(
    pool: &PgPool,
    owner: Uuid,
    scene_id: Uuid,
    position: usize,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let scene = lock_scene(&mut tx, owner, scene_id).await?;
    lock_storyboard(&mut tx, owner, scene.storyboard_id).await?;
    let before = scenes_of(&mut tx, scene.storyboard_id).await?;
    if position >= before.len() {
        return Err(AppError::invalid(format!(
            "A scene can move to positions 1 to {}.",
            before.len()
        )));
    }
    let mut after = before.clone();
    let from = after
        .iter()
        .position(|s| s.id == scene_id)
        .ok_or_else(scene_not_found)?;
    let moved = after.remove(from);
    after.insert(position, moved);
    renumber(&mut after);
    save_changed(&mut tx, &before, &after).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a scene after `after` (0-based; none: at the start), re-balancing lengths.
#[tracing::instrument(name = "storyboard::add_scene", skip_all, fields(user = %owner, storyboard = %storyboard))]
pub async fn add_scene(
    pool: &PgPool,
    owner: Uuid,
    storyboard: Uuid,
    after_position: Option<usize>,
    text: &str,
    lengths: &ClipLengths,
) -> Result<Uuid, AppError> {
    let text = check_text(text)?;
    let mut tx = pool.begin().await?;
    let (_, target) = lock_storyboard(&mut tx, owner, storyboard).await?;
    let before = scenes_of(&mut tx, storyboard).await?;
    if before.len() >= MAX_SCENES {
        return Err(AppError::invalid(format!(
            "A storyboard has at most {MAX_SCENES} scenes."
        )));
    }
    let at = after_position.map_or(0, |p| (p + 1).min(before.len()));
    let mood: Mood = serde_json::from_value(
        sqlx::query_scalar!("SELECT mood FROM storyboards WHERE id = $1", storyboard)
            .fetch_one(&mut *tx)
            .await?,
    )
    .map_err(anyhow::Error::from)?;
    let id = Uuid::new_v4();
    let new = SceneRecord {
        id,
        storyboard_id: storyboard,
        position: at as i16,
        role: SceneRole::Feature,
        visual: format!(
            "{text}; {}; {}",
            mood.style_keywords.join(", "),
            mood.aesthetic
        ),
        text,
        duration_secs: MIN_CLIP_SECS,
        text_approved: false,
        image_status: GenStatus::None,
        image_asset_id: None,
        image_key: None,
        image_approved: false,
        video_status: GenStatus::None,
        video_asset_id: None,
        video_key: None,
        video_approved: false,
        error: None,
        generation: 0,
        shows_product: SceneRole::Feature.shows_product(),
        image_match: None,
        image_drift: false,
        video_match: None,
        video_drift: false,
        voiceover: String::new(),
        voice_status: GenStatus::None,
        voice_asset_id: None,
        voice_key: None,
        voice_ms: None,
        voice_generation: 0,
        clip_awaits_voice: false,
    };
    let mut after = before.clone();
    after.insert(at, new.clone());
    renumber(&mut after);
    // The new scene starts from an average share; every scene gives a little.
    let average =
        (target / after.len() as u32).clamp(MIN_CLIP_SECS, crate::creative::MAX_CLIP_SECS);
    after[at].duration_secs = average;
    let balanced = fitted(&after, None, target, lengths)?;
    for (scene, secs) in after.iter_mut().zip(balanced) {
        set_length(scene, secs);
    }
    // Make room, then insert: positions are checked at commit.
    let inserted = after
        .iter()
        .find(|s| s.id == id)
        .cloned()
        .expect("just added");
    sqlx::query!(
        "INSERT INTO scenes (id, storyboard_id, position, role, text, visual, duration_secs,
                             shows_product)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        id,
        storyboard,
        inserted.position,
        inserted.role.as_str(),
        inserted.text,
        inserted.visual,
        inserted.duration_secs as i32,
        inserted.shows_product
    )
    .execute(&mut *tx)
    .await?;
    save_changed(&mut tx, &before, &after).await?;
    tx.commit().await?;
    Ok(id)
}

#[tracing::instrument(name = "storyboard::delete_scene", skip_all, fields(user = %owner, scene = %scene_id))]
pub async fn delete_scene(
    pool: &PgPool,
    owner: Uuid,
    scene_id: Uuid,
    lengths: &ClipLengths,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let scene = lock_scene(&mut tx, owner, scene_id).await?;
    let (_, target) = lock_storyboard(&mut tx, owner, scene.storyboard_id).await?;
    let before = scenes_of(&mut tx, scene.storyboard_id).await?;
    if before.len() <= MIN_SCENES {
        return Err(AppError::invalid(format!(
            "A storyboard has at least {MIN_SCENES} scenes."
        )));
    }
    let mut after: Vec<SceneRecord> = before
        .iter()
        .filter(|s| s.id != scene_id)
        .cloned()
        .collect();
    if !reachable(after.len(), target) {
        return Err(AppError::invalid(format!(
            "{} scenes cannot fill {target} seconds.",
            after.len()
        )));
    }
    renumber(&mut after);
    let balanced = fitted(&after, None, target, lengths)?;
    for (scene, secs) in after.iter_mut().zip(balanced) {
        set_length(scene, secs);
    }
    cancel_scene_jobs(&mut tx, scene_id).await?;
    cancel_voice_jobs(&mut tx, scene_id).await?;
    sqlx::query!("DELETE FROM scenes WHERE id = $1", scene_id)
        .execute(&mut *tx)
        .await?;
    emit(&mut tx, scene.storyboard_id, &Recorded::removed(scene_id)).await?;
    save_changed(&mut tx, &before, &after).await?;
    tx.commit().await?;
    Ok(())
}
