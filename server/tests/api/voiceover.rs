//! The voiceover on the storyboard, with real offline speech (espeak-ng) and real clips:
//! lines spoken when a text is approved, scene lengths fitted to them before any clip is
//! asked for, a line that cannot fit stopping its clip, and changes to a line remaking
//! only its speech.

use crate::helpers::{download, error_of, TestApp, TestSettings};
use app::creative::timing::needed_secs;
use app::storyboard::{GenStatus, SceneView, StoryboardView};
use reqwest::{Client, StatusCode};

/// About 40 words: some 16 seconds spoken, more than any scene holds.
const TOO_LONG: &str = "Every single morning, before the sun is up and the coffee is brewed, \
    you reach for something that should simply work, and with this one it always does, \
    quietly and reliably, day after day, week after week, whatever the weather brings, \
    wherever your busy life happens to take you next.";

/// About 18 words: some 7 seconds spoken, more than a short scene holds.
const LONGER: &str = "Light that follows your day, bright and cool at noon, then warm and \
    soft when the evening finally comes.";

impl TestApp {
    pub(crate) async fn say(&self, client: &Client, scene: &SceneView, line: &str) {
        let id = scene.id.to_string();
        let _: () = self
            .studio(
                client,
                "scene",
                &[
                    ("scene", &id),
                    ("action", "edit_voiceover"),
                    ("voiceover", line),
                ],
            )
            .await;
    }

    pub(crate) async fn scene_jobs(&self, kind: &str, scene: &SceneView) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE kind = $1 AND payload->>'scene_id' = $2",
        )
        .bind(kind)
        .bind(scene.id.to_string())
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    async fn wait_for_scene(
        &self,
        client: &Client,
        project: &str,
        position: usize,
        what: &str,
        done: impl Fn(&SceneView) -> bool,
    ) -> StoryboardView {
        self.wait_for(client, project, what, |v| done(&v.scenes[position]))
            .await
    }
}

pub(crate) fn total(view: &StoryboardView) -> u32 {
    view.scenes.iter().map(|s| s.duration_secs).sum()
}

#[tokio::test]
async fn a_line_that_cannot_fit_stops_its_clip_until_the_director_shortens_it() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    let scene = &view.scenes[0];
    app.say(&ada, scene, TOO_LONG).await;
    app.act(&ada, &scene.id.to_string(), "approve_text").await;
    let spoken = app
        .wait_for_scene(&ada, &project, 0, "the line and the image", |s| {
            s.voice_status == GenStatus::Ready && s.image_status == GenStatus::Ready
        })
        .await;
    let said = &spoken.scenes[0];
    let ms = said.voice_ms.unwrap();
    assert!(ms > 11_000, "a long line is spoken long: {ms} ms");
    assert!(said.voice_too_long, "the card says the line does not fit");
    assert_eq!(
        said.duration_secs, scene.duration_secs,
        "no length holds it"
    );
    assert_eq!(total(&spoken), 30);

    // Approving the image would ask for the clip: refused, saying why, nothing asked.
    let response = app
        .call_as(
            &ada,
            "studio/scene",
            &[
                ("scene", &scene.id.to_string()),
                ("action", "approve_image"),
            ],
        )
        .await;
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let expected = format!(
        "This line runs {:.1} s; the scene is {} s: shorten the line or lengthen the scene.",
        f64::from(ms) / 1000.0,
        scene.duration_secs
    );
    assert_eq!(error.to_string(), expected);
    assert_eq!(
        app.scene_jobs("scene_video", scene).await,
        0,
        "no clip paid for"
    );
    // "Approve all images" passes it by too.
    let _: usize = app
        .studio(
            &ada,
            "approve_all",
            &[("storyboard", &view.id.to_string()), ("stage", "image")],
        )
        .await;
    assert_eq!(app.scene_jobs("scene_video", scene).await, 0);

    // The director's shorter line fits (the offline one cuts it by words), and then the
    // clip is asked for at the scene's fitted length.
    app.act(&ada, &scene.id.to_string(), "shorten_voiceover")
        .await;
    let fitted = app
        .wait_for_scene(&ada, &project, 0, "the shorter line", |s| {
            s.voice_status == GenStatus::Ready && s.voiceover != TOO_LONG
        })
        .await;
    let short = &fitted.scenes[0];
    assert!(
        short.voiceover.len() < TOO_LONG.len() / 2,
        "{}",
        short.voiceover
    );
    assert!(!short.voice_too_long, "{short:?}");
    assert_eq!(total(&fitted), 30);
    app.act(&ada, &scene.id.to_string(), "approve_image").await;
    let clipped = app
        .wait_for_scene(&ada, &project, 0, "the clip", |s| {
            s.video_status == GenStatus::Ready
        })
        .await;
    let clip = &clipped.scenes[0];
    let file = download(&app.url(clip.video_url.as_ref().unwrap())).await;
    let probed = app::generation::ffmpeg::probe(file.path()).await.unwrap();
    assert!(
        (probed.duration_secs.unwrap() - f64::from(clip.duration_secs)).abs() < 0.1,
        "the clip lasts the fitted {} s",
        clip.duration_secs
    );
    assert_eq!(app.scene_jobs("scene_video", scene).await, 1, "one clip");
}

