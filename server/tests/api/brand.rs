//! The brand kit over HTTP: saving it, its logo and font uploads with every refusal
//! changing nothing, other users, a project's own kit and its copy, the "on brand" mood
//! board, and a render drawn with the kit, its end card inside the planned length.

use crate::helpers::{download, error_of, TestApp};
use app::brand::{channel_distance, BrandKit, ProjectBrand};
use app::generation::ffmpeg::mean_color;
use app::render::FinalState;
use image::{ImageFormat, Rgba, RgbaImage};
use reqwest::{header, multipart, Client, Response, StatusCode};
use std::io::Cursor;

const SVG_LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="300" height="100">
    <rect x="10" y="10" width="280" height="80" rx="20" fill="#1438e6"/></svg>"##;

/// A blue logo on transparency, as PNG.
fn blue_logo() -> Vec<u8> {
    let image = RgbaImage::from_fn(400, 200, |x, y| {
        if (20..380).contains(&x) && (20..180).contains(&y) {
            Rgba([20, 60, 230, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .unwrap();
    bytes
}

/// The kit's settings as the editor's form sends them.
fn settings<'a>(colors: &'a [&'a str], extra: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = colors
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("settings[colors][{i}]"), c.to_string()))
        .collect();
    let defaults = [
        ("logo_corner", "top_right"),
        ("logo_size", "0.2"),
        ("bundled_font", "sans"),
        ("use_uploaded_font", "false"),
        ("handle", "@lumen"),
        ("end_card", "true"),
        ("end_card_secs", "2"),
    ];
    for (key, value) in defaults {
        let value = extra
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(value, |(_, v)| *v);
        form.push((format!("settings[{key}]"), value.to_string()));
    }
    form
}

impl TestApp {
    async fn kit(&self, client: &Client, project: &str) -> BrandKit {
        let response = self
            .call_as(client, "brand/kit", &[("project", project)])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn save_kit(
        &self,
        client: &Client,
        project: &str,
        form: Vec<(String, String)>,
    ) -> Response {
        let mut all: Vec<(&str, &str)> = vec![("project", project)];
        all.extend(form.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.call_as(client, "brand/save", &all).await
    }

    async fn send_brand_file(
        &self,
        client: &Client,
        what: &str,
        project: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Response {
        let form = multipart::Form::new().part(
            what.to_string(),
            multipart::Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str("application/octet-stream")
                .unwrap(),
        );
        let mut url = self.url(&format!("/api/brand/{what}"));
        if !project.is_empty() {
            url.push_str(&format!("?project={project}"));
        }
        client
            .post(url)
            .header("sec-fetch-site", "same-origin")
            .header(header::ORIGIN, &self.address)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    async fn project_brand(&self, client: &Client, project: &str) -> ProjectBrand {
        let response = self
            .call_as(client, "brand/project", &[("project", project)])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

#[tokio::test]
async fn a_kit_keeps_its_settings_logo_and_font_and_refuses_bad_input_without_change() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    assert!(
        !app.kit(&ada, "").await.saved,
        "an account starts without a kit"
    );

    let response = app
        .save_kit(
            &ada,
            "",
            settings(
                &["#E63946", "fff"],
                &[
                    ("logo_corner", "bottom_left"),
                    ("bundled_font", "lato"),
                    ("end_card_secs", "2.5"),
                ],
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let kit: BrandKit = response.json().await.unwrap();
    assert!(kit.saved);
    assert_eq!(kit.settings.colors, ["#e63946", "#ffffff"]);
    assert_eq!(kit.settings.logo_corner, app::brand::Corner::BottomLeft);
    assert_eq!(kit.settings.end_card_secs, 2.5);

    // Each bad setting: a 400 naming the rule, the kit as it was.
    for (form, says) in [
        (
            settings(
                &[
                    "#000001", "#000002", "#000003", "#000004", "#000005", "#000006",
                ],
                &[],
            ),
            "1 to 5 colours",
        ),
        (settings(&["tomato"], &[]), "is not a colour"),
        (
            settings(&["#123456"], &[("end_card_secs", "5")]),
            "1.5 to 3 seconds",
        ),
        (
            settings(&["#123456"], &[("logo_size", "0.9")]),
            "logo's size",
        ),
        (
            settings(&["#123456"], &[("bundled_font", "../../etc/passwd")]),
            "fonts offered",
        ),
    ] {
        let (status, error) = error_of(app.save_kit(&ada, "", form).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(error.to_string().contains(says), "{error}");
    }
    assert_eq!(app.kit(&ada, "").await.settings, kit.settings);

    // An SVG logo is rasterised into a PNG the page can show.
    let response = app
        .send_brand_file(&ada, "logo", "", "logo.svg", SVG_LOGO.as_bytes().to_vec())
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let kit: BrandKit = response.json().await.unwrap();
    let logo = reqwest::get(app.url(kit.logo_url.as_ref().unwrap()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(image::guess_format(&logo).unwrap(), ImageFormat::Png);
    assert_eq!((kit.logo_width, kit.logo_height), (Some(1024), Some(341)));
    assert_eq!(app.count("assets").await, 1);

    // Refused uploads: a text file named .png, 16 MB, a font that is not one.
    let (status, error) = error_of(
        app.send_brand_file(&ada, "logo", "", "logo.png", b"not an image".to_vec())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        error.to_string().contains("PNG, JPEG, WebP or SVG"),
        "{error}"
    );
    let (status, error) = error_of(
        app.send_brand_file(&ada, "logo", "", "huge.png", vec![0; 16_000_000])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error.to_string().contains("15 MB"), "{error}");
    let (status, _) = error_of(
        app.send_brand_file(&ada, "font", "", "brand.ttf", b"plain text".to_vec())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.count("assets").await, 1, "nothing refused was kept");
    assert_eq!(app.kit(&ada, "").await.logo_width, Some(1024));

    // A real font, whatever it is called, is parsed and named by its family.
    let response = app
        .send_brand_file(
            &ada,
            "font",
            "",
            "brand.otf",
            app::generation::offline::FONT.to_vec(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let kit: BrandKit = response.json().await.unwrap();
    assert_eq!(kit.font_name.as_deref(), Some("DejaVu Sans"));
    assert!(kit.settings.use_uploaded_font);

    // Replacing the logo lets the old file go.
    let response = app
        .send_brand_file(&ada, "logo", "", "logo.png", blue_logo())
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(app.count("assets").await, 2, "the new logo and the font");

    // Another user sees a kit of their own and cannot reach Ada's projects' kits.
    let bob = app.new_user("bob@example.com").await;
    assert!(!app.kit(&bob, "").await.saved);
    let project = app
        .create_project(&ada, "Lumen", "9:16")
        .await
        .id
        .to_string();
    let response = app
        .call_as(&bob, "brand/kit", &[("project", &project)])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app
        .send_brand_file(&bob, "logo", &project, "logo.png", blue_logo())
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app
        .save_kit(&bob, &project, settings(&["#000000"], &[]))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Nobody logged in: 401.
    let response = app
        .send_brand_file(
            &crate::helpers::browser(),
            "logo",
            "",
            "logo.png",
            blue_logo(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("assets").await, 2);
    assert_eq!(app.count("brand_kits").await, 1);
}

#[tokio::test]
async fn the_mood_step_offers_a_board_in_the_brand_colours() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let response = app.save_kit(&ada, "", settings(&["#0a9396"], &[])).await;
    assert_eq!(response.status(), StatusCode::OK);
    let project = app.briefed_project(&ada, "1:1").await;
    let moods: Vec<app::moods::MoodBoard> = app
        .studio(&ada, "generate_moods", &[("project", &project)])
        .await;
    let on_brand: Vec<_> = moods
        .iter()
        .filter(|board| board.mood.name.starts_with("On brand"))
        .collect();
    assert_eq!(
        on_brand.len(),
        1,
        "{:?}",
        moods.iter().map(|b| &b.mood.name).collect::<Vec<_>>()
    );
    assert!(on_brand[0].mood.palette.contains(&"#0a9396".to_string()));
    assert!(on_brand[0].mood.palette_is_valid());
    assert!(moods
        .iter()
        .filter(|board| !board.mood.name.starts_with("On brand"))
        .all(|board| !board.mood.palette.contains(&"#0a9396".to_string())));
}

#[tokio::test]
async fn a_render_draws_the_projects_own_kit_and_ends_on_its_card_within_the_plan() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let response = app.save_kit(&ada, "", settings(&["#e63946"], &[])).await;
    assert_eq!(response.status(), StatusCode::OK);
    let project = app.approved_project(&ada).await;

    // The project gets a kit of its own, starting as the account's, then green.
    let response = app
        .call_as(&ada, "brand/own", &[("project", &project), ("own", "true")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let brand: ProjectBrand = response.json().await.unwrap();
    assert!(brand.own);
    assert_eq!(brand.kit.unwrap().settings.colors, ["#e63946"]);
    let response = app
        .save_kit(
            &ada,
            &project,
            settings(&["#2a9d8f", "#ffffff"], &[("end_card_secs", "2")]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .send_brand_file(&ada, "logo", &project, "logo.png", blue_logo())
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        app.kit(&ada, "").await.settings.colors,
        ["#e63946"],
        "the account's kit is untouched"
    );

    let response = app
        .call_as(
            &ada,
            "render/start",
            &[("project", &project), ("music", "false"), ("volume", "0")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // Editing the kit while the render waits changes nothing in it.
    let response = app
        .save_kit(&ada, &project, settings(&["#000000"], &[]))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let started = std::time::Instant::now();
    let done = loop {
        let state: FinalState = app.final_state(&ada, &project).await;
        let render = state.renders[0].clone();
        if render.status == "succeeded" {
            break (state, render);
        }
        assert!(!render.finished(), "{:?}", render.error);
        assert!(started.elapsed() < std::time::Duration::from_secs(240));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    let (state, render) = done;
    let file = download(&app.url(render.video_url.as_ref().unwrap())).await;
    let duration = app::generation::ffmpeg::probe(file.path())
        .await
        .unwrap()
        .duration_secs
        .unwrap();
    assert!(
        (duration - state.seconds).abs() <= 1.0 / 30.0,
        "the end card counts toward the plan: {duration} vs {}",
        state.seconds
    );
    // The logo in the top right corner over the scenes (9:16: 8% from the top, 12% from
    // the right, 20% of the width).
    let logo = (1080 - 130 - 216 + 54, 154 + 27, 108, 54);
    let seen = mean_color(file.path(), 3.0, logo).await.unwrap();
    assert!(channel_distance(seen, [20, 60, 230]) <= 40, "{seen:?}");
    // The last second: the project's green end card (not the account's red, not the
    // black saved after the render was asked for).
    let edge = mean_color(file.path(), state.seconds - 0.5, (10, 10, 60, 60))
        .await
        .unwrap();
    assert!(channel_distance(edge, [0x2a, 0x9d, 0x8f]) <= 12, "{edge:?}");

    // A copy of the project keeps its own kit; going back to the account's kit.
    let response = app
        .call_as(&ada, "projects/duplicate", &[("id", &project)])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let copy: app::projects::Project = response.json().await.unwrap();
    let copied = app.project_brand(&ada, &copy.id.to_string()).await;
    assert!(copied.own);
    let response = app
        .call_as(
            &ada,
            "brand/own",
            &[("project", &project), ("own", "false")],
        )
        .await;
    let brand: ProjectBrand = response.json().await.unwrap();
    assert!(!brand.own);
    assert_eq!(brand.kit.unwrap().settings.colors, ["#e63946"]);
    // The copy still uses the logo: its file stays.
    let copied = app.project_brand(&ada, &copy.id.to_string()).await;
    let url = copied.kit.unwrap().logo_url.unwrap();
    assert_eq!(
        reqwest::get(app.url(&url)).await.unwrap().status(),
        StatusCode::OK
    );
}
