//! The storyboard's voiceover: the project's voice, the job speaking a scene's line, and
//! fitting the scene lengths to what it measured. A line is spoken when its scene's text
//! is approved, long before the clip: its measured length sets the scene's minimum, the
//! other scenes give way where their clips are not made yet, and a line that still does
//! not fit stops the clip from being asked for (see `actions.rs`). An image approved
//! while its line is still being spoken is remembered, and its clip is asked for when the
//! speech is done ([`start_awaited_clip`]).

use super::{
    jobs::{enqueue_scene_job, SceneStage},
    record::SceneRecord,
    ssr::{lock_scene_for_job, save_scene, scenes_of},
    GenStatus, VoiceOption, VoiceSettings,
};
use crate::{
    budget::ssr::Tab,
    creative::timing::{fit, too_long_message, ClipLengths, SceneTiming},
    error::AppError,
    generation::{
        pricing::Pricing,
        speech::{SpeechGenerator, SpeechRequest},
        ssr::GenerationError,
    },
    jobs::{self, BackgroundJob, Failure, JobContext, Outcome},
    storage::AssetKind,
};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

/// Whether the project speaks, and the voice it chose (none: the provider's first).
pub async fn project_voice(
    conn: &mut PgConnection,
    project: Uuid,
) -> sqlx::Result<(bool, Option<String>)> {
    let row = sqlx::query!(
        "SELECT voiceover, voice FROM projects WHERE id = $1",
        project
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.voiceover, row.voice))
}

/// The voice to speak in: the chosen one while the provider offers it, else its first.
pub fn voice_of(speech: &dyn SpeechGenerator, chosen: Option<&str>) -> String {
    let voices = speech.voices();
    chosen
        .filter(|id| voices.iter().any(|voice| voice.id == *id))
        .or(voices.first().map(|voice| voice.id))
        .unwrap_or_default()
        .to_string()
}

/// What the storyboard page shows of the project's voiceover.
pub async fn voice_settings(
    conn: &mut PgConnection,
    speech: &dyn SpeechGenerator,
    project: Uuid,
) -> sqlx::Result<VoiceSettings> {
    let (enabled, chosen) = project_voice(conn, project).await?;
    Ok(VoiceSettings {
        enabled,
        voice: voice_of(speech, chosen.as_deref()),
        voices: speech
            .voices()
            .into_iter()
            .map(|voice| VoiceOption {
                id: voice.id.to_string(),
                label: voice.label.to_string(),
            })
            .collect(),
    })
}

/// The speech of one scene's line, for the line and voice of `voice_generation`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SceneVoice {
    pub scene_id: Uuid,
    pub voice_generation: i32,
}

/// Queues the speech of the scene's line (its status already set to queued), with its
/// estimate on the action's tab.
pub async fn enqueue_voice(
    tx: &mut PgConnection,
    tab: &mut Tab,
    pricing: &Pricing,
    project: Uuid,
    scene: &SceneRecord,
) -> sqlx::Result<()> {
    let job = SceneVoice {
        scene_id: scene.id,
        voice_generation: scene.voice_generation,
    };
    let estimate = pricing.speech(scene.voiceover.chars().count());
    jobs::enqueue_paid(tx, tab, project, &job, estimate).await
}

pub async fn cancel_voice_jobs(tx: &mut PgConnection, scene: Uuid) -> sqlx::Result<()> {
    jobs::cancel::<SceneVoice>(tx, "scene_id", &scene.to_string()).await
}

#[async_trait]
impl BackgroundJob for SceneVoice {
    const KIND: &'static str = "scene_voice";

    fn idempotency_key(&self) -> String {
        format!("{}:{}:{}", Self::KIND, self.scene_id, self.voice_generation)
    }

