//! Share links: public, previewable, revocable, and only the owner's to make.

use crate::helpers::{browser, error_of, TestApp};
use app::render::FinalState;
use reqwest::StatusCode;

#[tokio::test]
async fn a_share_link_plays_logged_out_counts_views_and_dies_when_revoked() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.approved_project(&ada).await;
    let response = app
        .call_as(
            &ada,
            "render/start",
            &[("project", &project), ("music", "false"), ("volume", "0")],
        )
        .await;
    let state: FinalState = response.json().await.unwrap();
    let render = state.renders[0].id.to_string();
    let (status, _) = error_of(
        app.call_as(&ada, "render/share", &[("render", &render)])
            .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "an unfinished render cannot be shared"
    );
    let started = std::time::Instant::now();
    while app.final_state(&ada, &project).await.renders[0].status != "succeeded" {
        assert!(
            started.elapsed().as_secs() < 120,
            "the render did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }

    let eve = app.new_user("eve@example.com").await;
    let (status, _) = error_of(
        app.call_as(&eve, "render/share", &[("render", &render)])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only the owner shares");

    let response = app
        .call_as(&ada, "render/share", &[("render", &render)])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let token: String = response.json().await.unwrap();
    assert!(token.len() >= 22, "at least 128 random bits: {token}");
    let again: String = app
        .call_as(&ada, "render/share", &[("render", &render)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, token, "one live link per render");

    let stranger = browser();
    let page = stranger
        .get(app.url(&format!("/s/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for tag in ["og:video", "og:title", "og:image", "twitter:card"] {
        assert!(html.contains(tag), "{tag} missing");
    }
    // Titled after the product, not the project's internal name; nothing in the page
    // names the owner or the project.
    let product: String =
        sqlx::query_scalar("SELECT brief->>'product_name' FROM projects WHERE id = $1::uuid")
            .bind(&project)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        html.contains(&format!("og:title\" content=\"{product}\"")),
        "og:title is the product, {product}"
    );
    let owner: uuid::Uuid = sqlx::query_scalar("SELECT owner_id FROM projects WHERE id = $1::uuid")
        .bind(&project)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!html.contains(&project), "the project's id is in the page");
    assert!(
        !html.contains(&owner.to_string()),
        "the owner's id is in the page"
    );
    let video = html
        .split("og:video\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the video's address")
        .replace("&amp;", "&");
    assert!(
        video.starts_with("http://") && video.ends_with(&format!("/s/{token}/video.mp4")),
        "absolute, through the token, for previews: {video}"
    );
    // The address never expires: it redirects to a storage link made for this request.
    let redirect = stranger.get(&video).send().await.unwrap();
    assert_eq!(redirect.status(), StatusCode::FOUND);
    assert_eq!(redirect.headers()["cache-control"], "no-store");
    let bytes = reqwest::get(&video).await.unwrap().bytes().await.unwrap();
    assert!(bytes.len() > 10_000);
    let image = html
        .split("og:image\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    let poster = reqwest::get(&image).await.unwrap();
    assert_eq!(poster.headers()["content-type"], "image/jpeg");

    let state = app.final_state(&ada, &project).await;
    assert_eq!(
        state.renders[0].share_token.as_deref(),
        Some(token.as_str())
    );
    assert_eq!(state.renders[0].share_views, 1);

    let (status, _) = error_of(
        app.call_as(&eve, "render/revoke", &[("token", &token)])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = app
        .call_as(&ada, "render/revoke", &[("token", &token)])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let gone = stranger
        .get(app.url(&format!("/s/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    // Its media stop at once.
    let gone = stranger.get(&video).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let unknown = stranger
        .get(app.url("/s/AAAAAAAAAAAAAAAAAAAAAA"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