#[tokio::test]
async fn a_longer_line_lengthens_its_scene_and_scenes_without_clips_give_way() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    let short = view
        .scenes
        .iter()
        .position(|s| s.duration_secs <= 5)
        .expect("a short scene");
    let scene = &view.scenes[short];
    app.say(&ada, scene, LONGER).await;
    app.act(&ada, &scene.id.to_string(), "approve_text").await;
    let fitted = app
        .wait_for_scene(&ada, &project, short, "the longer line", |s| {
            s.voice_status == GenStatus::Ready
        })
        .await;
    let said = &fitted.scenes[short];
    let needed = needed_secs(said.voice_ms.unwrap());
    assert!(
        needed > scene.duration_secs,
        "the line needs more: {needed} s"
    );
    assert_eq!(
        said.duration_secs, needed,
        "lengthened to what the line needs"
    );
    assert!(!said.voice_too_long);
    assert_eq!(total(&fitted), 30, "the storyboard keeps its length");
    assert!(fitted
        .scenes
        .iter()
        .all(|s| (3..=10).contains(&s.duration_secs)));
    assert!(
        fitted
            .scenes
            .iter()
            .all(|s| s.video_status == GenStatus::None),
        "no clip was asked for before the lengths were known"
    );
}

#[tokio::test]
async fn scenes_keep_to_the_clip_lengths_the_video_model_makes() {
    let app = TestApp::spawn_with(TestSettings {
        providers: Some(server::config::ProviderSettings {
            clip_lengths: "5,10".into(),
            ..Default::default()
        }),
        ..TestSettings::default()
    })
    .await;
    let ada = app.new_user("ada@example.com").await;
    let (_, view) = app.planned_project(&ada).await;
    assert_eq!(view.clip_lengths, vec![5, 10]);
    assert!(
        view.scenes
            .iter()
            .all(|s| [5, 10].contains(&s.duration_secs)),
        "{:?}",
        view.scenes
            .iter()
            .map(|s| s.duration_secs)
            .collect::<Vec<_>>()
    );
    assert_eq!(total(&view), 30);
    let response = app
        .call_as(
            &ada,
            "studio/set_duration",
            &[("scene", &view.scenes[0].id.to_string()), ("seconds", "7")],
        )
        .await;
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.to_string().contains("5 or 10 seconds"), "{error}");
}