    async fn run(&self, context: &JobContext) -> Result<Outcome, GenerationError> {
        let Some((line, voice, owner, project)) = self.start(context).await? else {
            return Ok(Outcome::Obsolete);
        };
        let request = SpeechRequest {
            text: line.clone(),
            voice,
        };
        let mut media = context.media.speech.speak(&request, &context.run).await?;
        media.cost_microusd = context
            .spending
            .pricing
            .speech_used(line.chars().count(), media.predict_secs);
        let voice_ms =
            media.duration_ms.filter(|ms| *ms > 0).ok_or_else(|| {
                GenerationError::Failed(anyhow::anyhow!("the speech has no length"))
            })? as u32;
        let stored = context
            .run
            .cancellable(async {
                Ok(context
                    .keep(owner, project, AssetKind::Audio, &line, media)
                    .await?)
            })
            .await?;
        let spoken = Spoken {
            asset: stored.id,
            key: stored.key.as_str(),
            voice_ms,
            owner,
            project,
        };
        self.finish(context, spoken)
            .await
            .map_err(GenerationError::Failed)
    }

    async fn lock_subject(&self, tx: &mut PgConnection) -> sqlx::Result<()> {
        lock_scene_for_job(tx, self.scene_id).await.map(drop)
    }

    async fn on_failure(&self, tx: &mut PgConnection, failure: &Failure) -> anyhow::Result<()> {
        let Some(mut scene) = lock_scene_for_job(tx, self.scene_id).await? else {
            return Ok(());
        };
        if scene.voice_generation != self.voice_generation {
            return Ok(());
        }
        scene.voice_status = if failure.retry {
            GenStatus::Queued
        } else {
            GenStatus::Failed
        };
        scene.error = Some(format!(
            "The voiceover could not be made: {}",
            failure.message
        ));
        save_scene(tx, &scene).await?;
        Ok(())
    }
}

impl SceneVoice {
    /// Marks the speech running: the line, the voice, and whose it is; none when the job
    /// is for an older line.
    async fn start(
        &self,
        context: &JobContext,
    ) -> anyhow::Result<Option<(String, String, Uuid, Uuid)>> {
        let mut tx = context.pool.begin().await?;
        let Some(mut scene) = lock_scene_for_job(&mut tx, self.scene_id).await? else {
            return Ok(None);
        };
        if scene.voice_generation != self.voice_generation || scene.voiceover.trim().is_empty() {
            return Ok(None);
        }
        let row = sqlx::query!(
            "SELECT p.id, p.owner_id FROM storyboards sb JOIN projects p ON p.id = sb.project_id
             WHERE sb.id = $1",
            scene.storyboard_id
        )
        .fetch_one(&mut *tx)
        .await?;
        let (_, chosen) = project_voice(&mut tx, row.id).await?;
        if scene.voice_status != GenStatus::Running {
            scene.voice_status = GenStatus::Running;
            save_scene(&mut tx, &scene).await?;
        }
        tx.commit().await?;
        let voice = voice_of(&*context.media.speech, chosen.as_deref());
        Ok(Some((scene.voiceover, voice, row.owner_id, row.id)))
    }

    /// Records the speech on the scene, fits the storyboard's lengths to it and starts
    /// the clip the user asked for meanwhile, in one transaction with the job's end.
    async fn finish(&self, context: &JobContext, spoken: Spoken<'_>) -> anyhow::Result<Outcome> {
        let Spoken {
            asset,
            key,
            voice_ms,
            owner,
            project,
        } = spoken;
        let mut tx = context.pool.begin().await?;
        let scene = lock_scene_for_job(&mut tx, self.scene_id).await?;
        let Some(mut scene) = scene.filter(|s| s.voice_generation == self.voice_generation) else {
            return Ok(Outcome::Obsolete);
        };
        if !context.finish(&mut tx).await? {
            return Ok(Outcome::Obsolete);
        }
        scene.voice_asset_id = Some(asset);
        scene.voice_key = Some(key.to_string());
        scene.voice_ms = Some(voice_ms);
        scene.voice_status = GenStatus::Ready;
        if scene
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("The voiceover"))
        {
            scene.error = None;
        }
        save_scene(&mut tx, &scene).await?;
        fit_to_voices(&mut tx, scene.storyboard_id, &context.media.clip_lengths).await?;
        // Fitting may have lengthened the scene: the clip is asked for at its new length
        // (read again only for a scene that waits for one).
        if scene.clip_awaits_voice {
            if let Some(fitted) = lock_scene_for_job(&mut tx, self.scene_id).await? {
                let tab = context.spending.tab(owner, Some(project));
                start_clip_paid_for(&mut tx, tab, &context.spending.pricing, project, fitted)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(Outcome::Done)
    }
}

/// What a finished speech left: its asset, its length, and whose it is.
struct Spoken<'a> {
    asset: Uuid,
    key: &'a str,
    voice_ms: u32,
    owner: Uuid,
    project: Uuid,
}

