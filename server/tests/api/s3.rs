//! A real S3 server for the tests: s3s-fs over HTTP on 127.0.0.1:0, checking SigV4
//! signatures, keeping objects in a temporary directory.

use app::storage::s3::{S3Settings, S3Storage};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder as ConnBuilder,
};
use s3s::{auth::SimpleAuth, service::S3ServiceBuilder};
use server::config::{StorageBackend, StorageSettings};

const ACCESS_KEY: &str = "reelsmith-test";
const SECRET_KEY: &str = "a-secret-only-this-test-knows";
const BUCKET: &str = "reelsmith-assets";

pub struct S3Server {
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts the server with an empty bucket.
    pub async fn start() -> Self {
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
        let server = Self {
            endpoint,
            _dir: dir,
        };
        server
            .client()
            .client()
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap();
        server
    }

    fn client(&self) -> S3Storage {
        S3Storage::new(S3Settings {
            bucket: BUCKET.into(),
            region: "us-east-1".into(),
            endpoint: Some(self.endpoint.clone()),
            path_style: true,
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
            session_token: None,
        })
    }

    /// The app's settings for this server.
    pub fn settings(&self) -> StorageSettings {
        StorageSettings {
            backend: StorageBackend::S3,
            s3_bucket: Some(BUCKET.into()),
            s3_endpoint: Some(self.endpoint.clone()),
            s3_path_style: true,
            aws_access_key_id: Some(ACCESS_KEY.into()),
            aws_secret_access_key: Some(SECRET_KEY.into()),
            ..StorageSettings::default()
        }
    }

    pub async fn count_objects(&self, prefix: &str) -> usize {
        self.client()
            .client()
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix(prefix)
            .send()
            .await
            .unwrap()
            .contents()
            .len()
    }
}
