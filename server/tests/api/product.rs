//! Product photos over HTTP, as the brief step's upload sends them: what is accepted and
//! how it is kept, every limit refused with its message and nothing changed, the main
//! photo, deletion, duplicates, other users, and the S3 backend.

use crate::helpers::{error_of, TestApp, TestSettings};
use crate::s3::S3Server;
use app::product::ProductPhoto;
use image::{ImageEncoder, ImageFormat, Rgb, RgbImage};
use reqwest::{header, multipart, Client, Response, StatusCode};
use std::io::Cursor;

fn encoded(image: RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

/// A product shot: a red bottle-like block on a plain, slightly noisy light background.
pub(crate) fn studio_shot() -> Vec<u8> {
    encoded(
        RgbImage::from_fn(240, 320, |x, y| {
            if (80..160).contains(&x) && (60..280).contains(&y) {
                Rgb([190, 30, 40])
            } else {
                let noise = ((x * 7 + y * 13) % 7) as u8;
                Rgb([232 + noise, 231 + noise, 228 + noise])
            }
        }),
        ImageFormat::Png,
    )
}

/// A photo without a plain background, which is not cut out.
fn busy_shot() -> Vec<u8> {
    encoded(
        RgbImage::from_fn(200, 150, |x, y| {
            Rgb([
                ((x * 37) % 256) as u8,
                ((y * 59) % 256) as u8,
                ((x * y) % 256) as u8,
            ])
        }),
        ImageFormat::Png,
    )
}

/// A JPEG whose EXIF block holds a GPS position (and an orientation, upright already).
fn jpeg_with_gps() -> Vec<u8> {
    let mut exif = b"MM\0\x2a\0\0\0\x08".to_vec();
    exif.extend_from_slice(&[0, 2]);
    exif.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 1, 0, 0]); // Orientation 1
    exif.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]); // GPS directory
    exif.extend_from_slice(&[0, 0, 0, 0]);
    exif.extend_from_slice(&[0, 1]);
    exif.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]); // GPSLatitudeRef
    exif.extend_from_slice(&[0, 0, 0, 0]);
    let image = RgbImage::from_pixel(120, 90, Rgb([30, 90, 200]));
    let mut bytes = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new(&mut bytes);
    encoder.set_exif_metadata(exif).unwrap();
    encoder
        .write_image(image.as_raw(), 120, 90, image::ExtendedColorType::Rgb8)
        .unwrap();
    bytes
}

fn form(name: &str, mime: &str, bytes: Vec<u8>) -> multipart::Form {
    multipart::Form::new().part(
        "photo",
        multipart::Part::bytes(bytes)
            .file_name(name.to_string())
            .mime_str(mime)
            .unwrap(),
    )
}

impl TestApp {
    async fn send_form(&self, client: &Client, project: &str, form: multipart::Form) -> Response {
        client
            .post(self.url(&format!("/api/projects/{project}/photos")))
            .header("sec-fetch-site", "same-origin")
            .header(header::ORIGIN, &self.address)
            .multipart(form)
            .send()
            .await
            .expect("upload sent")
    }

