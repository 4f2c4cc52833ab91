//! Replicate misbehaving on three requests in ten (rate limits with `Retry-After`, server
//! errors before and after making the prediction, answers that never arrive in time,
//! truncated JSON), and one more in ten reset at the TCP level (before the request reaches
//! it, or after it was made and before its answer): every scene still gets its image, and
//! no prediction is made twice.

use crate::helpers::TestApp;
use app::{
    generation::{
        offline::OfflineMedia,
        replicate::{Replicate, ReplicateSettings},
        ssr::MediaProviders,
    },
    storyboard::GenStatus,
};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_util::sync::CancellationToken;
use wiremock::{
    matchers::{method, path, path_regex},
    Mock, MockServer, Request, ResponseTemplate,
};

#[derive(Default)]
struct Ledger {
    /// Predictions made, newest first, with their inputs.
    made: Vec<serde_json::Value>,
    requests: usize,
    faults: usize,
}

type Shared = Arc<Mutex<Ledger>>;

/// A fault for three requests in ten, of a kind that varies from one to the next: the
/// same on every run.
fn fault(shared: &Shared) -> Option<u64> {
    let mut ledger = shared.lock().unwrap();
    let n = ledger.requests as u64;
    ledger.requests += 1;
    [1, 4, 7].contains(&(n % 10)).then(|| {
        ledger.faults += 1;
        (n + n / 10) % 5
    })
}

fn truncated(body: &serde_json::Value) -> ResponseTemplate {
    let text = body.to_string();
    ResponseTemplate::new(200).set_body_string(text[..text.len() / 2].to_string())
}

async fn faulty_replicate(shared: Shared) -> MockServer {
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("POST"))
        .and(path_regex(r"^/v1/models/.+/predictions$"))
        .respond_with({
            let shared = shared.clone();
            move |request: &Request| {
                let fault = fault(&shared);
                let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
                let make = || {
                    let mut guard = shared.lock().unwrap();
                    let made = &mut guard.made;
                    let prediction = serde_json::json!({
                        "id": format!("p-{}", made.len() + 1), "status": "starting",
                        "model": "black-forest-labs/flux-schnell", "input": body["input"],
                    });
                    made.insert(0, prediction.clone());
                    prediction
                };
                match fault {
                    // Refused before anything is made: rate limited, or a plain outage.
                    Some(0) => ResponseTemplate::new(429).insert_header("retry-after", "0"),
                    Some(1) => ResponseTemplate::new(500),
                    // Made, but the answer is lost: a 503, a timeout, a cut-off body.
                    Some(2) => {
                        make();
                        ResponseTemplate::new(503)
                    }
                    Some(3) => ResponseTemplate::new(201)
                        .set_body_json(make())
                        .set_delay(Duration::from_secs(3)),
                    Some(_) => truncated(&make()),
                    None => ResponseTemplate::new(201).set_body_json(make()),
                }
            }
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/predictions"))
        .respond_with({
            let shared = shared.clone();
            move |_: &Request| match fault(&shared) {
                Some(_) => ResponseTemplate::new(500),
                None => ResponseTemplate::new(200).set_body_json(
                    serde_json::json!({ "results": shared.lock().unwrap().made.clone() }),
                ),
            }
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v1/predictions/p-\d+$"))
        .respond_with({
            let shared = shared.clone();
            move |request: &Request| {
                let id = request
                    .url
                    .path()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let input = shared
                    .lock()
                    .unwrap()
                    .made
                    .iter()
                    .find(|p| p["id"] == id.as_str())
                    .map(|p| p["input"].clone());
                let body = serde_json::json!({ "id": id, "status": "succeeded", "input": input,
                                               "output": [format!("{uri}/files/{id}.png")] });
                match fault(&shared) {
                    Some(0) => ResponseTemplate::new(429).insert_header("retry-after", "0"),
                    Some(1 | 2) => ResponseTemplate::new(502),
                    Some(_) => truncated(&body),
                    None => ResponseTemplate::new(200).set_body_json(body),
                }
            }
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/files/p-\d+\.png$"))
        .respond_with({
            let shared = shared.clone();
            move |_: &Request| match fault(&shared) {
                Some(_) => ResponseTemplate::new(503),
                None => ResponseTemplate::new(200).set_body_bytes(&b"\x89PNG"[..]),
            }
        })
        .mount(&server)
        .await;
    server
}

/// A TCP proxy to `upstream` that resets (RST, not a clean close) one request in ten: on
/// even tens before forwarding it, on odd tens after forwarding it, when the answer
/// starts to come back. A request is one read from the client (the app's requests are
/// small). Returns the proxy's address and the count of resets.
async fn resetting_proxy(upstream: std::net::SocketAddr) -> (String, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let reads = Arc::new(Mutex::new(0usize));
    let resets = Arc::new(Mutex::new(0usize));
    let counted = resets.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (reads, resets) = (reads.clone(), resets.clone());
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                relay(client, server, reads, resets).await;
            });
        }
    });
    (address, counted)
}

async fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    reads: Arc<Mutex<usize>>,
    resets: Arc<Mutex<usize>>,
) {
    let reset = |client: TcpStream| {
        *resets.lock().unwrap() += 1;
        let _ = client.set_zero_linger();
        drop(client);
    };
    let (mut from_client, mut from_server) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    let mut reset_on_answer = false;
    loop {
        tokio::select! {
            read = client.read(&mut from_client) => {
                let Ok(n @ 1..) = read else { return };
                let count = {
                    let mut reads = reads.lock().unwrap();
                    *reads += 1;
                    *reads
                };
                // Every sixth read, alternately before and after the server answers: often
                // enough that a run always meets both, however its reads are split.
                if count % 6 == 3 {
                    if (count / 6) % 2 == 0 {
                        return reset(client);
                    }
                    reset_on_answer = true;
                }
                if server.write_all(&from_client[..n]).await.is_err() {
                    return;
                }
            }
            read = server.read(&mut from_server) => {
                let Ok(n @ 1..) = read else { return };
                if reset_on_answer {
                    return reset(client);
                }
                if client.write_all(&from_server[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[tokio::test]
async fn every_scene_completes_through_thirty_percent_faults_and_nothing_is_made_twice() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    let shared: Shared = Shared::default();
    let server = faulty_replicate(shared.clone()).await;
    let (proxy, resets) = resetting_proxy(*server.address()).await;
    let work = tempfile::tempdir().unwrap();
    let mut settings = ReplicateSettings::new("r8_test", work.path().join("replicate"));
    settings.base_url = format!("{proxy}/v1");
    settings.poll_interval = Duration::from_millis(20);
    settings.first_backoff = Duration::from_millis(20);
    settings.request_timeout = Duration::from_secs(1);
    let offline = Arc::new(OfflineMedia::new(work.path().join("offline")).unwrap());
    let worker = app::jobs::Worker::new(
        app.pool.clone(),
        app.storage.clone(),
        MediaProviders {
            image: Arc::new(Replicate::new(settings).unwrap()),
            video: offline.clone(),
            music: offline,
            speech: Arc::new(app::generation::speech::EspeakSpeech::new(
                work.path().join("speech"),
            )),
            clip_lengths: Default::default(),
            offline: false,
        },
        app::jobs::WorkerSettings {
            lease: Duration::from_secs(2),
            poll: Duration::from_millis(100),
            backoff: Duration::from_millis(100),
            ..app::jobs::WorkerSettings::default()
        },
        app::jobs::Registry::default().register::<app::storyboard::jobs::SceneImage>(),
    );
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));
    app.approve_all_texts(&ada, &view).await;
    let done = app
        .wait_for(&ada, &project, "every scene's image", |v| {
            v.scenes.iter().all(|s| s.image_status == GenStatus::Ready)
        })
        .await;
    stop.cancel();
    running.await.unwrap();
    let (made, requests, faults) = {
        let ledger = shared.lock().unwrap();
        (ledger.made.len(), ledger.requests, ledger.faults)
    };
    let resets = *resets.lock().unwrap();
    let scenes = done.scenes.len();
    assert!(resets >= 2, "{resets} connections reset");
    assert_eq!(
        made, scenes,
        "one prediction per scene, whatever the faults"
    );
    assert!(
        faults * 100 >= requests * 15,
        "{faults} faults in {requests} requests"
    );
    eprintln!(
        "faults: {scenes} of {scenes} scenes completed, {made} predictions made, {faults} faults in {requests} requests, {resets} connections reset"
    );
}
