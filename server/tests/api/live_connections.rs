//! Live streams asked for on a connection of their own, which the server carries itself
//! rather than through hyper (`server/src/live_connections.rs`): spoken to here byte by
//! byte, as a browser's or a proxy's connection would.

use crate::helpers::{TestApp, TestSettings, PASSWORD};
use reqwest::{header, Client, StatusCode};
use std::time::Duration;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// A new account's session cookie (`name=value`), and a client that sends it.
async fn signed_up(app: &TestApp, email: &str) -> (String, Client) {
    let response = app
        .call_as(
            &Client::new(),
            "signup",
            &[("email", email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("reelsmith_session="))
        .and_then(|value| value.split(';').next())
        .expect("a session cookie")
        .to_string();
    let mut headers = header::HeaderMap::new();
    headers.insert(header::COOKIE, cookie.parse().unwrap());
    let client = Client::builder().default_headers(headers).build().unwrap();
    (cookie, client)
}

/// A connection that opens with `head` (the request line and headers, without the blank
/// line that ends them).
async fn open(app: &TestApp, head: &str) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    let mut connection = TcpStream::connect(address).await.unwrap();
    connection
        .write_all(format!("{head}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    connection
}

/// Reads until what arrived contains `needle`; panics after a few seconds without it.
async fn read_until(connection: &mut TcpStream, arrived: &mut Vec<u8>, needle: &str) {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while !String::from_utf8_lossy(arrived).contains(needle) {
            let mut chunk = [0u8; 4096];
            let read = connection.read(&mut chunk).await.unwrap();
            assert!(
                read > 0,
                "closed before {needle:?}: {}",
                String::from_utf8_lossy(arrived)
            );
            arrived.extend_from_slice(&chunk[..read]);
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "no {needle:?} in: {}",
        String::from_utf8_lossy(arrived)
    );
}

/// Everything the server sends until it closes the connection.
async fn read_to_close(mut connection: TcpStream) -> String {
    let mut arrived = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        connection.read_to_end(&mut arrived),
    )
    .await
    .expect("the server closes the connection")
    .unwrap();
    String::from_utf8_lossy(&arrived).into_owned()
}

#[tokio::test]
async fn a_stream_on_its_own_connection_sends_each_edit_and_its_viewer_leaving_frees_its_place() {
    let app = TestApp::spawn_with(TestSettings {
        streams_per_account: Some(1),
        ..TestSettings::default()
    })
    .await;
    let (cookie, ada) = signed_up(&app, "ada@example.com").await;
    let (_, view) = app.planned_project(&ada).await;
    let storyboard = view.id;
    let head = format!(
        "GET /api/storyboards/{storyboard}/stream HTTP/1.1\r\nHost: reelsmith.test\r\n\
         Accept: text/event-stream\r\nCookie: {cookie}"
    );
    let mut stream = open(&app, &head).await;
    let mut arrived = Vec::new();
    read_until(&mut stream, &mut arrived, "event: scene_update").await;
    let text = String::from_utf8_lossy(&arrived).to_lowercase();
    assert!(text.starts_with("http/1.1 200 ok\r\n"), "{text}");
    for header in [
        "content-type: text/event-stream",
        "transfer-encoding: chunked",
        "connection: close",
        "x-request-id: ",
        "date: ",
    ] {
        assert!(text.contains(header), "no {header:?} in {text}");
    }

    // An edit reaches the open stream as it is made.
    let scene = view.scenes[0].id.to_string();
    let response = app
        .call_as(
            &ada,
            "studio/scene",
            &[
                ("scene", scene.as_str()),
                ("action", "edit_text"),
                ("text", "Morning light, carried by its own connection ☀️"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    read_until(&mut stream, &mut arrived, "carried by its own connection").await;

    // Ada may watch one stream at a time: a second is refused while this one is open...
    let url = app.url(&format!("/api/storyboards/{storyboard}/stream"));
    let second = ada.get(&url).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...and allowed as soon as she closes it, not at its next keep-alive (15 s).
    drop(stream);
    let started = std::time::Instant::now();
    loop {
        let again = ada.get(&url).send().await.unwrap();
        if again.status() == StatusCode::OK {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the closed stream still holds Ada's place ({})",
            again.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_stream_request_that_cannot_be_served_gets_its_status_and_the_server_goes_on() {
    let app = TestApp::spawn().await;
    let storyboard = uuid::Uuid::new_v4();

    // Not logged in: the app's own answer, whole, then the connection closes.
    let refused = open(
        &app,
        &format!("GET /api/storyboards/{storyboard}/stream HTTP/1.1\r\nHost: reelsmith.test"),
    )
    .await;
    let answer = read_to_close(refused).await;
    assert!(
        answer.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{answer}"
    );
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains(&format!("content-length: {}", body.len())),
        "{head}"
    );
    let error: app::error::AppError = serde_json::from_str(body).expect("the app's error");
    assert!(error.to_string().contains("log in"), "{error}");

    // A head that is not HTTP, and one too large to read.
    let garbled = open(
        &app,
        &format!("GET /api/storyboards/{storyboard}/stream HTTP/1.1\r\nNo colon here"),
    )
    .await;
    assert!(read_to_close(garbled)
        .await
        .starts_with("HTTP/1.1 400 Bad Request\r\n"));
    let huge = open(
        &app,
        &format!(
            "GET /api/storyboards/{storyboard}/stream HTTP/1.1\r\nCookie: {}",
            "a".repeat(20_000)
        ),
    )
    .await;
    assert!(read_to_close(huge)
        .await
        .starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));

    // Every other request is served as before.
    let page = app.client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}
