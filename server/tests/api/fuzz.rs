//! Every server function and hand-written handler fed random and hostile input (huge,
//! NUL, invalid UTF-8, wrong types, missing and unknown fields, other people's ids):
//! never a 5xx, and every refusal a readable error.

use crate::helpers::TestApp;
use reqwest::{header, StatusCode};

const ENDPOINTS: &[&str] = &[
    "projects/list",
    "projects/get",
    "projects/create",
    "projects/rename",
    "projects/duplicate",
    "projects/delete",
    "signup",
    "login",
    "me",
    "render/share",
    "render/revoke",
    "share/get",
    "studio/moods",
    "studio/generate_moods",
    "studio/choose_mood",
    "studio/storyboard",
    "studio/plan_storyboard",
    "studio/scene",
    "studio/approve_all",
    "studio/set_duration",
    "studio/move_scene",
    "studio/add_scene",
    "studio/delete_scene",
    "render/state",
    "render/music",
    "render/start",
    "render/cancel",
    "studio/brief",
    "studio/save_brief",
    "budget/project",
    "budget/month",
    "budget/set_cap",
    "product/photos",
    "product/choose_main",
    "product/delete",
];

const FIELDS: &[&str] = &[
    "project",
    "name",
    "format",
    "storyboard",
    "stage",
    "scene",
    "action",
    "text",
    "seconds",
    "position",
    "after",
    "render",
    "token",
    "mood",
    "music",
    "volume",
    "email",
    "password",
    "dollars",
    "target_secs",
    "replace",
    "product_name",
    "audience",
    "call_to_action",
    "key_messages",
    "emotional_tone",
    "visual_style",
];

/// A deterministic generator, so a failure can be replayed.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// Hostile values, form-encoded (so that invalid UTF-8 can be sent as such).
fn values(ids: &[String]) -> Vec<String> {
    let mut values: Vec<String> = [
        "",
        "%00",
        "a%00b",
        "%FF%FE%FD",
        "-1",
        "0",
        "1",
        "2",
        "99999999999999999999",
        "NaN",
        "1e308",
        "true",
        "null",
        "%5B%5D",
        "%7B%7D",
        "text",
        "image",
        "video",
        "9%3A16",
        "approve_text",
        "regenerate_video",
        "edit_text",
        "%F0%9F%8E%AC+%D8%B9%D8%B1%D8%A8%D9%8A",
        "00000000-0000-0000-0000-000000000000",
        "..%2F..%2Fetc%2Fpasswd",
        "%3Cscript%3E",
        "a%40b.c",
        "correct+horse+battery",
    ]
    .iter()
    .map(|v| v.to_string())
    .collect();
    values.push("x".repeat(200_000));
    values.push("%00".repeat(10_000));
    values.extend(ids.iter().cloned());
    values
}

#[tokio::test]
async fn hostile_input_to_every_endpoint_never_gets_a_server_error() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    let ids = vec![
        project.clone(),
        view.id.to_string(),
        view.scenes[0].id.to_string(),
        view.scenes[1].id.to_string(),
    ];
    let values = values(&ids);
    let mut dice = Dice(2026);
    let mut sent = 0;
    let mut server_errors = Vec::new();
    for endpoint in ENDPOINTS {
        for _ in 0..24 {
            let mut body = Vec::new();
            for _ in 0..dice.below(5) {
                let field = FIELDS[dice.below(FIELDS.len())];
                let value = &values[dice.below(values.len())];
                body.push(format!("{field}={value}"));
            }
            let body = body.join("&");
            let response = ada
                .post(app.url(&format!("/api/{endpoint}")))
                .header(header::ACCEPT, "application/json")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("sec-fetch-site", "same-origin")
                .header(header::ORIGIN, &app.address)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            sent += 1;
            let status = response.status();
            let text = response.text().await.unwrap();
            if status.is_server_error() {
                server_errors.push(format!(
                    "{endpoint} {status} ← {}",
                    &body[..body.len().min(200)]
                ));
            } else if !status.is_success() {
                assert!(
                    serde_json::from_str::<app::error::AppError>(&text).is_ok(),
                    "{endpoint} answered {status} without a readable error: {}",
                    &text[..text.len().min(300)]
                );
            }
        }
    }
    // The hand-written handlers: the chat's JSON, the streams' ids.
    for body in [
        "{}".to_string(),
        "not json".to_string(),
        r#"{"message": 5}"#.to_string(),
        format!(r#"{{"message": "{}"}}"#, "x".repeat(100_000)),
        r#"{"message": "a\u0000b"}"#.to_string(),
    ] {
        for target in [
            project.as_str(),
            "nonsense",
            "00000000-0000-0000-0000-000000000000",
        ] {
            let response = ada
                .post(app.url(&format!("/api/projects/{target}/chat")))
                .header(header::CONTENT_TYPE, "application/json")
                .header("sec-fetch-site", "same-origin")
                .header(header::ORIGIN, &app.address)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            sent += 1;
            if response.status().is_server_error() {
                server_errors.push(format!("chat {} ← {body:.100}", response.status()));
            }
        }
    }
    // The photo upload: broken forms, lying content types, random bytes.
    let mut random = Vec::with_capacity(4096);
    let mut dice = Dice(7);
    while random.len() < 4096 {
        random.push(dice.below(256) as u8);
    }
    let bodies: [(&str, Vec<u8>); 5] = [
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.png\"\r\n\r\n\x89PNG\r\n".to_vec()),
        ("multipart/form-data; boundary=x", b"--x--".to_vec()),
        ("multipart/form-data", random.clone()),
        ("multipart/form-data; boundary=x", [b"--x\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"\0\"\r\n\r\n".as_slice(), &random, b"\r\n--x--\r\n"].concat()),
        ("image/png", random),
    ];
    for (content_type, body) in bodies {
        for target in [
            project.as_str(),
            "nonsense",
            "00000000-0000-0000-0000-000000000000",
        ] {
            let response = ada
                .post(app.url(&format!("/api/projects/{target}/photos")))
                .header(header::CONTENT_TYPE, content_type)
                .header("sec-fetch-site", "same-origin")
                .header(header::ORIGIN, &app.address)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            sent += 1;
            if response.status().is_server_error() {
                server_errors.push(format!("photos {} ← {content_type}", response.status()));
            }
        }
    }
    for path in [
        "/api/storyboards/nonsense/stream",
        "/api/compositions/%FF/stream",
        "/api/projects/00000000-0000-0000-0000-000000000000/stream",
        "/s/short/video.mp4",
        "/s/AAAAAAAAAAAAAAAAAAAAAAAA/../../etc",
        "/files/..%2F..%2Fetc%2Fpasswd",
    ] {
        let response = ada.get(app.url(path)).send().await.unwrap();
        sent += 1;
        if response.status().is_server_error() {
            server_errors.push(format!("GET {path} {}", response.status()));
        }
    }
    eprintln!(
        "fuzz: {sent} requests, {} answered 5xx",
        server_errors.len()
    );
    assert!(server_errors.is_empty(), "{server_errors:#?}");
    // And the app still works.
    assert_eq!(
        app.call_as(&ada, "projects/list", &[]).await.status(),
        StatusCode::OK
    );
}