#[tokio::test]
async fn changing_a_line_after_its_clip_remakes_only_the_speech() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.approved_project(&ada).await;
    let _: usize = app
        .studio(
            &ada,
            "approve_all",
            &[
                (
                    "storyboard",
                    &app.storyboard(&ada, &project).await.id.to_string(),
                ),
                ("stage", "video"),
            ],
        )
        .await;
    let before = app.storyboard(&ada, &project).await;
    assert!(before.complete());
    let scene = &before.scenes[2];
    let clips_before = app.scene_jobs("scene_video", scene).await;
    app.say(&ada, scene, "Yours.").await;
    let after = app
        .wait_for_scene(&ada, &project, 2, "the new line", |s| {
            s.voice_status == GenStatus::Ready && s.voiceover == "Yours."
        })
        .await;
    let changed = &after.scenes[2];
    assert_ne!(changed.voice_url, scene.voice_url, "new speech");
    assert!(changed.voice_ms.unwrap() < scene.voice_ms.unwrap());
    assert!(changed.video_approved, "the clip stays approved");
    assert_eq!(app.scene_jobs("scene_video", scene).await, clips_before);
    assert!(after.complete());

    // A line too long for the clip already made: the card says so, and the render waits.
    app.say(&ada, scene, TOO_LONG).await;
    app.wait_for_scene(&ada, &project, 2, "the long line", |s| s.voice_too_long)
        .await;
    let response = app
        .call_as(
            &ada,
            "render/start",
            &[("project", &project), ("music", "false"), ("volume", "50")],
        )
        .await;
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        error
            .to_string()
            .contains("Scene 3's line runs past its scene"),
        "{error}"
    );
    assert_eq!(app.scene_jobs("scene_video", scene).await, clips_before);
}

#[tokio::test]
async fn the_voice_is_chosen_per_project_or_switched_off() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    assert!(view.voice.enabled, "a new project speaks");
    assert_eq!(view.voice.voice, "en-us");
    assert!(view.voice.voices.iter().any(|v| v.id == "de"));
    app.approve_all_texts(&ada, &view).await;
    let spoken = app
        .wait_for(&ada, &project, "every line", |v| {
            v.scenes.iter().all(|s| s.voice_status == GenStatus::Ready)
        })
        .await;

    let response = app
        .call_as(
            &ada,
            "studio/set_voice",
            &[
                ("project", &project),
                ("enabled", "true"),
                ("voice", "klingon"),
            ],
        )
        .await;
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.to_string().contains("There is no voice"), "{error}");
    assert_eq!(app.storyboard(&ada, &project).await.voice, spoken.voice);

    // Another voice speaks every approved line again.
    let _: () = app
        .studio(
            &ada,
            "set_voice",
            &[("project", &project), ("enabled", "true"), ("voice", "de")],
        )
        .await;
    let german = app
        .wait_for(&ada, &project, "every line in German", |v| {
            v.scenes.iter().all(|s| s.voice_status == GenStatus::Ready)
        })
        .await;
    assert_eq!(german.voice.voice, "de");
    for (old, new) in spoken.scenes.iter().zip(&german.scenes) {
        assert_ne!(old.voice_url, new.voice_url, "spoken again");
    }

    // No voiceover: nothing is spoken, and clips are asked for without waiting.
    let _: () = app
        .studio(
            &ada,
            "set_voice",
            &[("project", &project), ("enabled", "false")],
        )
        .await;
    let silent = app.storyboard(&ada, &project).await;
    assert!(!silent.voice.enabled);
    assert!(silent
        .scenes
        .iter()
        .all(|s| s.voice_status == GenStatus::None && s.voice_url.is_none()));
    app.wait_for(&ada, &project, "every image", |v| {
        v.scenes.iter().all(|s| s.image_status == GenStatus::Ready)
    })
    .await;
    let scene = silent.scenes[0].id.to_string();
    app.act(&ada, &scene, "approve_image").await;
    assert_eq!(app.scene_jobs("scene_video", &silent.scenes[0]).await, 1);
}

/// Parses `hh:mm:ss.mmm --> hh:mm:ss.mmm` lines (WebVTT, or SRT with commas).
fn cue_times(file: &str) -> Vec<(f64, f64)> {
    let secs = |clock: &str| -> f64 {
        let parts: Vec<f64> = clock
            .trim()
            .replace(',', ".")
            .split(':')
            .map(|p| p.parse().unwrap())
            .collect();
        parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
    };
    file.lines()
        .filter_map(|line| line.split_once(" --> "))
        .map(|(from, to)| (secs(from), secs(to)))
        .collect()
}

