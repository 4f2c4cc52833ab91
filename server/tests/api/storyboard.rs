//! The storyboard pipeline on the offline provider: chat → brief → moods → storyboard →
//! every scene approved to a clip, with its live event stream.

use crate::helpers::{error_of, TestApp, MEDIA_WAIT};
use app::{
    brief::BriefState,
    moods::MoodBoard,
    storyboard::{StoryboardEvent, StoryboardView},
};
use futures::StreamExt;
use reqwest::{Client, StatusCode};
use std::time::Duration;
use tokio::sync::mpsc;

/// One Server-Sent Event as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

/// Reads an SSE response in the background; events arrive on the channel.
pub fn read_events(response: reqwest::Response) -> mpsc::UnboundedReceiver<Received> {
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut body = response.bytes_stream();
        let mut buffer = String::new();
        let mut current = Received {
            id: None,
            event: "message".into(),
            data: String::new(),
        };
        while let Some(Ok(chunk)) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find('\n') {
                let line = buffer[..end].trim_end_matches('\r').to_string();
                buffer.drain(..=end);
                if line.is_empty() {
                    if !current.data.is_empty() {
                        let done = std::mem::replace(
                            &mut current,
                            Received {
                                id: None,
                                event: "message".into(),
                                data: String::new(),
                            },
                        );
                        if sender.send(done).is_err() {
                            return;
                        }
                    }
                } else if let Some(value) = line.strip_prefix("id:") {
                    current.id = Some(value.trim().to_string());
                } else if let Some(value) = line.strip_prefix("event:") {
                    current.event = value.trim().to_string();
                } else if let Some(value) = line.strip_prefix("data:") {
                    if !current.data.is_empty() {
                        current.data.push('\n');
                    }
                    current
                        .data
                        .push_str(value.strip_prefix(' ').unwrap_or(value));
                }
            }
        }
    });
    receiver
}

pub async fn next_event(events: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(60), events.recv())
        .await
        .expect("an event within a minute")
        .expect("the stream is open")
}

/// The brief, as a person gives it to the offline director (the benches use it too).
pub use server::bench::ANSWERS;

impl TestApp {
    pub async fn chat(&self, client: &Client, project: &str, message: &str) -> reqwest::Response {
        client
            .post(self.url(&format!("/api/projects/{project}/chat")))
            .header("origin", &self.address)
            .header("sec-fetch-site", "same-origin")
            .json(&serde_json::json!({ "message": message }))
            .send()
            .await
            .unwrap()
    }