/// Starts the awaited clip on the job's own transaction, in a savepoint: a clip its
/// budget refuses is not started, the scene says why, and the speech (paid for already)
/// is kept all the same.
async fn start_clip_paid_for(
    tx: &mut PgConnection,
    mut tab: Tab,
    pricing: &Pricing,
    project: Uuid,
    mut scene: SceneRecord,
) -> anyhow::Result<()> {
    let before = scene.clone();
    let mut savepoint = tx.begin().await?;
    if !start_awaited_clip(&mut savepoint, &mut tab, pricing, project, &mut scene, true).await? {
        return Ok(());
    }
    match tab.reserve(&mut savepoint).await {
        Ok(_) => savepoint.commit().await?,
        Err(AppError::OverBudget(why) | AppError::Throttled { message: why, .. }) => {
            savepoint.rollback().await?;
            let mut scene = before;
            scene.clip_awaits_voice = false;
            scene.error = Some(format!("The clip was not started: {why}"));
            save_scene(tx, &scene).await?;
        }
        Err(error) => return Err(error.into()),
    }
    Ok(())
}

/// Whether the clip can be asked for as far as the voiceover goes: its line is spoken
/// and fits the scene (its length is what the clip is asked for).
pub(super) fn voice_allows_clip(scene: &SceneRecord, speaks: bool) -> Result<(), AppError> {
    if !speaks {
        return Ok(());
    }
    if scene.voice_pending() {
        return Err(AppError::Conflict(
            "The voiceover is still being made: its length sets the clip's.".into(),
        ));
    }
    match scene.voice_ms {
        Some(ms) if scene.voice_too_long() => Err(AppError::Conflict(too_long_message(
            ms,
            scene.duration_secs,
        ))),
        _ => Ok(()),
    }
}

/// Asks for the clip of a scene whose image was approved while its line was being
/// spoken, once the speech allows it: spoken and fitting the scene, or the voiceover
/// switched off (`speaks` false). The clip's estimate goes on `tab`; true when asked.
pub(super) async fn start_awaited_clip(
    tx: &mut PgConnection,
    tab: &mut Tab,
    pricing: &Pricing,
    project: Uuid,
    scene: &mut SceneRecord,
    speaks: bool,
) -> sqlx::Result<bool> {
    let awaiting = scene.clip_awaits_voice
        && scene.image_approved
        && !scene.video_approved
        && scene.video_status == GenStatus::None;
    if !awaiting || voice_allows_clip(scene, speaks).is_err() {
        return Ok(false);
    }
    scene.clip_awaits_voice = false;
    scene.video_status = GenStatus::Queued;
    scene.error = None;
    scene.generation += 1;
    save_scene(tx, scene).await?;
    enqueue_scene_job(tx, tab, pricing, project, SceneStage::Video, scene, false).await?;
    Ok(true)
}

/// What fitting must respect of a scene: its line's length, and its clip if one is made
/// or asked for (a new length would pay for that clip twice).
pub fn timing_of(scene: &SceneRecord) -> SceneTiming {
    SceneTiming {
        secs: scene.duration_secs,
        min_secs: scene.spoken_secs(),
        locked: scene.video_approved || scene.video_status != GenStatus::None,
    }
}

