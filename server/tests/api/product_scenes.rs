//! Scenes made from the user's product photo: a reference model gets a link to the photo
//! that our storage serves (Replicate, faked by an in-test server speaking its wire
//! format), the offline provider sets the photo into the picture, and a mood shot is
//! made from words alone.

use crate::helpers::{browser, replicate_worker, TestApp};
use crate::product::studio_shot;
use app::storyboard::{GenStatus, SceneView, StoryboardView};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio_util::sync::CancellationToken;
use wiremock::{
    matchers::{method, path, path_regex},
    Mock, MockServer, Request, Respond, ResponseTemplate,
};

/// The share of a picture's pixels in the product's red (the studio shot's block).
fn product_share(png: &[u8]) -> f64 {
    let image = image::load_from_memory(png).unwrap().to_rgb8();
    let red = image
        .pixels()
        .filter(|p| p[0].abs_diff(190) < 24 && p[1].abs_diff(30) < 24 && p[2].abs_diff(40) < 24)
        .count();
    red as f64 / (image.width() * image.height()) as f64
}

fn mood_shot(view: &StoryboardView) -> &SceneView {
    view.scenes
        .iter()
        .find(|s| !s.shows_product)
        .expect("the director plans a mood shot (the hook)")
}

fn product_scene(view: &StoryboardView) -> &SceneView {
    view.scenes
        .iter()
        .find(|s| s.shows_product)
        .expect("the director plans product scenes")
}

/// Replicate's answer to creating a prediction that finished at once.
async fn instant_model(server: &MockServer, model: &str, id: &str, image: Vec<u8>) {
    Mock::given(method("POST"))
        .and(path(format!("/v1/models/{model}/predictions")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": id,
            "status": "succeeded",
            "output": [format!("{}/files/{id}.png", server.uri())],
            "error": null,
        })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/files/{id}.png")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(image))
        .mount(server)
        .await;
}

/// A worker making scene images with Replicate at `server`, which reaches our stored
/// files at the app's address; stopped by cancelling the token.
fn image_worker(
    app: &TestApp,
    server: &MockServer,
    work: &std::path::Path,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    // The lines are spoken too: the clip's length waits for them.
    let jobs = app::jobs::Registry::default()
        .register::<app::storyboard::jobs::SceneImage>()
        .register::<app::storyboard::voice::SceneVoice>();
    let mut worker = replicate_worker(
        app.pool.clone(),
        app.storage.clone(),
        &server.uri(),
        work,
        jobs,
    );
    worker.settings.public_url = Some(app.address.clone());
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));
    (stop, running)
}

/// The inputs of the predictions created on `model`.
async fn inputs_sent(server: &MockServer, model: &str) -> Vec<Value> {
    let create = format!("/v1/models/{model}/predictions");
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == create)
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["input"].clone())
        .collect()
}

