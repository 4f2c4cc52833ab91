use crate::helpers::TestApp;
use app::storage::{
    ssr::{store_asset, NewAsset, ObjectKey},
    AssetKind,
};
use reqwest::StatusCode;
use std::time::Duration;

async fn stored_clip(app: &TestApp, owner: uuid::Uuid, project: uuid::Uuid) -> ObjectKey {
    let file = std::env::temp_dir().join(format!("clip-{}.mp4", uuid::Uuid::new_v4()));
    std::fs::write(&file, b"0123456789abcdef").unwrap();
    let asset = NewAsset {
        owner,
        project,
        kind: AssetKind::Video,
        extension: "mp4",
        width: Some(1080),
        height: Some(1920),
        duration_ms: Some(5000),
        provider: "test".into(),
        prediction_id: Some("prediction-1".into()),
        prompt: Some("a slow pan over headphones".into()),
        cost_microusd: 250_000,
    };
    let stored = store_asset(&app.pool, &*app.storage, asset, &file)
        .await
        .unwrap();
    std::fs::remove_file(file).unwrap();
    assert_eq!(stored.bytes, 16);
    stored.key
}

async fn owner_of(app: &TestApp, project: uuid::Uuid) -> uuid::Uuid {
    sqlx::query_scalar("SELECT owner_id FROM projects WHERE id = $1")
        .bind(project)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_stored_asset_has_a_row_and_a_signed_link_that_supports_seeking() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.create_project(&ada, "Launch", "9:16").await;
    let owner = owner_of(&app, project.id).await;
    let key = stored_clip(&app, owner, project.id).await;

    let (kind, mime, cost): (String, String, i64) =
        sqlx::query_as("SELECT kind, mime, cost_microusd FROM assets WHERE storage_key = $1")
            .bind(key.as_str())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (kind.as_str(), mime.as_str(), cost),
        ("video", "video/mp4", 250_000)
    );

    // Anyone holding the link may read the file, logged in or not, until it expires.
    let link = app.url(
        &app.storage
            .signed_url(&key, Duration::from_secs(60))
            .await
            .unwrap(),
    );
    let whole = reqwest::get(&link).await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-type"], "video/mp4");
    assert_eq!(whole.bytes().await.unwrap(), "0123456789abcdef");
    let range = reqwest::Client::new()
        .get(&link)
        .header("range", "bytes=10-")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(range.bytes().await.unwrap(), "abcdef");
}

#[tokio::test]
async fn tampered_or_unsigned_file_links_are_refused() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.create_project(&ada, "Launch", "9:16").await;
    let owner = owner_of(&app, project.id).await;
    let key = stored_clip(&app, owner, project.id).await;
    let link = app
        .storage
        .signed_url(&key, Duration::from_secs(60))
        .await
        .unwrap();

    let other_project = link.replace(&project.id.to_string(), &uuid::Uuid::new_v4().to_string());
    let later = {
        let (base, query) = link.split_once("expires=").unwrap();
        let (expires, rest) = query.split_once('&').unwrap();
        format!(
            "{base}expires={}&{rest}",
            expires.parse::<u64>().unwrap() + 86_400
        )
    };
    let unsigned = format!("/files/{}", key.as_str());
    for bad in [other_project, later, unsigned] {
        let response = reqwest::get(app.url(&bad)).await.unwrap();
        assert!(
            matches!(
                response.status(),
                StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST
            ),
            "{bad}: {}",
            response.status()
        );
    }
}

