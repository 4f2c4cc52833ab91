use crate::helpers::TestApp;
use reqwest::StatusCode;

#[tokio::test]
async fn health_and_readiness_answer_200_while_the_database_is_reachable() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let response = reqwest::get(app.url(path)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn readiness_fails_but_health_holds_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.pool.close().await;
    assert_eq!(
        reqwest::get(app.url("/readyz")).await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        StatusCode::OK
    );
}
