//! The mood boards' queries: the three boards of a project, their images as they
//! arrive, the choice; and starting a round of boards, whose images background jobs make.

use super::{
    jobs::{MoodImage, MOOD_SHOTS},
    MoodBoard,
};
use crate::{
    budget::ssr::{check, metered},
    creative::{Mood, MOOD_COUNT},
    error::AppError,
    jobs,
    projects::{
        events::changed,
        ssr::{project_facts, raise_step},
        ProjectEvent, Step,
    },
    state::AppState,
    storage::{links::link, ssr::Storage},
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub async fn mood_boards(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    project: Uuid,
) -> Result<Vec<MoodBoard>, AppError> {
    let mut conn = pool.acquire().await?;
    let facts = project_facts(&mut conn, owner, project).await?;
    let rows = sqlx::query!(
        "SELECT m.id, m.position, m.mood, m.error,
                COALESCE(ARRAY(SELECT a.storage_key FROM unnest(m.image_asset_ids) WITH ORDINALITY AS i(id, n)
                               JOIN assets a ON a.id = i.id ORDER BY i.n), '{}') AS \"keys!\",
                (SELECT count(*) FROM jobs j WHERE j.kind = $2 AND j.project_id = m.project_id
                    AND j.payload->>'mood_id' = m.id::text
                    AND j.status IN ('queued', 'running')) AS \"pending!\"
         FROM moods m WHERE m.project_id = $1 ORDER BY m.position",
        project,
        <MoodImage as jobs::BackgroundJob>::KIND
    )
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let mut boards = Vec::new();
    for row in rows {
        let mut images = Vec::new();
        for key in &row.keys {
            images.extend(link(storage, key).await);
        }
        boards.push(MoodBoard {
            id: row.id,
            position: row.position,
            mood: serde_json::from_value(row.mood).map_err(anyhow::Error::from)?,
            images,
            pending: row.pending.max(0) as u32,
            error: row.error,
            chosen: facts.chosen_mood_id == Some(row.id),
        });
    }
    Ok(boards)
}

/// Starts a round of mood boards: all three (`position` empty) or the one at `position`
/// (0–2). The director writes the moods now; their images are made by jobs, three per
/// board, so they survive a closed page or a restart. A round already under way answers
/// 409 rather than paying for a second one.
#[tracing::instrument(name = "moods::start", skip_all, fields(user = %owner, project = %project))]
pub async fn start_moods(
    state: &AppState,
    owner: Uuid,
    project: Uuid,
    position: Option<i16>,
) -> Result<(), AppError> {
    let mut conn = state.pool.acquire().await?;
    let facts = project_facts(&mut conn, owner, project).await?;
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
    let under_way = || {
        AppError::Conflict(
            "Mood boards are being made already; they appear here as they come.".into(),
        )
    };
    if jobs::busy::<MoodImage>(&state.pool, project).await? {
        return Err(under_way());
    }
    let current = mood_boards(&state.pool, &*state.storage, owner, project).await?;
    let (positions, avoid): (Vec<i16>, Vec<String>) = match position {
        None => ((0..MOOD_COUNT as i16).collect(), Vec::new()),
        Some(p) => (
            vec![p],
            current.iter().map(|b| b.mood.name.clone()).collect(),
        ),
    };
    let seed = rand::random::<u64>();
    // The whole round is checked before the director is asked, so that a round whose
    // images could not be paid for costs nothing; each part then reserves its own share.
    let spending = &state.spending;
    let pricing = &spending.pricing;
    let director_estimate = pricing.director(brief.prompt_chars());
    let images = pricing.image().microusd * (positions.len() * MOOD_SHOTS.len()) as i64;
    check(
        &state.pool,
        spending,
        owner,
        project,
        director_estimate.microusd + images,
    )
    .await?;
    let moods = metered(
        &state.pool,
        spending,
        owner,
        project,
        director_estimate,
        async {
            Ok(state
                .director
                .moods(&brief, positions.len(), &avoid, seed)
                .await?)
        },
    )
    .await?;
    // With a brand kit, the last board is the "on brand" one: the kit's colours.
    let brand_colors = {
        let mut conn = state.pool.acquire().await?;
        crate::brand::ssr::colors_for(&mut conn, owner, project).await?
    };
    let moods = moods
        .into_iter()
        .zip(positions.iter())
        .map(|(mood, &position)| {
            if position == crate::brand::ON_BRAND_POSITION {
                crate::brand::on_brand(mood, &brand_colors)
            } else {
                mood
            }
        });
    let mut tab = spending.tab(owner, Some(project));
    let mut tx = state.pool.begin().await?;
    // Clicks race here: the project's row lock lets one round through.
    sqlx::query!("SELECT id FROM projects WHERE id = $1 FOR UPDATE", project)
        .fetch_one(&mut *tx)
        .await?;
    if jobs::busy::<MoodImage>(&mut *tx, project).await? {
        return Err(under_way());
    }
    for (mood, position) in moods.zip(positions.iter().copied()) {
        let id = store_mood(&mut tx, project, position, &mood).await?;
        for shot in 0..MOOD_SHOTS.len() {
            let job = MoodImage {
                mood_id: id,
                shot: shot as i16,
                seed: seed ^ ((position as u64) << 8) ^ shot as u64,
            };
            jobs::enqueue_paid(&mut tx, &mut tab, project, &job, pricing.image()).await?;
        }
    }
    changed(&mut tx, project, ProjectEvent::MoodsChanged).await?;
    tab.reserve(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Puts `mood` at `position` with no images yet, replacing what was there (and its
/// choice, and the jobs still making its images).
async fn store_mood(
    tx: &mut PgConnection,
    project: Uuid,
    position: i16,
    mood: &Mood,
) -> sqlx::Result<Uuid> {
    let old = sqlx::query_scalar!(
        "DELETE FROM moods WHERE project_id = $1 AND position = $2 RETURNING id",
        project,
        position
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(old) = old {
        jobs::cancel::<MoodImage>(tx, "mood_id", &old.to_string()).await?;
    }
    let id = Uuid::new_v4();
    sqlx::query!(
        "INSERT INTO moods (id, project_id, position, mood, shots) VALUES ($1, $2, $3, $4, $5)",
        id,
        project,
        position,
        serde_json::to_value(mood).map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
        MOOD_SHOTS.len() as i16
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE projects SET updated_at = now() WHERE id = $1",
        project
    )
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

#[tracing::instrument(name = "moods::choose", skip_all, fields(user = %owner, project = %project, mood = %mood))]
pub async fn choose_mood(
    pool: &PgPool,
    owner: Uuid,
    project: Uuid,
    mood: Uuid,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    project_facts(&mut tx, owner, project).await?;
    let updated = sqlx::query!(
        "UPDATE projects SET chosen_mood_id = $2, updated_at = now()
         WHERE id = $1 AND EXISTS (SELECT 1 FROM moods WHERE id = $2 AND project_id = $1)",
        project,
        mood
    )
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(AppError::not_found("Mood"));
    }
    raise_step(&mut tx, project, Step::Storyboard).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn chosen_mood(
    conn: &mut PgConnection,
    project: Uuid,
    mood: Uuid,
) -> sqlx::Result<Option<Mood>> {
    let value = sqlx::query_scalar!(
        "SELECT mood FROM moods WHERE id = $1 AND project_id = $2",
        mood,
        project
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}