/// Lengthens scenes whose lines run past them, taking the seconds from scenes whose
/// clips are not made yet, so that the storyboard keeps its length; changes nothing when
/// that is impossible (the scene card then says the line is too long).
async fn fit_to_voices(
    tx: &mut PgConnection,
    storyboard: Uuid,
    lengths: &ClipLengths,
) -> sqlx::Result<()> {
    let scenes = scenes_of(tx, storyboard).await?;
    let longest = lengths.allowed().last().copied().unwrap_or_default();
    let timings: Vec<SceneTiming> = scenes
        .iter()
        .map(timing_of)
        // A line no scene length can hold stays too long where it is: the others are
        // still fitted.
        .map(|t| SceneTiming {
            locked: t.locked || t.min_secs > longest,
            ..t
        })
        .collect();
    if timings.iter().all(|t| t.locked || t.min_secs <= t.secs) {
        return Ok(());
    }
    let target = sqlx::query_scalar!(
        "SELECT target_secs FROM storyboards WHERE id = $1",
        storyboard
    )
    .fetch_one(&mut *tx)
    .await?;
    let Some(fitted) = fit(&timings, target.max(0) as u32, lengths) else {
        return Ok(());
    };
    for (mut scene, secs) in scenes.into_iter().zip(fitted) {
        if scene.duration_secs != secs {
            // Only scenes without a clip move: nothing made is lost.
            scene.duration_secs = secs;
            save_scene(tx, &scene).await?;
        }
    }
    Ok(())
}

/// Sets the project's voiceover (off, or on in `voice`), speaking every approved scene's
/// line again in it; the new speech is reserved on the budgets like any other job.
#[tracing::instrument(name = "storyboard::set_voice", skip_all, fields(user = %me.owner, project = %project, enabled))]
pub async fn set_voice(
    me: &crate::state::Caller,
    project: Uuid,
    enabled: bool,
    voice: Option<String>,
) -> Result<(), crate::error::AppError> {
    let state = &me.state;
    let speech = &*state.media.speech;
    let voice = voice
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    if let Some(id) = &voice {
        if !speech.voices().iter().any(|v| v.id == id) {
            return Err(AppError::invalid(format!(
                "There is no voice “{id}”: pick one from the list."
            )));
        }
    }
    let mut tx = state.pool.begin().await?;
    let before = sqlx::query!(
        "SELECT voiceover, voice FROM projects WHERE id = $1 AND owner_id = $2 FOR UPDATE",
        project,
        me.owner
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(crate::projects::ssr::not_found)?;
    // Switching the voiceover off keeps the voice chosen for when it comes back.
    let voice = voice.or(before.voice.clone());
    sqlx::query!(
        "UPDATE projects SET voiceover = $2, voice = $3, updated_at = now() WHERE id = $1",
        project,
        enabled,
        voice
    )
    .execute(&mut *tx)
    .await?;
    let changed = enabled != before.voiceover
        || (enabled
            && voice_of(speech, voice.as_deref()) != voice_of(speech, before.voice.as_deref()));
    let storyboard = sqlx::query_scalar!(
        "SELECT id FROM storyboards WHERE project_id = $1 FOR UPDATE",
        project
    )
    .fetch_optional(&mut *tx)
    .await?;
    let (Some(storyboard), true) = (storyboard, changed) else {
        tx.commit().await?;
        return Ok(());
    };
    let mut tab = state.spending.tab(me.owner, Some(project));
    let pricing = &state.spending.pricing;
    for scene in scenes_of(&mut tx, storyboard).await? {
        let mut scene = super::ssr::lock_scene(&mut tx, me.owner, scene.id).await?;
        if scene.voiceover.trim().is_empty() {
            continue;
        }
        scene.revoice(enabled && scene.text_approved);
        cancel_voice_jobs(&mut tx, scene.id).await?;
        // Without a voiceover, a clip that waited for one is asked for now.
        if !start_awaited_clip(&mut tx, &mut tab, pricing, project, &mut scene, enabled).await? {
            save_scene(&mut tx, &scene).await?;
        }
        if scene.voice_status == GenStatus::Queued {
            enqueue_voice(&mut tx, &mut tab, pricing, project, &scene).await?;
        }
    }
    tab.reserve(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
