//! An image approved while its scene's line is still being spoken: the approval is
//! kept ("Approve all images" included), no clip is paid for before its length is known,
//! and the clip starts by itself when the speech is done, or when the voiceover is
//! switched off. Real offline speech (espeak-ng) and clips; the speech is held back by
//! running it in a worker the test starts later.

use crate::{
    helpers::{download, TestApp},
    voiceover::total,
};
use app::creative::timing::needed_secs;
use app::storyboard::{GenStatus, StoryboardView};
use reqwest::Client;

/// A worker of the test's own running only `jobs`, and the token that stops it.
fn worker_for(app: &TestApp, jobs: app::jobs::Registry) -> tokio_util::sync::CancellationToken {
    paying_worker(app, jobs, app::budget::ssr::Spending::offline(20_000_000))
}

/// [`worker_for`], its paid calls priced and budgeted by `spending`.
fn paying_worker(
    app: &TestApp,
    jobs: app::jobs::Registry,
    spending: app::budget::ssr::Spending,
) -> tokio_util::sync::CancellationToken {
    use std::time::Duration;
    let worker = app::jobs::Worker::new(
        app.pool.clone(),
        app.storage.clone(),
        app.media.clone(),
        app::jobs::WorkerSettings {
            poll: Duration::from_millis(100),
            backoff: Duration::from_millis(100),
            spending: std::sync::Arc::new(spending),
            ..app::jobs::WorkerSettings::default()
        },
        jobs,
    );
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(worker.run(stop.clone()));
    stop
}

/// Every image made and approved with "Approve all images" while no line is spoken yet
/// (the speech is left to a worker started later): the approvals are kept, no clip is
/// paid for before its length is known; the storyboard as it then stands.
async fn images_approved_before_the_speech(
    app: &TestApp,
    ada: &Client,
) -> (String, StoryboardView, tokio_util::sync::CancellationToken) {
    use app::storyboard::jobs::{SceneImage, SceneVideo};
    let (project, view) = app.planned_project(ada).await;
    let images = worker_for(
        app,
        app::jobs::Registry::default()
            .register::<SceneImage>()
            .register::<SceneVideo>(),
    );
    app.approve_all_texts(ada, &view).await;
    let made = app
        .wait_for(ada, &project, "every image", |v| {
            v.scenes.iter().all(|s| s.image_status == GenStatus::Ready)
        })
        .await;
    assert!(made.scenes.iter().all(|s| s.voice_pending()), "{made:?}");
    let approved: usize = app
        .studio(
            ada,
            "approve_all",
            &[("storyboard", &view.id.to_string()), ("stage", "image")],
        )
        .await;
    assert_eq!(approved, view.scenes.len(), "every image approved at once");
    let waiting = app.storyboard(ada, &project).await;
    for scene in &waiting.scenes {
        assert!(scene.image_approved, "{scene:?}");
        assert!(scene.clip_awaits_voice, "the card says the clip waits");
        assert_eq!(scene.video_status, GenStatus::None);
        assert_eq!(app.scene_jobs("scene_video", scene).await, 0, "no clip yet");
    }
    (project, waiting, images)
}

#[tokio::test]
async fn images_approved_while_their_lines_are_spoken_get_their_clips_when_the_speech_is_done() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, waiting, images) = images_approved_before_the_speech(&app, &ada).await;

    // The speech is made: each clip is asked for by itself, at its fitted length, once.
    let voices = worker_for(
        &app,
        app::jobs::Registry::default().register::<app::storyboard::voice::SceneVoice>(),
    );
    let done = app
        .wait_for(&ada, &project, "every clip", |v| {
            v.scenes.iter().all(|s| s.video_status == GenStatus::Ready)
        })
        .await;
    assert_eq!(total(&done), 30);
    for scene in &done.scenes {
        assert!(
            !scene.clip_awaits_voice && !scene.voice_too_long,
            "{scene:?}"
        );
        assert!(needed_secs(scene.voice_ms.unwrap()) <= scene.duration_secs);
        assert_eq!(app.scene_jobs("scene_video", scene).await, 1, "one clip");
        let file = download(&app.url(scene.video_url.as_ref().unwrap())).await;
        let probed = app::generation::ffmpeg::probe(file.path()).await.unwrap();
        assert!(
            (probed.duration_secs.unwrap() - f64::from(scene.duration_secs)).abs() < 0.1,
            "the clip lasts the scene's {} s",
            scene.duration_secs
        );
    }
    assert_eq!(done.scenes.len(), waiting.scenes.len());
    images.cancel();
    voices.cancel();
}

