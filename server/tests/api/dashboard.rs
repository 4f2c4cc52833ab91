//! The dashboard as the server keeps it between visits (`server/src/page_cache.rs`):
//! every change shows at the next visit, from whichever instance made it, a kept page is
//! its own user's only, and the page's policy allows exactly its own scripts.

use crate::helpers::TestApp;
use base64::Engine;
use reqwest::{header, Client, StatusCode};
use sha2::{Digest, Sha256};
use std::io::Read;

/// The dashboard as a browser gets it: its policy and its HTML.
async fn dashboard(app_url: &str, client: &Client, encoding: &str) -> (String, String) {
    let response = client
        .get(format!("{app_url}/"))
        .header(header::ACCEPT_ENCODING, encoding)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    let gzip = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .is_some_and(|coding| coding == "gzip");
    let body = response.bytes().await.unwrap();
    let html = if gzip {
        let mut html = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut html)
            .expect("a gzip body");
        html
    } else {
        String::from_utf8(body.to_vec()).unwrap()
    };
    (policy, html)
}

fn project_names(html: &str) -> Vec<&str> {
    html.split("<h3 class=\"project-name\"><a href=\"")
        .skip(1)
        .filter_map(|card| card.split_once("\">")?.1.split_once("</a>"))
        .map(|(name, _)| name)
        .collect()
}

#[tokio::test]
async fn every_change_shows_at_the_next_visit_from_any_instance() {
    let app = TestApp::spawn().await;
    let other = app.another_instance().await;
    let ada = app.new_user("ada@example.com").await;
    let first = app.create_project(&ada, "First", "9:16").await;
    app.create_project(&ada, "Second", "9:16").await;
    let id = first.id.to_string();

    let (_, page) = dashboard(&app.address, &ada, "identity").await;
    assert_eq!(project_names(&page), ["Second", "First"]);
    let (_, again) = dashboard(&app.address, &ada, "identity").await;
    assert_eq!(again, page, "an unchanged dashboard is the same page");

    // Renamed on another instance: this one shows it at once.
    let renamed = app
        .call_as(&ada, "projects/rename", &[("id", &id), ("name", "Renamed")])
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let (_, page) = dashboard(&app.address, &ada, "identity").await;
    assert_eq!(project_names(&page), ["Renamed", "Second"]);
    let (_, page) = dashboard(&other, &ada, "gzip").await;
    assert_eq!(project_names(&page), ["Renamed", "Second"]);

    // Back to a name it had: the list it shows now, not the page kept for that name.
    let back = app
        .call_as(&ada, "projects/rename", &[("id", &id), ("name", "First")])
        .await;
    assert_eq!(back.status(), StatusCode::OK);
    let (_, page) = dashboard(&other, &ada, "gzip").await;
    assert_eq!(project_names(&page), ["First", "Second"]);

    let deleted = app.call_as(&ada, "projects/delete", &[("id", &id)]).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    for instance in [&app.address, &other] {
        let (_, page) = dashboard(instance, &ada, "gzip, deflate, br").await;
        assert_eq!(project_names(&page), ["Second"], "{instance}");
    }
}

#[tokio::test]
async fn a_kept_dashboard_is_its_own_users_only() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let bob = app.new_user("bob@example.com").await;
    app.create_project(&ada, "Ada's launch", "9:16").await;
    for _ in 0..2 {
        let (_, page) = dashboard(&app.address, &ada, "gzip").await;
        assert!(page.contains("ada@example.com"));
        let (_, page) = dashboard(&app.address, &bob, "gzip").await;
        assert!(page.contains("bob@example.com"));
        assert!(!page.contains("ada@example.com"));
        assert!(
            project_names(&page).is_empty(),
            "{:?}",
            project_names(&page)
        );
        assert!(page.contains("No projects yet"));
    }
    // Logged out: the log-in page, not the kept dashboard.
    let logged_out = app.call_as(&ada, "logout", &[]).await;
    assert_eq!(logged_out.status(), StatusCode::OK);
    let response = ada.get(app.url("/")).send().await.unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers()[header::LOCATION], "/login");
}

#[tokio::test]
async fn the_dashboards_policy_allows_exactly_its_own_inline_scripts() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    app.create_project(&ada, "</script><script>alert(1)</script>", "9:16")
        .await;
    // Rendered, then kept: both answers carry the page's script hashes.
    for encoding in ["gzip", "identity"] {
        let (policy, page) = dashboard(&app.address, &ada, encoding).await;
        assert!(!policy.contains("'nonce-"), "{policy}");
        let script_src = policy
            .split(';')
            .find_map(|directive| directive.trim().strip_prefix("script-src "))
            .unwrap_or_else(|| panic!("no script-src in {policy}"));
        let allowed: Vec<&str> = script_src
            .split_whitespace()
            .filter(|source| source.starts_with("'sha256-"))
            .collect();
        let mut inline = Vec::new();
        for tag in page.split("<script").skip(1) {
            let (open, rest) = tag.split_once('>').unwrap();
            if open.contains(" src=") {
                continue;
            }
            let script = rest.split("</script").next().unwrap();
            let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script));
            inline.push(format!("'sha256-{hash}'"));
        }
        assert!(inline.len() >= 2, "hydration script and data: {inline:?}");
        assert_eq!(allowed, inline, "{encoding}: {policy}");
        assert!(script_src.starts_with("'self'"), "{policy}");
        assert!(script_src.contains("'wasm-unsafe-eval'"), "{policy}");
        assert!(
            page.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
            "the name is text"
        );
    }
}
