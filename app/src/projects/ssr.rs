//! Project queries. Each takes the owner and filters by it, so another user's
//! project id behaves exactly like one that does not exist.

use super::{Project, Step, VideoFormat, MAX_NAME_CHARS};
use crate::creative::Brief;
use crate::error::AppError;
use crate::storage::ssr::{ObjectKey, Storage};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

pub struct ProjectName(String);

impl ProjectName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(AppError::invalid("Give the project a name."));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(AppError::invalid(format!(
                "Keep the project name to {MAX_NAME_CHARS} characters or fewer."
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "The project name cannot contain control characters.",
            ));
        }
        Ok(Self(name.to_string()))
    }
}

pub fn not_found() -> AppError {
    AppError::not_found("Project")
}

struct ProjectRow {
    id: Uuid,
    name: String,
    format: String,
    step: i16,
    updated_at: OffsetDateTime,
}

impl TryFrom<ProjectRow> for Project {
    type Error = AppError;

    fn try_from(row: ProjectRow) -> Result<Self, AppError> {
        let corrupt = |what: &str| {
            tracing::error!(project_id = %row.id, "project row has an unknown {what}");
            AppError::Internal
        };
        Ok(Project {
            format: VideoFormat::parse(&row.format).ok_or_else(|| corrupt("format"))?,
            step: Step::from_number(row.step).ok_or_else(|| corrupt("step"))?,
            id: row.id,
            name: row.name,
            updated_at: row.updated_at,
        })
    }
}

/// The dashboard's projects as the server's page cache read them for this request,
/// before the page was rendered: the page is then rendered from exactly the list its
/// cached copy is filed under, not from a second read that a change in between could
/// make differ.
#[derive(Clone)]
pub struct Listed(pub std::sync::Arc<[Project]>);

impl Listed {
    /// The list the page request carries, if the page cache read one.
    pub fn in_this_request() -> Option<Self> {
        leptos::prelude::use_context::<http::request::Parts>()?
            .extensions
            .get::<Self>()
            .cloned()
    }
}

pub async fn list(pool: &PgPool, owner: Uuid) -> Result<Vec<Project>, AppError> {
    sqlx::query_as!(
        ProjectRow,
        "SELECT id, name, format, step, updated_at FROM projects
         WHERE owner_id = $1 ORDER BY updated_at DESC, id",
        owner
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Project::try_from)
    .collect()
}

