//! The built site: its bundle served compressed and cached as its build allows, and a
//! server that refuses a site from another build.

use crate::helpers::{free_port, TestApp, TestSettings};
use reqwest::StatusCode;

/// What a browser that takes gzip gets for a URL: the body unpacked, and its size on the
/// wire when it came gzipped.
struct Fetched {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    gzipped_bytes: Option<usize>,
    body: Vec<u8>,
}

async fn get_accepting_gzip(client: &reqwest::Client, url: &str) -> Fetched {
    let response = client
        .get(url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let wire = response.bytes().await.unwrap();
    if headers.get("content-encoding").map(|v| v.as_bytes()) == Some(b"gzip") {
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&wire[..]), &mut body)
            .unwrap();
        Fetched {
            status,
            headers,
            gzipped_bytes: Some(wire.len()),
            body,
        }
    } else {
        Fetched {
            status,
            headers,
            gzipped_bytes: None,
            body: wire.to_vec(),
        }
    }
}

/// A compressible stand-in for a WASM bundle.
fn bundle(text: &[u8], len: usize) -> Vec<u8> {
    text.iter().copied().cycle().take(len).collect()
}

#[tokio::test]
async fn the_site_bundle_is_served_gzipped_to_browsers_that_accept_it() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("pkg")).unwrap();
    let wasm = bundle(b"\0asm leptos hydrate ", 400_000);
    std::fs::write(site.path().join("pkg/reelsmith.wasm"), &wasm).unwrap();
    let app = TestApp::spawn_with(TestSettings {
        site_root: Some(site.path().to_path_buf()),
        ..TestSettings::default()
    })
    .await;
    let client = reqwest::Client::new();
    let url = app.url("/pkg/reelsmith.wasm");

    // The compressed copy is made in the background at start-up.
    let mut compressed = None;
    for _ in 0..100 {
        let fetched = get_accepting_gzip(&client, &url).await;
        assert_eq!(fetched.status, StatusCode::OK);
        assert_eq!(fetched.body, wasm);
        if let Some(bytes) = fetched.gzipped_bytes {
            assert_eq!(fetched.headers["content-type"], "application/wasm");
            assert_eq!(fetched.headers["cache-control"], "no-cache");
            compressed = Some(bytes);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let compressed = compressed.expect("a gzipped bundle within 10 s");
    assert!(compressed < wasm.len() / 10, "{compressed} bytes");

    // A client that does not take gzip gets the file as it is.
    let plain = client.get(&url).send().await.unwrap();
    assert_eq!(plain.headers().get("content-encoding"), None);
    assert_eq!(plain.bytes().await.unwrap(), wasm);
    let missing = client.get(app.url("/pkg/other.js")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // The bundle is rebuilt while the server runs: the old compressed copy is never
    // served again, and a fresh one follows.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let rebuilt = bundle(b"\0asm rebuilt ", 300_000);
    std::fs::write(site.path().join("pkg/reelsmith.wasm"), &rebuilt).unwrap();
    let mut fresh_copy = false;
    for _ in 0..100 {
        let fetched = get_accepting_gzip(&client, &url).await;
        let gzipped = fetched.gzipped_bytes.is_some();
        assert_eq!(
            fetched.body, rebuilt,
            "never the old bundle (gzipped: {gzipped})"
        );
        if gzipped {
            fresh_copy = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(fresh_copy, "a fresh compressed copy within 10 s");
}

/// A site whose WASM carries `marker` (a real one carries its build's).
fn site_with(marker: &str) -> tempfile::TempDir {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    let mut wasm = b"\0asm\x01\0\0\0 some code ".to_vec();
    wasm.extend_from_slice(marker.as_bytes());
    wasm.extend_from_slice(b" more code");
    std::fs::write(site.path().join("pkg/reelsmith.wasm"), wasm).unwrap();
    site
}

#[tokio::test]
async fn a_server_refuses_a_site_from_another_build_and_names_the_fix() {
    let stale = site_with("reelsmith-build-id:0123456789abcdef;");
    // Quick alone (the check comes before anything else starts), but a debug binary
    // that loads while the other share of the tests encodes video can take a while.
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_reelsmith"))
            .env("LEPTOS_SITE_ROOT", stale.path())
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{}", free_port()))
            .env_remove("REELSMITH_ALLOW_STALE_SITE")
            .output(),
    )
    .await
    .expect("it stops at once")
    .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("from another build"), "{said}");
    assert!(said.contains("bash .ci/build-site.sh"), "{said}");

    let missing = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_reelsmith"))
        .env("LEPTOS_SITE_ROOT", missing.path())
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{}", free_port()))
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no built site"));
}

#[tokio::test]
async fn a_site_of_this_build_is_served_and_its_pages_name_the_build() {
    let own = site_with(app::BUILD_MARKER);
    let app = TestApp::spawn_with(TestSettings {
        site_root: Some(own.path().to_path_buf()),
        allow_stale_site: Some(false),
        ..TestSettings::default()
    })
    .await;
    let page = app.client.get(app.url("/login")).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "<meta name=\"reelsmith-build\" content=\"{}\"",
            app::build_id()
        )),
        "the page says which build rendered it, for its script to compare"
    );
    let reported = app
        .client
        .post(app.url("/api/client-problems"))
        .header("origin", &app.address)
        .header("sec-fetch-site", "same-origin")
        .json(&serde_json::json!({ "kind": "panic", "detail": "hydration failed", "page": "/" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        reported.status(),
        StatusCode::NO_CONTENT,
        "the server hears of it"
    );
}

/// A release site as `bash .ci/build-site.sh --release` lays it out: the bundle in a
/// folder named after `hash` (listed in hash.txt), the main part and one lazy part, each
/// file with brotli and gzip copies that carry its modification time. The brotli copies hold a marker: what matters is which file
/// is sent, and the client here unpacks nothing.
fn release_site(hash: &str) -> tempfile::TempDir {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg").join(hash);
    std::fs::create_dir_all(&pkg).unwrap();
    let mut wasm = bundle(b"\0asm release code ", 200_000);
    wasm.extend_from_slice(app::BUILD_MARKER.as_bytes());
    let files: [(&str, Vec<u8>); 4] = [
        ("reelsmith.wasm", wasm),
        (
            "reelsmith.js",
            bundle(b"export function hydrate() {} ", 50_000),
        ),
        ("reelsmith.css", bundle(b"body { margin: 0 } ", 20_000)),
        (
            "split_storyboard_step_1.wasm",
            bundle(b"\0asm a step ", 50_000),
        ),
    ];
    for (name, contents) in files {
        let original = pkg.join(name);
        std::fs::write(&original, &contents).unwrap();
        let stamp = std::fs::metadata(&original).unwrap().modified().unwrap();
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gzip, &contents).unwrap();
        let copies = [
            ("gz", gzip.finish().unwrap()),
            ("br", format!("brotli copy of {name}").into_bytes()),
        ];
        for (suffix, bytes) in copies {
            let copy = pkg.join(format!("{name}.{suffix}"));
            std::fs::write(&copy, bytes).unwrap();
            std::fs::File::options()
                .write(true)
                .open(&copy)
                .unwrap()
                .set_modified(stamp)
                .unwrap();
        }
    }
    std::fs::write(
        site.path().join("hash.txt"),
        format!("js: {hash}\nwasm: {hash}\ncss: {hash}\n"),
    )
    .unwrap();
    site
}