#[tokio::test]
async fn deleting_a_project_deletes_its_stored_files_and_asset_rows() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let doomed = app.create_project(&ada, "Doomed", "9:16").await;
    let kept = app.create_project(&ada, "Kept", "9:16").await;
    let owner = owner_of(&app, doomed.id).await;
    let doomed_key = stored_clip(&app, owner, doomed.id).await;
    let kept_key = stored_clip(&app, owner, kept.id).await;

    let id = doomed.id.to_string();
    let response = app.call_as(&ada, "projects/delete", &[("id", &id)]).await;
    assert_eq!(response.status(), StatusCode::OK);

    assert!(app.storage.get_bytes(&doomed_key).await.is_err());
    assert_eq!(
        app.storage.get_bytes(&kept_key).await.unwrap(),
        "0123456789abcdef"
    );
    assert_eq!(app.count("assets").await, 1);

    // A generation that was finishing as the project went writes its file afterwards;
    // the durable sweep queued with the delete removes it (its delay skipped here).
    let late = doomed_key.as_str().replace(".mp4", "-late.mp4");
    let late = app::storage::ssr::ObjectKey::parse(&late).unwrap();
    app.storage
        .put_bytes(&late, bytes::Bytes::from_static(b"late"), "video/mp4")
        .await
        .unwrap();
    let queued: i64 = sqlx::query_scalar(
        "UPDATE jobs SET run_at = now() WHERE kind = 'delete_files' AND payload->>'prefix' = $1
         RETURNING 1::bigint",
    )
    .bind(app::storage::ssr::ObjectKey::project_prefix(
        owner, doomed.id,
    ))
    .fetch_one(&app.pool)
    .await
    .expect("a sweep was queued with the delete");
    assert_eq!(queued, 1);
    let mut status = String::new();
    for _ in 0..100 {
        status = sqlx::query_scalar("SELECT status FROM jobs WHERE kind = 'delete_files'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if status == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status, "succeeded");
    assert!(app.storage.get_bytes(&late).await.is_err(), "swept");
    assert_eq!(
        app.storage.get_bytes(&kept_key).await.unwrap(),
        "0123456789abcdef",
        "the other project's files stay"
    );
}

/// Generates the sample image, clip and track on the app's providers and storage, then
/// checks the rows and that each plays from its link (ffprobe on the downloaded bytes).
async fn samples_play_from_their_links(app: &TestApp) -> (reqwest::Client, uuid::Uuid, uuid::Uuid) {
    use app::generation::{ffmpeg::probe, sample::make_samples};
    use app::projects::VideoFormat;

    let ada = app.new_user("ada@example.com").await;
    let project = app.create_project(&ada, "Launch", "16:9").await;
    let owner = owner_of(app, project.id).await;
    let samples = make_samples(
        &app.pool,
        &*app.storage,
        &app.media,
        owner,
        project.id,
        VideoFormat::Landscape,
        2.0,
    )
    .await
    .unwrap();
    #[derive(sqlx::FromRow)]
    struct Row {
        kind: String,
        bytes: i64,
        width: Option<i32>,
        duration_ms: Option<i32>,
        provider: String,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT kind, bytes, width, duration_ms, provider FROM assets
         WHERE project_id = $1 ORDER BY kind",
    )
    .bind(project.id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let kinds: Vec<&str> = rows.iter().map(|row| row.kind.as_str()).collect();
    assert_eq!(kinds, ["audio", "image", "video"]);
    assert!(rows
        .iter()
        .all(|row| row.bytes > 1000 && row.provider == "offline"));
    assert_eq!(rows[1].width, Some(1920), "the image's width is recorded");
    assert_eq!(
        rows[2].duration_ms,
        Some(2000),
        "the clip's duration is recorded"
    );

    let download_dir = tempfile::tempdir().unwrap();
    for asset in [&samples.image, &samples.clip, &samples.music] {
        let link = app
            .storage
            .signed_url(&asset.key, Duration::from_secs(60))
            .await
            .unwrap();
        let link = if link.starts_with('/') {
            app.url(&link)
        } else {
            link
        };
        // A player seeks with Range requests.
        let partial = reqwest::Client::new()
            .get(&link)
            .header("range", "bytes=0-99")
            .send()
            .await
            .unwrap();
        assert_eq!(partial.status(), StatusCode::PARTIAL_CONTENT, "{link}");
        assert_eq!(partial.bytes().await.unwrap().len(), 100);
        let bytes = reqwest::get(&link).await.unwrap().bytes().await.unwrap();
        assert_eq!(bytes.len() as i64, asset.bytes);
        let file = download_dir
            .path()
            .join(asset.key.as_str().rsplit('/').next().unwrap());
        std::fs::write(&file, &bytes).unwrap();
        let probed = probe(&file).await.unwrap();
        match asset.mime {
            "image/png" => assert_eq!((probed.width, probed.height), (Some(1920), Some(1080))),
            "video/mp4" => {
                assert_eq!(probed.video_codec.as_deref(), Some("h264"));
                assert!((probed.duration_secs.unwrap() - 2.0).abs() < 0.05);
            }
            "audio/mp4" => assert_eq!(probed.audio_codec.as_deref(), Some("aac")),
            other => panic!("unexpected asset type {other}"),
        }
    }
    (ada, owner, project.id)
}

/// Without API keys the offline provider makes the media; each piece is copied into the
/// local storage with its row and plays from its signed link.
#[tokio::test]
async fn offline_media_is_kept_in_local_storage_and_plays_from_its_link() {
    let app = TestApp::spawn().await;
    assert!(
        app.media.offline,
        "no keys configured: the offline provider is used"
    );
    samples_play_from_their_links(&app).await;
}

/// The same on the S3 backend, against a real S3 server over HTTP; deleting the project
/// empties its folder in the bucket.
#[tokio::test]
async fn offline_media_is_kept_in_s3_and_plays_from_presigned_links() {
    use crate::helpers::TestSettings;
    use crate::s3::S3Server;

    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with(TestSettings {
        storage: Some(s3.settings()),
        ..TestSettings::default()
    })
    .await;
    let (ada, owner, project) = samples_play_from_their_links(&app).await;
    let prefix = app::storage::ssr::ObjectKey::project_prefix(owner, project);
    assert_eq!(s3.count_objects(&prefix).await, 3);

    let id = project.to_string();
    let response = app.call_as(&ada, "projects/delete", &[("id", &id)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(s3.count_objects(&prefix).await, 0);
    assert_eq!(app.count("assets").await, 0);
}
