//! The S3 backend against a real S3 server over HTTP with SigV4 checks: s3s-fs,
//! in-process on 127.0.0.1:0, keeping objects in a temporary directory.

// Tests unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

use app::storage::{
    s3::{S3Settings, S3Storage},
    ssr::{ObjectKey, Storage},
};
use bytes::Bytes;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder as ConnBuilder,
};
use s3s::{auth::SimpleAuth, service::S3ServiceBuilder};
use std::time::Duration;

const ACCESS_KEY: &str = "reelsmith-test";
const SECRET_KEY: &str = "a-secret-only-this-test-knows";
const BUCKET: &str = "reelsmith-assets";

struct S3Server {
    endpoint: String,
    _dir: tempfile::TempDir,
}

async fn start_s3_server() -> S3Server {
    let dir = tempfile::tempdir().unwrap();
    let fs = s3s_fs::FileSystem::new(dir.path()).unwrap();
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let _ = ConnBuilder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    S3Server {
        endpoint,
        _dir: dir,
    }
}

fn storage(server: &S3Server, secret: &str) -> S3Storage {
    S3Storage::new(S3Settings {
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        endpoint: Some(server.endpoint.clone()),
        path_style: true,
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: secret.into(),
        session_token: None,
    })
}

async fn with_bucket(server: &S3Server) -> S3Storage {
    let storage = storage(server, SECRET_KEY);
    storage
        .client()
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    storage
}

fn key(path: &str) -> ObjectKey {
    ObjectKey::parse(path).unwrap()
}

#[tokio::test]
async fn files_stored_in_s3_read_back_byte_for_byte() {
    let server = start_s3_server().await;
    let storage = with_bucket(&server).await;
    let file = tempfile::NamedTempFile::new().unwrap();
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(file.path(), &content).unwrap();

    let clip = key("users/u/projects/p/video/clip.mp4");
    let size = storage
        .put_file(&clip, file.path(), "video/mp4")
        .await
        .unwrap();
    assert_eq!(size, content.len() as u64);
    assert_eq!(
        storage.get_bytes(&clip).await.unwrap(),
        Bytes::from(content)
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused() {
    let server = start_s3_server().await;
    with_bucket(&server).await;
    let impostor = storage(&server, "not-the-secret");
    let result = impostor
        .put_bytes(
            &key("users/u/projects/p/image/x.png"),
            Bytes::from_static(b"x"),
            "image/png",
        )
        .await;
    let error = format!("{:?}", result.unwrap_err());
    assert!(error.contains("SignatureDoesNotMatch"), "{error}");
    assert!(impostor
        .get_bytes(&key("users/u/projects/p/image/x.png"))
        .await
        .is_err());
}

#[tokio::test]
async fn a_presigned_link_serves_byte_ranges_and_then_expires() {
    let server = start_s3_server().await;
    let storage = with_bucket(&server).await;
    let clip = key("users/u/projects/p/video/seek.mp4");
    storage
        .put_bytes(&clip, Bytes::from_static(b"0123456789abcdef"), "video/mp4")
        .await
        .unwrap();

    let link = storage
        .signed_url(&clip, Duration::from_secs(2))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let whole = client.get(&link).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.unwrap(), "0123456789abcdef");

    let range = client
        .get(&link)
        .header("range", "bytes=4-7")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), 206, "players seek with Range requests");
    assert_eq!(range.bytes().await.unwrap(), "4567");

    tokio::time::sleep(Duration::from_secs(3)).await;
    let expired = client.get(&link).send().await.unwrap();
    assert_eq!(expired.status(), 403, "an expired link no longer works");
}

#[tokio::test]
async fn deleting_a_project_prefix_removes_only_that_projects_objects() {
    let server = start_s3_server().await;
    let storage = with_bucket(&server).await;
    let kept = key("users/u/projects/keep/image/a.png");
    let gone = [
        key("users/u/projects/gone/image/a.png"),
        key("users/u/projects/gone/video/b.mp4"),
    ];
    for object in gone.iter().chain([&kept]) {
        storage
            .put_bytes(object, Bytes::from_static(b"x"), "application/octet-stream")
            .await
            .unwrap();
    }
    storage
        .delete_prefix("users/u/projects/gone/")
        .await
        .unwrap();
    for object in &gone {
        assert!(
            storage.get_bytes(object).await.is_err(),
            "{object:?} survived"
        );
    }
    assert_eq!(storage.get_bytes(&kept).await.unwrap(), "x");
}

#[tokio::test]
async fn a_download_link_carries_its_file_name_under_the_signature() {
    let server = start_s3_server().await;
    let storage = with_bucket(&server).await;
    let video = key("users/u/projects/p/video/final.mp4");
    storage
        .put_bytes(&video, Bytes::from_static(b"mp4 bytes"), "video/mp4")
        .await
        .unwrap();

    let link = storage
        .download_url(&video, Duration::from_secs(60), "lumen-launch-v2.mp4")
        .await
        .unwrap();
    // S3 answers such a link with `Content-Disposition: attachment; filename=...`, which
    // is what makes a browser save a cross-origin link under our name. (The test server,
    // s3s-fs, does not echo the header; what it does check is the signature below.)
    let url = reqwest::Url::parse(&link).unwrap();
    let disposition = url
        .query_pairs()
        .find(|(name, _)| name == "response-content-disposition")
        .map(|(_, value)| value.into_owned());
    assert_eq!(
        disposition.as_deref(),
        Some("attachment; filename=\"lumen-launch-v2.mp4\"")
    );
    let client = reqwest::Client::new();
    let whole = client.get(&link).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.unwrap(), "mp4 bytes");

    let swapped = link.replace("lumen-launch-v2.mp4", "payload.exe");
    let refused = client.get(&swapped).send().await.unwrap();
    assert_eq!(refused.status(), 403, "the name is part of the signature");

    assert!(storage
        .download_url(&video, Duration::from_secs(60), "../x\".mp4")
        .await
        .is_err());
}