#[tokio::test]
async fn a_release_bundle_goes_by_its_hash_is_kept_a_year_and_is_sent_brotli_compressed() {
    let hash = "0f1e2d3c4b5a6978";
    let site = release_site(hash);
    let app = TestApp::spawn_with(TestSettings {
        site_root: Some(site.path().to_path_buf()),
        allow_stale_site: Some(false),
        ..TestSettings::default()
    })
    .await;
    let html = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for extension in ["js", "wasm", "css"] {
        assert!(
            html.contains(&format!("/pkg/{hash}/reelsmith.{extension}")),
            "the page loads the hashed {extension}: {html}"
        );
    }
    assert!(!html.contains("/pkg/reelsmith.css"), "{html}");

    let client = reqwest::Client::new();
    let wasm = app.url(&format!("/pkg/{hash}/reelsmith.wasm"));
    let year = "public, max-age=31536000, immutable";
    let brotli = client
        .get(&wasm)
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(brotli.status(), StatusCode::OK);
    assert_eq!(brotli.headers()["content-encoding"], "br");
    assert_eq!(brotli.headers()["content-type"], "application/wasm");
    assert_eq!(brotli.headers()["cache-control"], year);
    assert_eq!(
        &brotli.bytes().await.unwrap()[..],
        b"brotli copy of reelsmith.wasm"
    );

    let gzipped = get_accepting_gzip(&client, &wasm).await;
    assert!(
        gzipped.gzipped_bytes.is_some(),
        "gzip where brotli is not taken"
    );
    assert_eq!(gzipped.headers["cache-control"], year);
    assert!(gzipped.body.ends_with(app::BUILD_MARKER.as_bytes()));

    let css = client
        .get(app.url(&format!("/pkg/{hash}/reelsmith.css")))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["cache-control"], year);
    assert_eq!(
        &css.bytes().await.unwrap()[..],
        b"brotli copy of reelsmith.css"
    );

    // A part the browser fetches when a step is first shown is kept as long.
    let step = client
        .get(app.url(&format!("/pkg/{hash}/split_storyboard_step_1.wasm")))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(step.status(), StatusCode::OK);
    assert_eq!(step.headers()["cache-control"], year);
    assert_eq!(step.headers()["content-type"], "application/wasm");
    assert_eq!(
        &step.bytes().await.unwrap()[..],
        b"brotli copy of split_storyboard_step_1.wasm"
    );

    // A name this build does not have is not remembered: the next build may have it.
    let missing = client
        .get(app.url("/pkg/00000000deadbeef/reelsmith.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()["cache-control"], "no-store");
}

#[test]
fn a_server_refuses_a_release_site_whose_hash_list_is_broken() {
    let site = release_site("0f1e2d3c4b5a6978");
    std::fs::write(site.path().join("hash.txt"), "js: 0f1e2d3c4b5a6978\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_reelsmith"))
        .env("LEPTOS_SITE_ROOT", site.path())
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{}", free_port()))
        .env_remove("REELSMITH_ALLOW_STALE_SITE")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("build-site.sh --release"), "{said}");
}