    pub(crate) async fn upload(
        &self,
        client: &Client,
        project: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Response {
        self.send_form(
            client,
            project,
            form(name, "application/octet-stream", bytes),
        )
        .await
    }

    pub(crate) async fn uploaded(
        &self,
        client: &Client,
        project: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Vec<ProductPhoto> {
        let response = self.upload(client, project, name, bytes).await;
        assert_eq!(response.status(), StatusCode::CREATED, "uploading {name}");
        response.json().await.unwrap()
    }

    pub(crate) async fn photos(&self, client: &Client, project: &str) -> Vec<ProductPhoto> {
        let response = self
            .call_as(client, "product/photos", &[("project", project)])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// `product/choose_main` or `product/delete` on one photo.
    async fn photo_action(
        &self,
        client: &Client,
        endpoint: &str,
        project: &str,
        photo: &str,
    ) -> Response {
        self.call_as(client, endpoint, &[("project", project), ("photo", photo)])
            .await
    }

    /// The bytes a link in a page serves.
    pub(crate) async fn fetch(&self, client: &Client, url: &str) -> Response {
        let url = if url.starts_with('/') {
            self.url(url)
        } else {
            url.to_string()
        };
        client.get(url).send().await.unwrap()
    }

    pub(crate) async fn fetch_bytes(&self, client: &Client, url: &str) -> Vec<u8> {
        let response = self.fetch(client, url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        response.bytes().await.unwrap().to_vec()
    }

    /// Files kept on the local disk for every project.
    fn local_files(&self) -> usize {
        fn walk(dir: &std::path::Path) -> usize {
            std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|entry| {
                            let path = entry.path();
                            if path.is_dir() {
                                walk(&path)
                            } else {
                                1
                            }
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(&self.settings.data_dir.join("files"))
    }
}

#[tokio::test]
async fn photos_are_judged_by_content_and_kept_clean() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app
        .create_project(&ada, "Lamp launch", "9:16")
        .await
        .id
        .to_string();

    // A PNG named .jpg and sent as a JPEG: its content decides, and it is kept.
    let response = app
        .send_form(
            &ada,
            &project,
            form("lamp.jpg", "image/jpeg", studio_shot()),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let photos: Vec<ProductPhoto> = response.json().await.unwrap();
    assert_eq!(photos.len(), 1);
    let photo = &photos[0];
    assert_eq!((photo.file_name.as_str(), photo.main), ("lamp.jpg", true));
    assert_eq!((photo.width, photo.height), (240, 320));
    let kept = app.fetch_bytes(&ada, &photo.url).await;
    assert_eq!(kept.len() as i64, photo.bytes);
    let decoded = image::load_from_memory(&kept).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (240, 320));
    // Its asset row says what it is.
    let (kind, bytes, width, height): (String, i64, i32, i32) =
        sqlx::query_as("SELECT kind, bytes, width, height FROM assets WHERE id = $1")
            .bind(photo.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (kind.as_str(), bytes, width, height),
        ("photo", photo.bytes, 240, 320)
    );

    // A plain background is cut away: the cut-out is cropped to the product, its
    // corners see-through.
    let cutout = app
        .fetch_bytes(&ada, photo.cutout_url.as_deref().expect("a cut-out"))
        .await;
    let cutout = image::load_from_memory(&cutout).unwrap().to_rgba8();
    assert!((80..=82).contains(&cutout.width()), "{}", cutout.width());
    assert!(
        (220..=222).contains(&cutout.height()),
        "{}",
        cutout.height()
    );
    assert_eq!(cutout.get_pixel(40, 110).0, [190, 30, 40, 255]);

    // EXIF (with its GPS position) does not survive.
    let original = jpeg_with_gps();
    assert!(original.windows(4).any(|w| w == b"Exif"));
    let photos = app.uploaded(&ada, &project, "IMG_0001.JPG", original).await;
    let kept = app.fetch_bytes(&ada, &photos[1].url).await;
    assert!(!kept.windows(4).any(|w| w == b"Exif"));
    assert!(!photos[1].main);
    // Without a plain background, no cut-out.
    let photos = app
        .uploaded(&ada, &project, "street.png", busy_shot())
        .await;
    assert_eq!(photos[2].cutout_url, None);

    // What is appended to an image (here a script) is not kept.
    let mut polyglot = studio_shot();
    polyglot.extend_from_slice(b"<script>alert(document.cookie)</script>");
    let photos = app.uploaded(&ada, &project, "polyglot.png", polyglot).await;
    let kept = app.fetch_bytes(&ada, &photos[3].url).await;
    assert!(!kept.windows(7).any(|w| w == b"<script"));
    assert!(image::load_from_memory(&kept).is_ok());
}

#[tokio::test]
async fn bad_uploads_are_refused_naming_the_limit_and_change_nothing() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app
        .create_project(&ada, "Lamp launch", "9:16")
        .await
        .id
        .to_string();

    let refusals = [
        (
            "text named .png",
            form(
                "photo.png",
                "image/png",
                b"this is not an image at all".to_vec(),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "PNG, JPEG or WebP",
        ),
        (
            "16 MB",
            form("huge.jpg", "image/jpeg", vec![0xff; 16_000_000]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "at most 15 MB",
        ),
        (
            "48 megapixels",
            form(
                "wide.png",
                "image/png",
                encoded(
                    RgbImage::from_pixel(8000, 6000, Rgb([9, 9, 9])),
                    ImageFormat::Png,
                ),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "at most 40 megapixels",
        ),
        (
            "truncated",
            form("cut.png", "image/png", studio_shot()[..200].to_vec()),
            StatusCode::BAD_REQUEST,
            "damaged or incomplete",
        ),
        (
            "two photos at once",
            form("a.png", "image/png", studio_shot()).part(
                "photo",
                multipart::Part::bytes(studio_shot()).file_name("b.png"),
            ),
            StatusCode::BAD_REQUEST,
            "one photo at a time",
        ),
        (
            "no photo",
            multipart::Form::new().text("note", "hello"),
            StatusCode::BAD_REQUEST,
            "Choose a photo",
        ),
    ];
    for (what, form, status, message) in refusals {
        let response = app.send_form(&ada, &project, form).await;
        let (got, error) = error_of(response).await;
        assert_eq!(got, status, "{what}: {error}");
        assert!(error.to_string().contains(message), "{what}: {error}");
    }
    // Not a form at all.
    let response = ada
        .post(app.url(&format!("/api/projects/{project}/photos")))
        .header("sec-fetch-site", "same-origin")
        .body(studio_shot())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(app.photos(&ada, &project).await.is_empty());
    assert_eq!(app.count("assets").await, 0);
    assert_eq!(app.local_files(), 0);

    // Five photos fill a project; the sixth is refused, and nothing is kept of it.
    for n in 0..5 {
        app.uploaded(&ada, &project, &format!("p{n}.png"), studio_shot())
            .await;
    }
    let files = app.local_files();
    let (status, error) = error_of(app.upload(&ada, &project, "p5.png", studio_shot()).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(error.to_string().contains("at most 5"), "{error}");
    assert_eq!(app.photos(&ada, &project).await.len(), 5);
    assert_eq!(app.local_files(), files);
}

#[tokio::test]
async fn the_main_photo_is_chosen_and_handed_on_when_it_is_deleted() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app
        .create_project(&ada, "Lamp launch", "9:16")
        .await
        .id
        .to_string();
    for name in ["front.png", "side.png", "back.png"] {
        app.uploaded(&ada, &project, name, studio_shot()).await;
    }
    let photos = app.photos(&ada, &project).await;
    let main = |photos: &[ProductPhoto]| {
        photos
            .iter()
            .filter(|p| p.main)
            .map(|p| p.file_name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(main(&photos), ["front.png"]);

    let side = photos[1].id.to_string();
    let response = app
        .photo_action(&ada, "product/choose_main", &project, &side)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let photos: Vec<ProductPhoto> = response.json().await.unwrap();
    assert_eq!(main(&photos), ["side.png"]);

    // Deleting the main photo makes the oldest left the main one, and its files go.
    let side_url = photos[1].url.clone();
    let response = app
        .photo_action(&ada, "product/delete", &project, &side)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let photos: Vec<ProductPhoto> = response.json().await.unwrap();
    assert_eq!(
        photos
            .iter()
            .map(|p| p.file_name.as_str())
            .collect::<Vec<_>>(),
        ["front.png", "back.png"]
    );
    assert_eq!(main(&photos), ["front.png"]);
    assert_eq!(
        app.fetch(&ada, &side_url).await.status(),
        StatusCode::NOT_FOUND
    );
    // Two photos with a cut-out each.
    assert_eq!(app.count("assets").await, 4);
    assert_eq!(app.local_files(), 4);

    // A photo that is not the project's is not found, and nothing changes.
    let stranger = uuid::Uuid::new_v4().to_string();
    for endpoint in ["product/choose_main", "product/delete"] {
        let (status, _) =
            error_of(app.photo_action(&ada, endpoint, &project, &stranger).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{endpoint}");
    }
    assert_eq!(main(&app.photos(&ada, &project).await), ["front.png"]);
}

#[tokio::test]
async fn other_users_and_anonymous_visitors_cannot_reach_the_photos() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let bob = app.new_user("bob@example.com").await;
    let project = app
        .create_project(&ada, "Lamp launch", "9:16")
        .await
        .id
        .to_string();
    let photos = app
        .uploaded(&ada, &project, "lamp.png", studio_shot())
        .await;
    let photo = photos[0].id.to_string();

    let (status, _) = error_of(app.upload(&bob, &project, "mine.png", studio_shot()).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (endpoint, form) in [
        ("product/photos", vec![("project", project.as_str())]),
        (
            "product/choose_main",
            vec![("project", project.as_str()), ("photo", photo.as_str())],
        ),
        (
            "product/delete",
            vec![("project", project.as_str()), ("photo", photo.as_str())],
        ),
    ] {
        let (status, _) = error_of(app.call_as(&bob, endpoint, &form).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{endpoint}");
    }
    let anonymous = crate::helpers::browser();
    let (status, _) = error_of(
        app.upload(&anonymous, &project, "x.png", studio_shot())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A form posted from another site is refused, logged in or not.
    let response = ada
        .post(app.url(&format!("/api/projects/{project}/photos")))
        .header("sec-fetch-site", "cross-site")
        .header(header::ORIGIN, "https://evil.example")
        .multipart(form("x.png", "image/png", studio_shot()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let after = app.photos(&ada, &project).await;
    assert_eq!(
        after.iter().map(|p| (p.id, p.main)).collect::<Vec<_>>(),
        [(photos[0].id, true)]
    );
}

#[tokio::test]
async fn a_duplicate_keeps_the_photos_as_files_of_its_own() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app
        .create_project(&ada, "Lamp launch", "9:16")
        .await
        .id
        .to_string();
    app.uploaded(&ada, &project, "front.png", studio_shot())
        .await;
    let photos = app
        .uploaded(&ada, &project, "street.png", busy_shot())
        .await;
    let street = photos[1].id.to_string();
    app.photo_action(&ada, "product/choose_main", &project, &street)
        .await;
    let originals = app.photos(&ada, &project).await;

    let response = app
        .call_as(&ada, "projects/duplicate", &[("id", &project)])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let copy: app::projects::Project = response.json().await.unwrap();
    let copies = app.photos(&ada, &copy.id.to_string()).await;
    assert_eq!(copies.len(), 2);
    for (original, copied) in originals.iter().zip(&copies) {
        assert_ne!(original.id, copied.id);
        assert_eq!(
            (
                &original.file_name,
                original.main,
                original.width,
                original.bytes
            ),
            (&copied.file_name, copied.main, copied.width, copied.bytes)
        );
        assert_eq!(original.cutout_url.is_some(), copied.cutout_url.is_some());
    }
    let copied_bytes = app.fetch_bytes(&ada, &copies[0].url).await;

    // Deleting the original leaves the copy's photos whole.
    let response = app
        .call_as(&ada, "projects/delete", &[("id", &project)])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let copies = app.photos(&ada, &copy.id.to_string()).await;
    assert_eq!(app.fetch_bytes(&ada, &copies[0].url).await, copied_bytes);
    assert!(
        app.fetch_bytes(&ada, copies[0].cutout_url.as_deref().unwrap())
            .await
            .len()
            > 100
    );
}

#[tokio::test]
async fn photos_are_kept_in_s3_and_deleted_from_it() {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_with(TestSettings {
        storage: Some(s3.settings()),
        no_worker: true,
        ..TestSettings::default()
    })
    .await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.create_project(&ada, "Lamp launch", "9:16").await;
    let id = project.id.to_string();
    let photos = app.uploaded(&ada, &id, "lamp.png", studio_shot()).await;
    let owner: uuid::Uuid = sqlx::query_scalar("SELECT owner_id FROM projects WHERE id = $1")
        .bind(project.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let prefix = app::storage::ssr::ObjectKey::project_prefix(owner, project.id);
    // The photo and its cut-out, served from the bucket by presigned links.
    assert_eq!(s3.count_objects(&prefix).await, 2);
    assert!(photos[0].url.starts_with("http"));
    let kept = app.fetch_bytes(&ada, &photos[0].url).await;
    assert_eq!(kept.len() as i64, photos[0].bytes);

    let photo = photos[0].id.to_string();
    let response = app.photo_action(&ada, "product/delete", &id, &photo).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(s3.count_objects(&prefix).await, 0);
    assert_eq!(app.count("assets").await, 0);
}
