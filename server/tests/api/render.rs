//! The final render on the offline provider's clips: the stored MP4, its progress stream,
//! versions, cancellation and ownership.

use crate::helpers::{error_of, TestApp, MEDIA_WAIT};
use crate::storyboard::{next_event, read_events};
use app::render::{FinalState, RenderEvent};
use app::storyboard::GenStatus;
use reqwest::{Client, StatusCode};

impl TestApp {
    /// A vertical project whose every scene has an approved clip.
    pub async fn approved_project(&self, client: &Client) -> String {
        let id = self.briefed_project(client, "9:16").await;
        let moods: Vec<app::moods::MoodBoard> = self
            .studio(client, "generate_moods", &[("project", &id)])
            .await;
        let mood = moods[0].id.to_string();
        let _: () = self
            .studio(client, "choose_mood", &[("project", &id), ("mood", &mood)])
            .await;
        let view: app::storyboard::StoryboardView = self
            .studio(
                client,
                "plan_storyboard",
                &[("project", &id), ("target_secs", "20")],
            )
            .await;
        let board = view.id.to_string();
        for (stage, wait) in [("text", true), ("image", true), ("video", false)] {
            let _: usize = self
                .studio(
                    client,
                    "approve_all",
                    &[("storyboard", &board), ("stage", stage)],
                )
                .await;
            if wait {
                self.wait_for(client, &id, stage, |v| {
                    v.scenes.iter().all(|s| match stage {
                        // The clip's length waits for the spoken line.
                        "text" => {
                            s.image_status == GenStatus::Ready && s.voice_status == GenStatus::Ready
                        }
                        _ => s.video_status == GenStatus::Ready,
                    })
                })
                .await;
            }
        }
        id
    }

    async fn render_call(
        &self,
        client: &Client,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.call_as(client, &format!("render/{endpoint}"), form)
            .await
    }