    pub async fn studio<T: serde::de::DeserializeOwned>(
        &self,
        client: &Client,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> T {
        let response = self
            .call_as(client, &format!("studio/{endpoint}"), form)
            .await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{endpoint}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{endpoint}: {e}: {body}"))
    }

    /// Approves every scene's text (each starts its image), as the board's button does.
    pub async fn approve_all_texts(&self, client: &Client, view: &StoryboardView) -> usize {
        let storyboard = view.id.to_string();
        self.studio(
            client,
            "approve_all",
            &[("storyboard", &storyboard), ("stage", "text")],
        )
        .await
    }

    /// The user rewrites a scene's text.
    pub async fn edit_text(&self, client: &Client, scene: &str, text: &str) {
        let _: () = self
            .studio(
                client,
                "scene",
                &[("scene", scene), ("action", "edit_text"), ("text", text)],
            )
            .await;
    }

    /// One step of a scene's flow (`approve_text`, `regenerate_image`, ...).
    pub async fn act(&self, client: &Client, scene: &str, action: &str) {
        let _: () = self
            .studio(client, "scene", &[("scene", scene), ("action", action)])
            .await;
    }

    pub async fn storyboard(&self, client: &Client, project: &str) -> StoryboardView {
        self.studio::<Option<StoryboardView>>(client, "storyboard", &[("project", project)])
            .await
            .expect("a storyboard")
    }

    /// Waits (up to [`MEDIA_WAIT`]) until `done` holds for the storyboard.
    pub async fn wait_for(
        &self,
        client: &Client,
        project: &str,
        what: &str,
        done: impl Fn(&StoryboardView) -> bool,
    ) -> StoryboardView {
        let started = std::time::Instant::now();
        loop {
            let view = self.storyboard(client, project).await;
            if done(&view) {
                return view;
            }
            let failed: Vec<_> = view.scenes.iter().filter_map(|s| s.error.clone()).collect();
            assert!(
                started.elapsed() < MEDIA_WAIT,
                "timed out waiting for {what}; errors: {failed:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits (up to [`MEDIA_WAIT`]) until every mood board of the project has all its
    /// images (made by background jobs), and returns the boards.
    pub async fn wait_for_moods(&self, client: &Client, project: &str) -> Vec<MoodBoard> {
        let started = std::time::Instant::now();
        loop {
            let boards: Vec<MoodBoard> =
                self.studio(client, "moods", &[("project", project)]).await;
            if !boards.is_empty() && boards.iter().all(|b| b.pending == 0) {
                return boards;
            }
            assert!(
                started.elapsed() < MEDIA_WAIT,
                "timed out waiting for the mood boards: {boards:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A project taken through the brief chat and a chosen mood, with a planned storyboard.
    /// A project "Lumen launch" in `format` whose brief the chat has filled in.
    pub async fn briefed_project(&self, client: &Client, format: &str) -> String {
        let project = self.create_project(client, "Lumen launch", format).await;
        let id = project.id.to_string();
        for answer in ANSWERS {
            let response = self.chat(client, &id, answer).await;
            assert_eq!(response.status(), StatusCode::OK);
            response.text().await.unwrap();
        }
        id
    }

    pub async fn planned_project(&self, client: &Client) -> (String, StoryboardView) {
        let id = self.briefed_project(client, "1:1").await;
        let moods: Vec<MoodBoard> = self
            .studio(client, "generate_moods", &[("project", &id)])
            .await;
        if self.settings.run_worker {
            // The boards' images are paid work: let them finish before the scenes'.
            self.wait_for_moods(client, &id).await;
        }
        let mood = moods[0].id.to_string();
        let _: () = self
            .studio(client, "choose_mood", &[("project", &id), ("mood", &mood)])
            .await;
        let view: StoryboardView = self
            .studio(client, "plan_storyboard", &[("project", &id)])
            .await;
        (id, view)
    }

    pub async fn stream(
        &self,
        client: &Client,
        storyboard: &str,
        last_event_id: Option<i64>,
    ) -> reqwest::Response {
        let mut request = client.get(self.url(&format!("/api/storyboards/{storyboard}/stream")));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        request.send().await.unwrap()
    }
}

#[tokio::test]
async fn the_chat_streams_the_reply_keeps_the_history_and_fills_the_brief() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app
        .create_project(&ada, "Lumen launch", "9:16")
        .await
        .id
        .to_string();

    let response = app.chat(&ada, &project, ANSWERS[0]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut events = read_events(response);
    let mut tokens = Vec::new();
    let done = loop {
        let event = next_event(&mut events).await;
        match event.event.as_str() {
            "token" => tokens.push(event.data),
            "done" => break event,
            other => panic!("unexpected {other}: {}", event.data),
        }
    };
    assert!(tokens.len() > 5, "the reply comes word by word: {tokens:?}");
    let state: BriefState = serde_json::from_str(&done.data).unwrap();
    assert_eq!(state.messages.len(), 2);
    assert!(state.messages[1].content.contains("Who is the ad for?"));
    assert_eq!(state.brief.product_name, "Lumen");
    assert!(state.offline);

    for answer in &ANSWERS[1..] {
        app.chat(&ada, &project, answer).await.text().await.unwrap();
    }
    let state: BriefState = app.studio(&ada, "brief", &[("project", &project)]).await;
    assert_eq!(state.messages.len(), 10, "the whole conversation is kept");
    assert!(state.missing.is_empty(), "{:?}", state.missing);
    assert_eq!(state.brief.call_to_action, "Order yours today");

    // An edited brief is the user's: the chat no longer overwrites it.
    let saved: BriefState = app
        .studio(
            &ada,
            "save_brief",
            &[
                ("project", &project),
                ("product_name", "Lumen Pro"),
                ("audience", "Designers"),
                ("emotional_tone", "calm, premium"),
                ("visual_style", ""),
                ("key_messages", "Glare-free\nAdaptive light"),
                ("call_to_action", "Pre-order now"),
            ],
        )
        .await;
    assert_eq!(
        saved.brief.key_messages,
        vec!["Glare-free", "Adaptive light"]
    );
    app.chat(&ada, &project, "Thanks!")
        .await
        .text()
        .await
        .unwrap();
    let state: BriefState = app.studio(&ada, "brief", &[("project", &project)]).await;
    assert_eq!(state.brief.product_name, "Lumen Pro");

    let empty = app.chat(&ada, &project, "   ").await;
    assert_eq!(error_of(empty).await.0, StatusCode::BAD_REQUEST);
    let eve = app.new_user("eve@example.com").await;
    assert_eq!(
        app.chat(&eve, &project, "hello").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.count("chat_messages").await,
        12,
        "refused messages are not stored"
    );
}

#[tokio::test]
async fn mood_boards_come_with_three_images_and_one_can_be_remade_alone() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.briefed_project(&ada, "9:16").await;
    let started: Vec<MoodBoard> = app
        .studio(&ada, "generate_moods", &[("project", &project)])
        .await;
    assert_eq!(
        started.len(),
        3,
        "the boards appear at once, their images to come"
    );
    let boards = app.wait_for_moods(&ada, &project).await;
    assert_eq!(
        boards.iter().map(|b| b.id).collect::<Vec<_>>(),
        started.iter().map(|b| b.id).collect::<Vec<_>>()
    );
    let mut seen = std::collections::HashSet::new();
    for board in &boards {
        assert_eq!(board.images.len(), 3, "{}", board.mood.name);
        for link in &board.images {
            let bytes = reqwest::get(app.url(link))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert!(seen.insert(bytes.clone()), "every image is its own");
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), &bytes).unwrap();
            let probed = app::generation::ffmpeg::probe(file.path()).await.unwrap();
            assert_eq!(
                (probed.width, probed.height),
                (Some(1080), Some(1920)),
                "made in the project's format"
            );
        }
    }

    let _: Vec<MoodBoard> = app
        .studio(
            &ada,
            "generate_moods",
            &[("project", &project), ("position", "1")],
        )
        .await;
    let remade = app.wait_for_moods(&ada, &project).await;
    assert_eq!(remade[0].id, boards[0].id);
    assert_eq!(remade[2].id, boards[2].id);
    assert_ne!(remade[1].id, boards[1].id);
    assert_ne!(remade[1].mood.name, boards[1].mood.name);
    assert_eq!(remade[1].images.len(), 3);
}

#[tokio::test]
async fn a_storyboard_goes_from_chat_to_approved_clips_with_live_events() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    assert!((5..=7).contains(&view.scenes.len()));
    assert_eq!(view.scenes.iter().map(|s| s.duration_secs).sum::<u32>(), 30);
    let storyboard = view.id.to_string();
    let mut events = read_events(app.stream(&ada, &storyboard, None).await);
    // A fresh page gets every scene first.
    for _ in 0..view.scenes.len() {
        assert_eq!(next_event(&mut events).await.event, "scene_update");
    }

    let approved: usize = app
        .studio(
            &ada,
            "approve_all",
            &[("storyboard", &storyboard), ("stage", "text")],
        )
        .await;
    assert_eq!(approved, view.scenes.len());
    let images = app
        .wait_for(&ada, &project, "every image", |v| {
            v.scenes
                .iter()
                .all(|s| s.image_status == app::storyboard::GenStatus::Ready)
        })
        .await;
    assert!(images.scenes.iter().all(|s| s.image_url.is_some()));
    // Every line was spoken (offline: espeak-ng) and fits its scene.
    let spoken = app
        .wait_for(&ada, &project, "every line spoken", |v| {
            v.scenes
                .iter()
                .all(|s| s.voice_status == app::storyboard::GenStatus::Ready)
        })
        .await;
    for scene in &spoken.scenes {
        assert!(!scene.voiceover.is_empty(), "the director wrote a line");
        assert!(scene.voice_ms.unwrap() > 300, "{scene:?}");
        assert!(
            scene.voice_url.is_some() && !scene.voice_too_long,
            "{scene:?}"
        );
    }
    let _: usize = app
        .studio(
            &ada,
            "approve_all",
            &[("storyboard", &storyboard), ("stage", "image")],
        )
        .await;
    let clips = app
        .wait_for(&ada, &project, "every clip", |v| {
            v.scenes
                .iter()
                .all(|s| s.video_status == app::storyboard::GenStatus::Ready)
        })
        .await;
    // Each clip lasts as long as its scene.
    let first = &clips.scenes[0];
    let bytes = reqwest::get(app.url(first.video_url.as_ref().unwrap()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    let probed = app::generation::ffmpeg::probe(file.path()).await.unwrap();
    assert!((probed.duration_secs.unwrap() - first.duration_secs as f64).abs() < 0.1);

    let _: usize = app
        .studio(
            &ada,
            "approve_all",
            &[("storyboard", &storyboard), ("stage", "video")],
        )
        .await;
    let done = app.storyboard(&ada, &project).await;
    assert!(done.complete());

    // The stream saw every stage of every scene, in order, ending with completion.
    let mut last_id = 0i64;
    let mut seen_running = 0;
    loop {
        let event = next_event(&mut events).await;
        let id: i64 = event.id.as_deref().unwrap().parse().unwrap();
        assert!(id > last_id, "ids increase: {id} after {last_id}");
        last_id = id;
        if let Ok(StoryboardEvent::SceneUpdate {
            scene: Some(scene), ..
        }) = serde_json::from_str::<StoryboardEvent>(&event.data)
        {
            if scene.video_status == app::storyboard::GenStatus::Running {
                seen_running += 1;
            }
        }
        if event.event == "storyboard_complete" {
            break;
        }
    }
    assert_eq!(
        seen_running,
        view.scenes.len(),
        "each clip was seen running"
    );
    assert_eq!(last_id, done.last_event_id);
    let step: i16 = sqlx::query_scalar("SELECT step FROM projects WHERE id = $1::uuid")
        .bind(&project)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(step, 4, "the final step is open");
    let cost: i64 = sqlx::query_scalar("SELECT count(*) FROM assets WHERE project_id = $1::uuid")
        .bind(&project)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        cost as usize,
        9 + 3 * view.scenes.len(),
        "three images for each of three moods, seed images, clips, spoken lines"
    );
    app.assert_no_jobs_left().await;
}

#[tokio::test]
async fn a_reconnecting_stream_gets_exactly_what_it_missed() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    let storyboard = view.id.to_string();
    let scenes: Vec<String> = view.scenes.iter().map(|s| s.id.to_string()).collect();
    let seen = view.last_event_id;
    // Changes made while the client is away.
    for (i, scene) in scenes.iter().take(3).enumerate() {
        let text = format!("Edited {i}");
        let _: () = app
            .studio(
                &ada,
                "scene",
                &[("scene", scene), ("action", "edit_text"), ("text", &text)],
            )
            .await;
    }
    let _: () = app
        .studio(
            &ada,
            "move_scene",
            &[("scene", &scenes[4]), ("position", "2")],
        )
        .await;
    let now = app.storyboard(&ada, &project).await.last_event_id;
    assert!(now >= seen + 4);

    let mut events = read_events(app.stream(&ada, &storyboard, Some(seen)).await);
    let mut ids = Vec::new();
    while ids.last() != Some(&now) {
        let event = next_event(&mut events).await;
        ids.push(event.id.unwrap().parse::<i64>().unwrap());
    }
    assert_eq!(
        ids,
        ((seen + 1)..=now).collect::<Vec<_>>(),
        "no gaps, no repeats"
    );

    // Live events follow on the same stream.
    app.edit_text(&ada, &scenes[0], "Live").await;
    let live = next_event(&mut events).await;
    assert_eq!(live.id.unwrap().parse::<i64>().unwrap(), now + 1);
    assert!(live.data.contains("\"Live\""));
}

#[tokio::test]
async fn an_action_on_one_instance_reaches_a_stream_on_another() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let (_, view) = app.planned_project(&ada).await;
    let other = app.another_instance().await;
    let response = ada
        .get(format!("{other}/api/storyboards/{}/stream", view.id))
        .header("last-event-id", view.last_event_id.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut events = read_events(response);
    // Give the stream a moment to be listening, then act on the first instance.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let scene = view.scenes[1].id.to_string();
    app.edit_text(&ada, &scene, "From instance one").await;
    let event = next_event(&mut events).await;
    assert_eq!(event.event, "scene_update");
    assert!(event.data.contains("From instance one"));
}

#[tokio::test]
async fn other_users_and_anonymous_requests_cannot_reach_a_storyboard() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    let eve = app.new_user("eve@example.com").await;
    let storyboard = view.id.to_string();
    let scene = view.scenes[0].id.to_string();

    assert_eq!(
        app.stream(&eve, &storyboard, None).await.status(),
        StatusCode::NOT_FOUND
    );
    let anonymous = crate::helpers::browser();
    assert_eq!(
        app.stream(&anonymous, &storyboard, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.stream(&ada, "not-an-id", None).await.status(),
        StatusCode::NOT_FOUND
    );

    let before = app.storyboard(&ada, &project).await;
    for (endpoint, form) in [
        (
            "studio/scene",
            vec![("scene", scene.as_str()), ("action", "approve_text")],
        ),
        ("studio/delete_scene", vec![("scene", scene.as_str())]),
        (
            "studio/set_duration",
            vec![("scene", scene.as_str()), ("seconds", "4")],
        ),
        (
            "studio/approve_all",
            vec![("storyboard", storyboard.as_str()), ("stage", "text")],
        ),
        ("studio/storyboard", vec![("project", project.as_str())]),
    ] {
        let response = app.call_as(&eve, endpoint, &form).await;
        assert_eq!(
            error_of(response).await.0,
            StatusCode::NOT_FOUND,
            "{endpoint}"
        );
    }
    assert_eq!(
        app.storyboard(&ada, &project).await,
        before,
        "nothing changed"
    );
}

#[tokio::test]
async fn invalid_changes_are_refused_with_a_reason_and_change_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    let storyboard = view.id.to_string();
    let scene = view.scenes[0].id.to_string();
    let before = app.storyboard(&ada, &project).await;

    type Form<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Form, &str)> = vec![
        (
            "studio/set_duration",
            vec![("scene", &scene), ("seconds", "11")],
            "3 to 10 seconds",
        ),
        (
            "studio/set_duration",
            vec![("scene", &scene), ("seconds", "2")],
            "3 to 10 seconds",
        ),
        (
            "studio/set_duration",
            vec![("scene", &scene), ("seconds", "-1")],
            "malformed",
        ),
        (
            "studio/scene",
            vec![("scene", &scene), ("action", "edit_text"), ("text", "   ")],
            "needs some text",
        ),
        (
            "studio/scene",
            vec![("scene", &scene), ("action", "fly")],
            "Unknown scene action",
        ),
        (
            "studio/scene",
            vec![("scene", &scene), ("action", "approve_image")],
            "not ready",
        ),
        (
            "studio/move_scene",
            vec![("scene", &scene), ("position", "9")],
            "positions 1 to",
        ),
        (
            "studio/approve_all",
            vec![("storyboard", &storyboard), ("stage", "everything")],
            "Approve all of",
        ),
        (
            "studio/plan_storyboard",
            vec![("project", &project), ("target_secs", "200")],
            "between 15 and 70",
        ),
        (
            "studio/plan_storyboard",
            vec![("project", &project)],
            "already has a storyboard",
        ),
    ];
    for (endpoint, form, reason) in cases {
        let response = app.call_as(&ada, endpoint, &form).await;
        let (status, error) = error_of(response).await;
        assert!(status.is_client_error(), "{endpoint} {form:?}: {status}");
        assert!(
            error.to_string().contains(reason),
            "{endpoint} {form:?}: {error}"
        );
    }
    let long = "x".repeat(401);
    let response = app
        .call_as(
            &ada,
            "studio/scene",
            &[("scene", &scene), ("action", "edit_text"), ("text", &long)],
        )
        .await;
    assert_eq!(error_of(response).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.storyboard(&ada, &project).await,
        before,
        "nothing changed"
    );

    // Too few and too many scenes.
    let mut count = view.scenes.len();
    while count > 5 {
        let id = app.storyboard(&ada, &project).await.scenes[0]
            .id
            .to_string();
        let _: () = app.studio(&ada, "delete_scene", &[("scene", &id)]).await;
        count -= 1;
    }
    let id = app.storyboard(&ada, &project).await.scenes[0]
        .id
        .to_string();
    let (status, error) = error_of(
        app.call_as(&ada, "studio/delete_scene", &[("scene", &id)])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.to_string().contains("at least 5"), "{error}");
    for _ in 5..7 {
        let _: uuid::Uuid = app
            .studio(
                &ada,
                "add_scene",
                &[
                    ("storyboard", &storyboard),
                    ("after", "1"),
                    ("text", "A new scene"),
                ],
            )
            .await;
    }
    let (status, error) = error_of(
        app.call_as(
            &ada,
            "studio/add_scene",
            &[
                ("storyboard", &storyboard),
                ("after", "1"),
                ("text", "One too many"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.to_string().contains("at most 7"), "{error}");
    let after = app.storyboard(&ada, &project).await;
    assert_eq!(after.scenes.len(), 7);
    assert_eq!(
        after.scenes.iter().map(|s| s.duration_secs).sum::<u32>(),
        30,
        "still 30 s"
    );
    assert_eq!(after.scenes[2].text, "A new scene", "added after scene 2");
}

#[tokio::test]
async fn changing_a_duration_rebalances_the_others() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    let scene = view.scenes[1].id.to_string();
    let _: () = app
        .studio(&ada, "set_duration", &[("scene", &scene), ("seconds", "9")])
        .await;
    let after = app.storyboard(&ada, &project).await;
    assert_eq!(after.scenes[1].duration_secs, 9);
    assert_eq!(
        after.scenes.iter().map(|s| s.duration_secs).sum::<u32>(),
        30
    );
}

#[tokio::test]
async fn control_characters_in_a_brief_a_message_or_a_scene_are_refused_and_change_nothing() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    let before: BriefState = app.studio(&ada, "brief", &[("project", &project)]).await;
    let (status, error) = error_of(
        app.call_as(
            &ada,
            "studio/save_brief",
            &[
                ("project", &project),
                ("product_name", "Lumen\0Pro"),
                ("audience", "Designers"),
                ("emotional_tone", "calm"),
                ("visual_style", ""),
                ("key_messages", "Glare-free"),
                ("call_to_action", "Pre-order now"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.to_string().contains("control characters"), "{error}");
    let after: BriefState = app.studio(&ada, "brief", &[("project", &project)]).await;
    assert_eq!(after, before);

    let response = app.chat(&ada, &project, "hello\u{0}there").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let after: BriefState = app.studio(&ada, "brief", &[("project", &project)]).await;
    assert_eq!(after.messages.len(), before.messages.len());

    let scene = view.scenes[0].id.to_string();
    let (status, _) = error_of(
        app.call_as(
            &ada,
            "studio/scene",
            &[
                ("scene", &scene),
                ("action", "edit_text"),
                ("text", "bad\u{7}bell"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.storyboard(&ada, &project).await.scenes[0].text,
        view.scenes[0].text
    );
}

/// Drains a stream until it ends; false if it is still open after `within`.
async fn ends_within(events: &mut mpsc::UnboundedReceiver<Received>, within: Duration) -> bool {
    tokio::time::timeout(within, async { while events.recv().await.is_some() {} })
        .await
        .is_ok()
}

#[tokio::test]
async fn live_views_are_capped_per_account_and_end_at_log_out() {
    let app = TestApp::spawn_with(crate::helpers::TestSettings {
        streams_per_account: Some(2),
        ..Default::default()
    })
    .await;
    let ada = app.new_user("ada@example.com").await;
    let (_, view) = app.planned_project(&ada).await;
    let storyboard = view.id.to_string();
    let first = app.stream(&ada, &storyboard, None).await;
    let second = app.stream(&ada, &storyboard, None).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    let third = app.stream(&ada, &storyboard, None).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key("retry-after"));
    let (_, error) = error_of(third).await;
    assert!(error.to_string().contains("live views"), "{error}");
    // Another account is not held up by Ada's.
    let bob = app.new_user("bob@example.com").await;
    let project = app.create_project(&bob, "Bob's", "1:1").await;
    let bobs = bob
        .get(app.url(&format!("/api/projects/{}/stream", project.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(bobs.status(), StatusCode::OK);

    // Logging out ends Ada's open streams, and gives their places back.
    let (mut first, mut second) = (read_events(first), read_events(second));
    let response = app.call_as(&ada, "logout", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let within = app::events::viewers::RECHECK * 3;
    assert!(
        ends_within(&mut first, within).await,
        "a stream outlived its log-out"
    );
    assert!(
        ends_within(&mut second, within).await,
        "a stream outlived its log-out"
    );
    let response = app
        .call_as(
            &ada,
            "login",
            &[
                ("email", "ada@example.com"),
                ("password", crate::helpers::PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let again = app.stream(&ada, &storyboard, None).await;
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_conversation_past_its_length_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.create_project(&ada, "Chatty", "1:1").await;
    sqlx::query(
        "INSERT INTO chat_messages (project_id, role, content)
         SELECT $1, CASE WHEN n % 2 = 0 THEN 'user' ELSE 'assistant' END, 'message ' || n
         FROM generate_series(1, $2) AS n",
    )
    .bind(project.id)
    .bind(app::brief::chat::MAX_CHAT_MESSAGES as i32)
    .execute(&app.pool)
    .await
    .unwrap();
    let response = app.chat(&ada, &project.id.to_string(), "one more").await;
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        error.to_string().contains("edit the brief directly"),
        "{error}"
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM chat_messages WHERE project_id = $1")
        .bind(project.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, app::brief::chat::MAX_CHAT_MESSAGES as i64);
}