pub async fn get(pool: &PgPool, owner: Uuid, id: Uuid) -> Result<Project, AppError> {
    sqlx::query_as!(
        ProjectRow,
        "SELECT id, name, format, step, updated_at FROM projects WHERE id = $1 AND owner_id = $2",
        id,
        owner
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(not_found)?
    .try_into()
}

#[tracing::instrument(name = "projects::create", skip_all, fields(user = %owner))]
pub async fn create(
    pool: &PgPool,
    owner: Uuid,
    name: ProjectName,
    format: VideoFormat,
) -> Result<Project, AppError> {
    let project = sqlx::query_as!(
        ProjectRow,
        "INSERT INTO projects (id, owner_id, name, format) VALUES ($1, $2, $3, $4)
         RETURNING id, name, format, step, updated_at",
        Uuid::new_v4(),
        owner,
        name.0,
        format.ratio()
    )
    .fetch_one(pool)
    .await?;
    tracing::info!(project_id = %project.id, "project created");
    project.try_into()
}

#[tracing::instrument(name = "projects::rename", skip_all, fields(user = %owner, project = %id))]
pub async fn rename(
    pool: &PgPool,
    owner: Uuid,
    id: Uuid,
    name: ProjectName,
) -> Result<Project, AppError> {
    sqlx::query_as!(
        ProjectRow,
        "UPDATE projects SET name = $3, updated_at = now() WHERE id = $1 AND owner_id = $2
         RETURNING id, name, format, step, updated_at",
        id,
        owner,
        name.0
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(not_found)?
    .try_into()
}

/// A copy named "<name> (copy)", cut to fit the name limit, with the original's chat,
/// brief, product photos (their files copied under the copy's folder) and own brand kit. Moods,
/// storyboard and made media are not copied: the copy resumes at the mood step when its
/// brief is complete, else at the brief.
#[tracing::instrument(name = "projects::duplicate", skip_all, fields(user = %owner, project = %id))]
pub async fn duplicate(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    id: Uuid,
) -> Result<Project, AppError> {
    let original = get(pool, owner, id).await?;
    const SUFFIX: &str = " (copy)";
    let kept: String = original
        .name
        .chars()
        .take(MAX_NAME_CHARS - SUFFIX.chars().count())
        .collect();
    let mut tx = pool.begin().await?;
    let copy = sqlx::query_as!(
        ProjectRow,
        "INSERT INTO projects (id, owner_id, name, format, step, brief, brief_edited_by_hand)
         SELECT $3, owner_id, $4, format, LEAST(step, $5), brief, brief_edited_by_hand
         FROM projects WHERE id = $1 AND owner_id = $2
         RETURNING id, name, format, step, updated_at",
        id,
        owner,
        Uuid::new_v4(),
        format!("{}{SUFFIX}", kept.trim_end()),
        Step::Mood.number()
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(not_found)?;
    sqlx::query!(
        "INSERT INTO chat_messages (project_id, role, content, created_at)
         SELECT $2, role, content, created_at FROM chat_messages WHERE project_id = $1 ORDER BY id",
        id,
        copy.id
    )
    .execute(&mut *tx)
    .await?;
    crate::brand::ssr::copy_kit(&mut tx, owner, Some(id), copy.id).await?;
    let copied = crate::product::ssr::copy_photos(&mut tx, storage, owner, id, copy.id).await?;
    if let Err(error) = tx.commit().await {
        crate::product::ssr::forget_copies(storage, &copied).await;
        return Err(error.into());
    }
    tracing::info!(project_id = %copy.id, from = %id, photos = copied.len(), "project duplicated");
    copy.try_into()
}

/// Deletes the project and its rows (by cascade), then its stored files. The files are
/// also swept again by a durable job a little later, which retries a failed deletion and
/// catches a file a generation wrote as the project went: never a half-deleted project,
/// and no files left behind for good.
#[tracing::instrument(name = "projects::delete", skip_all, fields(user = %owner, project = %id))]
pub async fn delete(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    id: Uuid,
) -> Result<(), AppError> {
    let prefix = ObjectKey::project_prefix(owner, id);
    let mut tx = pool.begin().await?;
    // Its jobs go with it: what they had reserved is settled first.
    crate::budget::ssr::close_project(&mut tx, owner, id).await?;
    let deleted = sqlx::query!(
        "DELETE FROM projects WHERE id = $1 AND owner_id = $2",
        id,
        owner
    )
    .execute(&mut *tx)
    .await?;
    if deleted.rows_affected() == 0 {
        return Err(not_found());
    }
    crate::jobs::enqueue(
        &mut tx,
        None,
        &super::jobs::FileSweep {
            prefix: prefix.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(project_id = %id, "project deleted");
    if let Err(error) = storage.delete_prefix(&prefix).await {
        tracing::warn!(
            project_id = %id,
            error = format!("{error:#}"),
            "stored files of a deleted project remain until the sweep"
        );
    }
    Ok(())
}

/// Opens the wizard up to `step` (never closes one already reached).
pub async fn raise_step(conn: &mut PgConnection, project: Uuid, step: Step) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE projects SET step = GREATEST(step, $2), updated_at = now() WHERE id = $1",
        project,
        step.number()
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The project row's wizard fields, checked for ownership.
pub struct ProjectFacts {
    pub id: Uuid,
    pub format: String,
    pub brief: Option<Brief>,
    pub brief_edited_by_hand: bool,
    pub chosen_mood_id: Option<Uuid>,
}

pub async fn project_facts(
    conn: &mut PgConnection,
    owner: Uuid,
    project: Uuid,
) -> Result<ProjectFacts, AppError> {
    let row = sqlx::query!(
        "SELECT id, format, brief, brief_edited_by_hand, chosen_mood_id FROM projects
         WHERE id = $1 AND owner_id = $2",
        project,
        owner
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(not_found)?;
    Ok(ProjectFacts {
        id: row.id,
        format: row.format,
        brief: row.brief.and_then(|b| serde_json::from_value(b).ok()),
        brief_edited_by_hand: row.brief_edited_by_hand,
        chosen_mood_id: row.chosen_mood_id,
    })
}

#[cfg(test)]
mod tests {
    use super::ProjectName;

    #[test]
    fn project_names_are_trimmed_and_bounded() {
        assert_eq!(ProjectName::parse("  Launch ad ").unwrap().0, "Launch ad");
        assert!(ProjectName::parse("   ").is_err());
        assert!(ProjectName::parse(&"a".repeat(121)).is_err());
        assert!(ProjectName::parse(&"é".repeat(120)).is_ok());
        assert!(ProjectName::parse("tab\there").is_err());
    }
}