#[tokio::test]
async fn a_product_scene_sends_replicate_a_link_to_its_photo_and_a_mood_shot_does_not() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, _) = app.planned_project(&ada).await;
    let photos = app
        .uploaded(&ada, &project, "lamp.png", studio_shot())
        .await;
    let kept_photo = app.fetch_bytes(&ada, &photos[0].url).await;
    let view = app.storyboard(&ada, &project).await;
    assert!(view.has_product_photos);
    let (mood, product) = (mood_shot(&view).clone(), product_scene(&view).clone());
    assert!(
        view.prices.product_image_microusd >= view.prices.image_microusd,
        "a reference-guided image is priced as such"
    );

    let server = MockServer::start().await;
    let made = studio_shot();
    instant_model(
        &server,
        "black-forest-labs/flux-kontext-pro",
        "p-kontext",
        made.clone(),
    )
    .await;
    instant_model(&server, "black-forest-labs/flux-schnell", "p-schnell", made).await;
    for scene in [&mood, &product] {
        app.act(&ada, &scene.id.to_string(), "approve_text").await;
    }
    let work = tempfile::tempdir().unwrap();
    let (stop, running) = image_worker(&app, &server, work.path());
    app.wait_for(&ada, &project, "both images", |view| {
        view.scenes
            .iter()
            .filter(|s| s.id == mood.id || s.id == product.id)
            .all(|s| s.image_status == GenStatus::Ready)
    })
    .await;
    stop.cancel();
    running.await.unwrap();

    // The product scene went to the reference model, with a link our storage serves to
    // anyone holding it (Replicate has no cookie), and a prompt to keep the product.
    let kontext = inputs_sent(&server, "black-forest-labs/flux-kontext-pro").await;
    assert_eq!(kontext.len(), 1, "one prediction for the product scene");
    let link = kontext[0]["input_image"].as_str().expect("input_image");
    assert!(
        link.starts_with(&format!("{}/files/", app.address)),
        "{link}"
    );
    let fetched = browser().get(link).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), kept_photo);
    let prompt = kontext[0]["prompt"].as_str().unwrap();
    assert!(prompt.contains("Keep the product from the photo exactly as it is"));
    assert!(prompt.contains(&product.visual), "{prompt}");

    // The mood shot was made from words by the text-to-image model.
    let schnell = inputs_sent(&server, "black-forest-labs/flux-schnell").await;
    assert_eq!(schnell.len(), 1, "one prediction for the mood shot");
    assert!(schnell[0].get("input_image").is_none(), "{}", schnell[0]);
    assert_eq!(schnell[0]["prompt"], json!(mood.visual));

    // Each image cost its model's price.
    let costs: Vec<(String, i64)> = sqlx::query_as(
        "SELECT prediction_id, cost_microusd FROM assets WHERE kind = 'image' AND prediction_id IS NOT NULL
         ORDER BY prediction_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        costs,
        [
            ("p-kontext".to_string(), 40_000),
            ("p-schnell".to_string(), 3_000)
        ]
    );
}

#[tokio::test]
async fn offline_product_scenes_show_the_photo_through_to_the_clip() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, _) = app.planned_project(&ada).await;
    app.uploaded(&ada, &project, "lamp.png", studio_shot())
        .await;
    let view = app.storyboard(&ada, &project).await;
    let (mood, product) = (mood_shot(&view).id, product_scene(&view).id);
    for scene in [mood, product] {
        app.act(&ada, &scene.to_string(), "approve_text").await;
    }
    let ready = |view: &StoryboardView, id, stage: fn(&SceneView) -> GenStatus| {
        view.scenes
            .iter()
            .any(|s| s.id == id && stage(s) == GenStatus::Ready)
    };
    let view = app
        .wait_for(&ada, &project, "both images", |view| {
            ready(view, mood, |s| s.image_status) && ready(view, product, |s| s.image_status)
        })
        .await;
    let image_of = |view: &StoryboardView, id| {
        view.scenes
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| s.image_url.clone())
            .unwrap()
    };
    let product_image = app.fetch_bytes(&ada, &image_of(&view, product)).await;
    let mood_image = app.fetch_bytes(&ada, &image_of(&view, mood)).await;
    let (in_product, in_mood) = (product_share(&product_image), product_share(&mood_image));
    assert!(
        in_product > 0.04,
        "the product covers {in_product:.3} of its scene"
    );
    assert!(
        in_mood < 0.005,
        "the mood shot shows no product ({in_mood:.3})"
    );
    // The product check found it, and kept its score; a mood shot is not checked.
    let scene_of =
        |view: &StoryboardView, id| view.scenes.iter().find(|s| s.id == id).cloned().unwrap();
    let checked = scene_of(&view, product);
    assert!(
        checked.image_match.unwrap() >= 85,
        "{:?}",
        checked.image_match
    );
    assert!(!checked.image_drift);
    assert_eq!(scene_of(&view, mood).image_match, None);

    // The clip starts from the seed image, product and all.
    app.act(&ada, &product.to_string(), "approve_image").await;
    let view = app
        .wait_for(&ada, &project, "the product scene's clip", |view| {
            ready(view, product, |s| s.video_status)
        })
        .await;
    let clip_url = view
        .scenes
        .iter()
        .find(|s| s.id == product)
        .and_then(|s| s.video_url.clone())
        .unwrap();
    let clip = app.fetch_bytes(&ada, &clip_url).await;
    let dir = tempfile::tempdir().unwrap();
    let (clip_path, frame_path) = (dir.path().join("clip.mp4"), dir.path().join("frame.png"));
    std::fs::write(&clip_path, clip).unwrap();
    let status = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(&clip_path)
        .args(["-frames:v", "1"])
        .arg(&frame_path)
        .status()
        .unwrap();
    assert!(status.success());
    let in_clip = product_share(&std::fs::read(&frame_path).unwrap());
    assert!(
        in_clip > 0.03,
        "the clip's first frame shows the product ({in_clip:.3})"
    );
    let checked = scene_of(&view, product);
    assert!(
        checked.video_match.unwrap() >= 70,
        "{:?}",
        checked.video_match
    );
    assert!(!checked.video_drift);

    // Taking the product out of the scene asks for a new image, made without it.
    app.act(&ada, &product.to_string(), "hide_product").await;
    let view = app.storyboard(&ada, &project).await;
    let scene = view.scenes.iter().find(|s| s.id == product).unwrap();
    assert!(!scene.shows_product);
    assert!(scene.text_approved && !scene.image_approved && !scene.video_approved);
    assert_eq!(scene.image_status, GenStatus::None);
    app.act(&ada, &product.to_string(), "regenerate_image")
        .await;
    let view = app
        .wait_for(&ada, &project, "the image without the product", |view| {
            ready(view, product, |s| s.image_status)
        })
        .await;
    let without = app.fetch_bytes(&ada, &image_of(&view, product)).await;
    let left = product_share(&without);
    assert!(left < 0.005, "the product is gone ({left:.3})");
}