#[tokio::test]
async fn a_render_burns_in_captions_and_offers_them_as_srt_webvtt_and_a_shared_track() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.approved_project(&ada).await;
    let board = app.storyboard(&ada, &project).await;
    let _: usize = app
        .studio(
            &ada,
            "approve_all",
            &[("storyboard", &board.id.to_string()), ("stage", "video")],
        )
        .await;
    let response = app
        .call_as(
            &ada,
            "render/start",
            &[
                ("project", &project),
                ("music", "false"),
                ("volume", "0"),
                ("captions", "karaoke"),
            ],
        )
        .await;
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.to_string().contains("lower_third"), "{error}");

    let _: app::render::FinalState = serde_json::from_str(
        &app.call_as(
            &ada,
            "render/start",
            &[
                ("project", &project),
                ("music", "false"),
                ("volume", "0"),
                ("captions", "boxed"),
            ],
        )
        .await
        .text()
        .await
        .unwrap(),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let render = loop {
        let state = app.final_state(&ada, &project).await;
        let render = state.renders[0].clone();
        if render.finished() {
            break render;
        }
        assert!(started.elapsed().as_secs() < 240, "the render finishes");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    assert_eq!(render.status, "succeeded", "{:?}", render.error);
    let vtt_url = render.captions_vtt_url.clone().expect("captions");
    let vtt = ada.get(app.url(&vtt_url)).send().await.unwrap();
    assert_eq!(vtt.headers()["content-type"], "text/vtt; charset=utf-8");
    let vtt = vtt.text().await.unwrap();
    let srt = ada
        .get(app.url(render.captions_srt_url.as_ref().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(vtt.starts_with("WEBVTT"));
    let times = cue_times(&vtt);
    assert_eq!(times, cue_times(&srt), "SRT and WebVTT agree");
    // Every scene's line is captioned, in order, within the video and its own scene.
    assert!(times.len() >= board.scenes.len(), "{vtt}");
    assert!(times.windows(2).all(|pair| pair[0].1 <= pair[1].0 + 1e-3));
    let length = f64::from(render.duration_ms.unwrap()) / 1000.0;
    assert!(times.last().unwrap().1 <= length);
    let first_scene = f64::from(board.scenes[0].duration_secs);
    assert!(times[0].0 > 0.1 && times[0].0 < first_scene, "{times:?}");
    for scene in &board.scenes {
        let first_word = scene.voiceover.split_whitespace().next().unwrap();
        assert!(vtt.contains(first_word), "{first_word} in {vtt}");
    }
    // Someone else gets nothing.
    let eve = app.new_user("eve@example.com").await;
    let other = eve.get(app.url(&vtt_url)).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);

    // The share page's player offers them as a track, through the share link.
    let token: String = app
        .call_as(&ada, "render/share", &[("render", &render.id.to_string())])
        .await
        .json()
        .await
        .unwrap();
    let page = reqwest::get(app.url(&format!("/s/{token}")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("/s/{token}/captions.vtt")) && page.contains("<track"),
        "the share page has a captions track"
    );
    let shared = reqwest::get(app.url(&format!("/s/{token}/captions.vtt")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(shared, vtt);
}

#[tokio::test]
async fn a_voice_can_be_heard_before_it_is_chosen_and_its_sample_is_made_once() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let hear = |voice: &str| {
        ada.get(app.url(&format!("/api/voices/{voice}/sample")))
            .send()
    };

    let response = hear("de").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    let german = response.bytes().await.unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &german).unwrap();
    let probed = app::generation::ffmpeg::probe(file.path()).await.unwrap();
    let secs = probed.duration_secs.unwrap();
    assert!((1.0..8.0).contains(&secs), "a short sample: {secs} s");

    // Kept in storage under the model and voice: the next listener gets the same file.
    let key = app::storyboard::voice_sample::sample_key("espeak-ng", "de").unwrap();
    assert_eq!(app.storage.get_bytes(&key).await.unwrap(), german);
    let again = hear("de").await.unwrap().bytes().await.unwrap();
    assert_eq!(again, german);
    // Another voice speaks its own language's sample.
    let english = hear("en-us+f3").await.unwrap().bytes().await.unwrap();
    assert_ne!(english, german);

    // A voice the provider does not offer, and a stranger, get nothing.
    assert_eq!(
        hear("klingon").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let stranger = crate::helpers::browser()
        .get(app.url("/api/voices/de/sample"))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), StatusCode::UNAUTHORIZED);
}