/// Pages and server-function answers go out compressed to a browser that asks; a live
/// stream (each event must leave at once) and audio (compressed already) go as they are.
#[tokio::test]
async fn pages_and_answers_are_sent_compressed_but_live_streams_and_media_are_not() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    for number in 1..=20 {
        app.create_project(&ada, &format!("Campaign {number:02}"), "9:16")
            .await;
    }

    let dashboard = get_accepting_gzip(&ada, &app.url("/")).await;
    assert_eq!(dashboard.status, StatusCode::OK);
    let page = String::from_utf8(dashboard.body).unwrap();
    assert!(page.contains("Campaign 20"), "{page}");
    let wire = dashboard.gzipped_bytes.expect("the dashboard came gzipped");
    assert!(
        wire * 4 < page.len(),
        "{wire} bytes on the wire for a {} byte page",
        page.len()
    );
    assert!(dashboard.headers["vary"]
        .to_str()
        .unwrap()
        .contains("accept-encoding"));

    let answer = send_accepting_gzip(
        ada.post(app.url("/api/projects/list"))
            .header("accept", "application/json")
            .header("sec-fetch-site", "same-origin"),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["content-encoding"], "gzip");

    let project = &app.list_projects(&ada).await[0];
    let stream =
        send_accepting_gzip(ada.get(app.url(&format!("/api/projects/{}/stream", project.id))))
            .await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers().get("content-encoding"), None);

    let sample = get_accepting_gzip(&ada, &app.url("/api/voices/de/sample")).await;
    assert_eq!(sample.status, StatusCode::OK);
    assert_eq!(sample.headers["content-type"], "audio/wav");
    assert_eq!(sample.gzipped_bytes, None, "audio is sent as it is");
}

async fn send_accepting_gzip(request: reqwest::RequestBuilder) -> reqwest::Response {
    request
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap()
}