/// Replicate making a new prediction at each create (`p-1`, `p-2`…), finished at once.
struct NewPredictions {
    made: AtomicUsize,
    files: String,
}

impl Respond for NewPredictions {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.made.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(201).set_body_json(json!({
            "id": format!("p-{n}"),
            "status": "succeeded",
            "output": [format!("{}/p-{n}.png", self.files)],
            "error": null,
        }))
    }
}

#[tokio::test]
async fn an_image_that_lost_the_product_is_made_again_once_then_waits_with_its_score() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, _) = app.planned_project(&ada).await;
    app.uploaded(&ada, &project, "lamp.png", studio_shot())
        .await;
    let view = app.storyboard(&ada, &project).await;
    let product = product_scene(&view).id;

    // The model answers with a picture of something else: a plain blue frame.
    let server = MockServer::start().await;
    let elsewhere = {
        let mut bytes = Vec::new();
        image::RgbImage::from_pixel(540, 540, image::Rgb([40, 70, 200]))
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        bytes
    };
    Mock::given(method("POST"))
        .and(path(
            "/v1/models/black-forest-labs/flux-kontext-pro/predictions",
        ))
        .respond_with(NewPredictions {
            made: AtomicUsize::new(0),
            files: format!("{}/files", server.uri()),
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/files/p-\d+\.png$"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(elsewhere))
        .mount(&server)
        .await;
    app.act(&ada, &product.to_string(), "approve_text").await;
    let work = tempfile::tempdir().unwrap();
    let (stop, running) = image_worker(&app, &server, work.path());
    let view = app
        .wait_for(&ada, &project, "the retried image", |view| {
            view.scenes.iter().any(|s| {
                s.id == product
                    && s.image_status == GenStatus::Ready
                    && s.error.as_deref().is_some_and(|e| e.contains("again:"))
            })
        })
        .await;
    // Give a wrongly queued third attempt the time to show itself.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    stop.cancel();
    running.await.unwrap();

    assert_eq!(
        inputs_sent(&server, "black-forest-labs/flux-kontext-pro")
            .await
            .len(),
        2,
        "made again exactly once"
    );
    let scene = view.scenes.iter().find(|s| s.id == product).unwrap();
    assert!(scene.image_drift);
    assert!(scene.image_match.unwrap() < 20, "{:?}", scene.image_match);
    assert!(!scene.image_approved, "it waits for the user");
    let error = scene.error.clone().unwrap();
    assert!(error.starts_with("Product drift again"), "{error}");
    // Both checks are kept with their images, and both images were paid for.
    let drifted: i64 =
        sqlx::query_scalar("SELECT count(*) FROM assets WHERE kind = 'image' AND product_drift")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(drifted, 2);
    let spent: i64 = sqlx::query_scalar(
        "SELECT sum(actual_microusd)::bigint FROM spend WHERE project_id = $1::uuid",
    )
    .bind(&project)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(spent, 80_000);
    // The user can still approve it as it is.
    app.act(&ada, &product.to_string(), "approve_image").await;
}