#[tokio::test]
async fn switching_the_voiceover_off_starts_the_clips_that_waited_for_it() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, waiting, images) = images_approved_before_the_speech(&app, &ada).await;
    let _: () = app
        .studio(
            &ada,
            "set_voice",
            &[("project", &project), ("enabled", "false")],
        )
        .await;
    let done = app
        .wait_for(&ada, &project, "every clip", |v| {
            v.scenes.iter().all(|s| s.video_status == GenStatus::Ready)
        })
        .await;
    for scene in &waiting.scenes {
        assert_eq!(app.scene_jobs("scene_video", scene).await, 1, "one clip");
    }
    for scene in &done.scenes {
        assert!(!scene.clip_awaits_voice, "{scene:?}");
        assert_eq!(scene.voice_status, GenStatus::None, "nothing spoken");
    }
    images.cancel();
}

#[tokio::test]
async fn a_clip_waiting_on_a_failed_voiceover_starts_once_the_line_is_spoken_again() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, waiting, images) = images_approved_before_the_speech(&app, &ada).await;
    // The first scene's speech failed for good (its job gave up).
    let first = &waiting.scenes[0];
    let id = first.id.to_string();
    sqlx::query(
        "UPDATE scenes SET voice_status = 'failed',
                error = 'The voiceover could not be made: the provider refused it.'
         WHERE id = $1",
    )
    .bind(first.id)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE jobs SET status = 'failed' WHERE kind = 'scene_voice' AND payload->>'scene_id' = $1")
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap();
    let voices = worker_for(
        &app,
        app::jobs::Registry::default().register::<app::storyboard::voice::SceneVoice>(),
    );
    let others = app
        .wait_for(&ada, &project, "the other clips", |v| {
            v.scenes[1..]
                .iter()
                .all(|s| s.video_status == GenStatus::Ready)
        })
        .await;
    let stuck = &others.scenes[0];
    assert_eq!(stuck.voice_status, GenStatus::Failed);
    assert!(stuck.clip_awaits_voice && stuck.video_status == GenStatus::None);

    // "Speak again": the same line, spoken anew; then the clip starts by itself.
    app.say(&ada, stuck, &stuck.voiceover).await;
    let done = app
        .wait_for(&ada, &project, "the first clip", |v| {
            v.scenes[0].video_status == GenStatus::Ready
        })
        .await;
    assert_eq!(done.scenes[0].voice_status, GenStatus::Ready);
    assert_eq!(done.scenes[0].error, None);
    assert_eq!(
        app.scene_jobs("scene_voice", stuck).await,
        2,
        "spoken again once"
    );
    assert_eq!(app.scene_jobs("scene_video", stuck).await, 1, "one clip");
    images.cancel();
    voices.cancel();
}

/// A clip that the budget refuses once its speech is done is not started, and the
/// scene says why; the speech, paid for already, is kept, and the card offers
/// "Make clip" for later.
#[tokio::test]
async fn a_clip_the_budget_refuses_after_the_speech_is_not_started_and_the_speech_is_kept() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, waiting, images) = images_approved_before_the_speech(&app, &ada).await;
    // Clips at $0.10 a second against a month of $0.01; the speech stays free.
    let mut spending = app::budget::ssr::Spending::offline(10_000);
    spending.pricing.video.price = app::generation::pricing::Price::PerOutputSecond(100_000);
    let voices = paying_worker(
        &app,
        app::jobs::Registry::default().register::<app::storyboard::voice::SceneVoice>(),
        spending,
    );
    let spoken = app
        .wait_for(&ada, &project, "every line", |v| {
            v.scenes
                .iter()
                .all(|s| s.voice_status == GenStatus::Ready && !s.clip_awaits_voice)
        })
        .await;
    for scene in &spoken.scenes {
        assert!(scene.voice_url.is_some(), "the speech is kept: {scene:?}");
        assert_eq!(scene.video_status, GenStatus::None);
        assert!(scene.image_approved, "the image stays approved");
        let error = scene.error.as_deref().unwrap_or_default();
        assert!(
            error.starts_with("The clip was not started: This would cost"),
            "{error}"
        );
        assert_eq!(app.scene_jobs("scene_video", scene).await, 0, "no clip");
    }
    assert_eq!(spoken.scenes.len(), waiting.scenes.len());
    images.cancel();
    voices.cancel();
}