    /// Waits (up to [`MEDIA_WAIT`]) until the project's music job has finished.
    pub async fn wait_for_music(&self, client: &Client, project: &str) -> FinalState {
        let started = std::time::Instant::now();
        loop {
            let state = self.final_state(client, project).await;
            if !state.music_busy {
                assert_eq!(state.music_error, None);
                return state;
            }
            assert!(started.elapsed() < MEDIA_WAIT, "no music");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    pub async fn final_state(&self, client: &Client, project: &str) -> FinalState {
        let response = self
            .render_call(client, "state", &[("project", project)])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

#[tokio::test]
async fn a_render_streams_its_progress_and_is_stored_as_a_playable_version() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.approved_project(&ada).await;
    let state = app.final_state(&ada, &project).await;
    assert!(state.ready, "{:?}", state.blocked);

    let response = app
        .render_call(&ada, "music", &[("project", &project)])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let state: FinalState = response.json().await.unwrap();
    assert!(
        state.music_busy,
        "the music is being made in the background"
    );
    let state = app.wait_for_music(&ada, &project).await;
    assert!(state.soundtrack_url.is_some(), "the music can be previewed");

    let response = app
        .render_call(
            &ada,
            "start",
            &[("project", &project), ("music", "true"), ("volume", "40")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let state: FinalState = response.json().await.unwrap();
    let render = state.renders[0].clone();
    assert_eq!(render.version, 1);
    // Every scene's spoken line goes into the render, over its own clip.
    let lines: serde_json::Value =
        sqlx::query_scalar("SELECT voice_lines FROM compositions WHERE id = $1")
            .bind(render.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let scenes: Vec<u64> = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["scene"].as_u64().unwrap())
        .collect();
    assert_eq!(scenes, (0..state.clips as u64).collect::<Vec<_>>());

    let stream = ada
        .get(app.url(&format!("/api/compositions/{}/stream", render.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let mut events = read_events(stream);
    let mut percents = Vec::new();
    let mut last_id = 0i64;
    let done = loop {
        let event = next_event(&mut events).await;
        let id: i64 = event.id.unwrap().parse().unwrap();
        assert!(id > last_id, "ids increase");
        last_id = id;
        match serde_json::from_str::<RenderEvent>(&event.data).unwrap() {
            RenderEvent::Progress { percent, .. } => percents.push(percent),
            RenderEvent::Complete { render } => break render,
            RenderEvent::Error { message } => panic!("render failed: {message}"),
        }
    };
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    assert_eq!(percents.last(), Some(&100.0));
    assert!(percents.len() >= 3, "{percents:?}");

    // The stored file: 1080×1920, 30 fps, H.264 + AAC, the storyboard's length (within a
    // frame: the crossfades take nothing off), index first.
    let url = app.url(done.video_url.as_ref().unwrap());
    let bytes = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    assert_eq!(Some(bytes.len() as i64), done.bytes);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    let probed = app::generation::ffmpeg::probe(file.path()).await.unwrap();
    assert_eq!((probed.width, probed.height), (Some(1080), Some(1920)));
    assert_eq!(probed.frame_rate, Some(30.0));
    assert_eq!(probed.video_codec.as_deref(), Some("h264"));
    assert_eq!(probed.audio_codec.as_deref(), Some("aac"));
    let expected = state.seconds;
    let duration = probed.duration_secs.unwrap();
    assert!(
        (duration - expected).abs() <= 1.0 / 30.0,
        "{duration} vs {expected}"
    );
    let find = |tag: &[u8]| bytes.windows(4).position(|w| w == tag).unwrap();
    assert!(find(b"moov") < find(b"mdat"));
    // Seeking works: a Range request answers 206.
    let partial = reqwest::Client::new()
        .get(&url)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), StatusCode::PARTIAL_CONTENT);
    // Download saves the file under the project's name and the version.
    let name = &app.list_projects(&ada).await[0].name;
    let download = reqwest::get(app.url(done.download_url.as_ref().unwrap()))
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(
        download.headers()["content-disposition"],
        format!(
            "attachment; filename=\"{}\"",
            app::render::download_name(name, 1)
        )
        .as_str()
    );
    assert_eq!(download.bytes().await.unwrap().len(), bytes.len());

    // A second render is a new version; the first stays.
    let response = app
        .render_call(
            &ada,
            "start",
            &[("project", &project), ("music", "false"), ("volume", "0")],
        )
        .await;
    let state: FinalState = response.json().await.unwrap();
    assert_eq!(
        state.renders.iter().map(|r| r.version).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(state.renders[1].status, "succeeded");
    app.assert_no_jobs_left().await;
}

#[tokio::test]
async fn a_render_can_be_cancelled_and_others_cannot_reach_it() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let eve = app.new_user("eve@example.com").await;
    let fresh = app
        .create_project(&ada, "Empty", "9:16")
        .await
        .id
        .to_string();
    let (status, error) = error_of(
        app.render_call(
            &ada,
            "start",
            &[("project", &fresh), ("music", "false"), ("volume", "30")],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(error.to_string().contains("storyboard"), "{error}");

    let project = app.approved_project(&ada).await;
    let (status, error) = error_of(
        app.render_call(
            &ada,
            "start",
            &[("project", &project), ("music", "true"), ("volume", "30")],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "no music made yet: {error}");
    let response = app
        .render_call(
            &ada,
            "start",
            &[("project", &project), ("music", "false"), ("volume", "30")],
        )
        .await;
    let state: FinalState = response.json().await.unwrap();
    let render = state.renders[0].id.to_string();

    // Someone else cannot see, follow or stop it.
    assert_eq!(
        eve.get(app.url(&format!("/api/compositions/{render}/stream")))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        error_of(
            app.render_call(&eve, "cancel", &[("render", &render)])
                .await
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        error_of(
            app.render_call(&eve, "state", &[("project", &project)])
                .await
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    let response = app
        .render_call(&ada, "cancel", &[("render", &render)])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut events = read_events(
        ada.get(app.url(&format!("/api/compositions/{render}/stream")))
            .send()
            .await
            .unwrap(),
    );
    loop {
        let event = next_event(&mut events).await;
        if let RenderEvent::Error { message } = serde_json::from_str(&event.data).unwrap() {
            assert!(message.contains("cancelled"), "{message}");
            break;
        }
    }
    // It stays cancelled: the worker drops its work.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let state = app.final_state(&ada, &project).await;
    assert_eq!(state.renders[0].status, "cancelled");
    assert!(state.renders[0].video_url.is_none());
}

impl TestApp {
    /// The project's normalised clips, by clip: (clip asset, normalised asset).
    async fn normalised_clips(&self, project: &str) -> Vec<(uuid::Uuid, uuid::Uuid)> {
        sqlx::query_as(
            "SELECT n.clip_asset_id, n.asset_id FROM normalised_clips n
             JOIN assets a ON a.id = n.clip_asset_id
             WHERE a.project_id = $1::uuid ORDER BY n.clip_asset_id",
        )
        .bind(project)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// The project's pieces made ahead: each name and its asset.
    async fn render_pieces(&self, project: &str) -> Vec<(String, uuid::Uuid)> {
        sqlx::query_as(
            "SELECT key, asset_id FROM render_pieces WHERE project_id = $1::uuid ORDER BY key",
        )
        .bind(project)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// Makes scene `scene` a new clip and approves it.
    async fn new_clip_approved(&self, client: &Client, project: &str, scene: usize) {
        let view = self.storyboard(client, project).await;
        let id = view.scenes[scene].id.to_string();
        self.act(client, &id, "regenerate_video").await;
        self.wait_for(client, project, "the new clip", |v| {
            v.scenes[scene].video_status == GenStatus::Ready
        })
        .await;
        self.act(client, &id, "approve_video").await;
    }

    /// The project's approved clips.
    async fn approved_clips(&self, project: &str) -> Vec<uuid::Uuid> {
        sqlx::query_scalar(
            "SELECT s.video_asset_id FROM scenes s JOIN storyboards b ON b.id = s.storyboard_id
             WHERE b.project_id = $1::uuid AND s.video_approved ORDER BY s.video_asset_id",
        )
        .bind(project)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// Waits (up to five minutes) until no clip is being normalised and no piece of the
    /// final video made ahead.
    async fn wait_for_normalising(&self) {
        let started = std::time::Instant::now();
        loop {
            let busy: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM jobs WHERE kind IN ('normalise_clip', 'make_pieces_ahead')
                 AND status IN ('queued', 'running')",
            )
            .fetch_one(&self.pool)
            .await
            .unwrap();
            if busy == 0 {
                return;
            }
            assert!(
                started.elapsed() < MEDIA_WAIT,
                "clips still being normalised: {}",
                self.jobs_report().await
            );
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }

    /// Every job that is not done, or failed, with its last error: what a test that
    /// waited in vain prints.
    async fn jobs_report(&self) -> String {
        let rows: Vec<(String, String, i32, Option<String>)> = sqlx::query_as(
            "SELECT kind, status, attempts, last_error FROM jobs
             WHERE status <> 'succeeded' OR last_error IS NOT NULL ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        format!("jobs not done or failed: {rows:?}")
    }

    /// Renders the project without music and waits for the render to succeed.
    async fn render_and_wait(&self, client: &Client, project: &str) {
        self.render_with_and_wait(client, project, "none").await
    }

    /// Renders the project without music, with `captions`, and waits for it to succeed.
    async fn render_with_and_wait(&self, client: &Client, project: &str, captions: &str) {
        let response = self
            .render_call(
                client,
                "start",
                &[
                    ("project", project),
                    ("music", "false"),
                    ("volume", "0"),
                    ("captions", captions),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let started = std::time::Instant::now();
        loop {
            let state = self.final_state(client, project).await;
            match state.renders[0].status.as_str() {
                "succeeded" => return,
                "failed" => panic!("the render failed: {:?}", state.renders[0].error),
                _ => {}
            }
            assert!(started.elapsed() < MEDIA_WAIT, "the render did not end");
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
}

#[tokio::test]
async fn approved_clips_are_made_ready_for_the_render_in_the_background_and_only_a_new_one_again() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.approved_project(&ada).await;
    app.wait_for_normalising().await;
    let clips = app.approved_clips(&project).await;
    let normalised = app.normalised_clips(&project).await;
    assert_eq!(
        normalised.iter().map(|(clip, _)| *clip).collect::<Vec<_>>(),
        clips,
        "each approved clip is normalised once"
    );

    // A new clip for one scene, approved: that clip alone is normalised.
    app.new_clip_approved(&ada, &project, 1).await;
    app.wait_for_normalising().await;
    let after = app.normalised_clips(&project).await;
    assert_eq!(after.len(), normalised.len() + 1);
    assert!(
        normalised.iter().all(|kept| after.contains(kept)),
        "the other clips' files are kept as they were"
    );

    // The render finds them: it normalises nothing more.
    app.render_and_wait(&ada, &project).await;
    assert_eq!(app.normalised_clips(&project).await, after);

    // A clip whose file went missing (made before this feature, say) is normalised by
    // the render itself, and kept for the next one.
    let clips = app.approved_clips(&project).await;
    sqlx::query("DELETE FROM normalised_clips WHERE clip_asset_id = $1")
        .bind(clips[0])
        .execute(&app.pool)
        .await
        .unwrap();
    app.render_and_wait(&ada, &project).await;
    let again = app.normalised_clips(&project).await;
    assert_eq!(again.len(), after.len());
    assert!(again.iter().any(|(clip, _)| *clip == clips[0]));
    app.assert_no_jobs_left().await;
}

#[tokio::test]
async fn the_final_videos_pieces_are_made_ahead_and_the_render_only_joins_them() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.approved_project(&ada).await;
    // Every scene approved: the crossfades, the titled spans and the sound are made.
    app.wait_for_normalising().await;
    let ahead = app.render_pieces(&project).await;
    assert!(ahead.len() >= 3, "pieces made ahead: {ahead:?}");

    // The render asked for as the final page starts (captions in their first style)
    // fetches them all and makes none.
    app.render_with_and_wait(&ada, &project, "lower_third")
        .await;
    assert_eq!(app.render_pieces(&project).await, ahead);
    let state = app.final_state(&ada, &project).await;
    let ms = state.renders[0].duration_ms.unwrap();
    assert!((ms - 20_000).abs() <= 100, "{ms} ms for a 20 s storyboard");

    // A new clip for scene 2, approved: its pieces are made ahead, the others kept.
    app.new_clip_approved(&ada, &project, 1).await;
    app.wait_for_normalising().await;
    let both = app.render_pieces(&project).await;
    let new: Vec<_> = both.iter().filter(|p| !ahead.contains(p)).collect();
    assert!(
        !new.is_empty(),
        "the changed scene's pieces are made: {}",
        app.jobs_report().await
    );
    assert!(new.len() < ahead.len(), "only the changed scene's: {new:?}");

    // The next render uses the new ones and lets go of those of the old clip.
    app.render_with_and_wait(&ada, &project, "lower_third")
        .await;
    let kept = app.render_pieces(&project).await;
    assert_eq!(kept.len(), ahead.len(), "{kept:?}");
    assert!(new.iter().all(|p| kept.contains(p)));
    let gone: Vec<uuid::Uuid> = both
        .iter()
        .filter(|p| !kept.contains(p))
        .map(|p| p.1)
        .collect();
    assert_eq!(gone.len(), new.len());
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM assets WHERE id = ANY($1)")
        .bind(&gone)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0, "the old pieces' assets are deleted");
    app.assert_no_jobs_left().await;
}
