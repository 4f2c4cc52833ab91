use crate::helpers::{browser, error_of, TestApp, TestSettings, PASSWORD};
use app::error::AppError;
use reqwest::{header, Client, StatusCode};

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|cookie| cookie.starts_with("reelsmith_session="))
        .map(str::to_string)
}

#[tokio::test]
async fn signing_up_logs_the_new_user_in() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.sign_up("Ada@Example.com").await.status(),
        StatusCode::OK
    );

    let me: Option<app::auth::CurrentUser> = app.call("me", &[]).await.json().await.unwrap();
    assert_eq!(me.unwrap().email, "ada@example.com", "stored normalised");
    assert_eq!(
        app.client.get(app.url("/")).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn signing_up_again_with_the_same_email_in_other_case_is_refused() {
    let app = TestApp::spawn().await;
    app.sign_up("ada@example.com").await;

    let (status, error) = error_of(browser_sign_up(&app, "  ADA@example.com ").await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(error.to_string().contains("already exists"), "{error}");
    assert_eq!(app.count("users").await, 1);
}

async fn browser_sign_up(app: &TestApp, email: &str) -> reqwest::Response {
    app.call_as(
        &browser(),
        "signup",
        &[("email", email), ("password", PASSWORD)],
    )
    .await
}

#[tokio::test]
async fn a_short_password_or_a_malformed_email_is_refused_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        ("ada@example.com", "123456789", "at least 10 characters"),
        ("not-an-email", PASSWORD, "valid email"),
        ("", PASSWORD, "valid email"),
    ];
    for (email, password, expected) in cases {
        let response = app
            .call("signup", &[("email", email), ("password", password)])
            .await;
        let (status, error) = error_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{email:?}");
        assert!(error.to_string().contains(expected), "{error}");
    }
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.new_user("ada@example.com").await;

    let wrong_password = app
        .call(
            "login",
            &[
                ("email", "ada@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    let unknown_email = app
        .call(
            "login",
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        )
        .await;
    let (status_a, error_a) = error_of(wrong_password).await;
    let (status_b, error_b) = error_of(unknown_email).await;
    assert_eq!(status_a, StatusCode::BAD_REQUEST);
    assert_eq!((status_a, &error_a), (status_b, &error_b));
    assert!(error_a.to_string().contains("do not match"), "{error_a}");

    let me: Option<app::auth::CurrentUser> = app.call("me", &[]).await.json().await.unwrap();
    assert_eq!(me, None, "still logged out");
}

/// Log-in accepts the email in any case and spacing, and the header of every page then
/// names the account as it is stored (the session keeps it, so a page needs no query).
#[tokio::test]
async fn logging_in_works_in_any_email_case_and_pages_name_the_account_as_stored() {
    let app = TestApp::spawn().await;
    app.new_user("ada@example.com").await;
    let response = app
        .call(
            "login",
            &[("email", " ADA@Example.com "), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.list_projects(&app.client).await, vec![]);
    for path in ["/", "/brand", "/account"] {
        let page = app
            .client
            .get(app.url(path))
            .send()
            .await
            .expect("page answered")
            .text()
            .await
            .expect("page read");
        assert!(
            page.contains(r#"<span class="user-email">ada@example.com</span>"#),
            "{path} does not name the account: {page}"
        );
    }
}

#[tokio::test]
async fn logging_out_ends_the_session_even_for_a_copied_cookie() {
    let app = TestApp::spawn().await;
    let response = app.sign_up("ada@example.com").await;
    let cookie = session_cookie(&response).expect("a session cookie");
    let cookie_pair = cookie.split(';').next().unwrap().to_string();

    assert_eq!(app.call("logout", &[]).await.status(), StatusCode::OK);
    let (status, error) = error_of(app.call("projects/list", &[]).await).await;
    assert_eq!(
        (status, error),
        (StatusCode::UNAUTHORIZED, AppError::Unauthenticated)
    );

    // Replaying the old cookie from another client does not revive the session.
    let replay = reqwest::Client::new()
        .post(app.url("/api/projects/list"))
        .header(header::COOKIE, cookie_pair)
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax_and_not_secure_over_http() {
    let app = TestApp::spawn().await;
    let cookie = session_cookie(&app.sign_up("ada@example.com").await).expect("cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_the_app_is_served_over_https() {
    let app = TestApp::spawn_with(TestSettings {
        public_url: Some("https://reelsmith.example".into()),
        ..TestSettings::default()
    })
    .await;
    let cookie = session_cookie(&app.sign_up("ada@example.com").await).expect("cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn logging_in_gives_a_new_session_id() {
    let app = TestApp::spawn().await;
    app.new_user("ada@example.com").await;
    // A browser that already has a session (one an attacker could have planted) logs in:
    // the session it had must not be the one that is now logged in.
    let visitor = browser();
    let login = || {
        app.call_as(
            &visitor,
            "login",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
    };
    let first = login().await;
    assert_eq!(first.status(), StatusCode::OK);
    let before = session_cookie(&first).expect("a session cookie at the first log-in");
    let second = login().await;
    assert_eq!(second.status(), StatusCode::OK);
    let after = session_cookie(&second).expect("a session cookie at log-in");
    assert_ne!(before, after, "the session id changes at log-in");
}

#[tokio::test]
async fn repeated_failed_log_ins_for_one_account_are_slowed_down() {
    let app = TestApp::spawn().await;
    app.new_user("ada@example.com").await;
    for _ in 0..5 {
        let response = app
            .call(
                "login",
                &[
                    ("email", "ada@example.com"),
                    ("password", "guess guess guess"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    // Even the right password now waits.
    let response = app
        .call(
            "login",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    match error {
        AppError::TooManyAttempts { retry_after_secs } => {
            assert!((1..=30).contains(&retry_after_secs), "{retry_after_secs}")
        }
        other => panic!("expected TooManyAttempts, got {other:?}"),
    }
    // Another account from elsewhere is unaffected.
    app.new_user("bob@example.com").await;
}

#[tokio::test]
async fn cross_site_posts_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let browser = app.new_user("ada@example.com").await;

    let by_fetch_metadata = browser
        .post(app.url("/api/projects/create"))
        .header("sec-fetch-site", "cross-site")
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("name", "Planted"), ("format", "9:16")])
        .send()
        .await
        .unwrap();
    assert_eq!(by_fetch_metadata.status(), StatusCode::FORBIDDEN);

    // Older browsers send only Origin.
    let by_origin = browser
        .post(app.url("/api/projects/create"))
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("name", "Planted"), ("format", "9:16")])
        .send()
        .await
        .unwrap();
    assert_eq!(by_origin.status(), StatusCode::FORBIDDEN);

    assert_eq!(app.count("projects").await, 0);
    assert_eq!(app.list_projects(&browser).await, vec![]);
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_log_in_and_server_functions_answer_401() {
    let app = TestApp::spawn().await;
    let anonymous = browser();

    let dashboard = anonymous.get(app.url("/")).send().await.unwrap();
    assert_eq!(dashboard.status(), StatusCode::SEE_OTHER);
    assert_eq!(dashboard.headers()[header::LOCATION], "/login");
    let spending = anonymous.get(app.url("/account")).send().await.unwrap();
    assert_eq!(spending.status(), StatusCode::SEE_OTHER);
    assert_eq!(spending.headers()[header::LOCATION], "/login?next=/account");

    let project = anonymous
        .get(app.url("/projects/0b0e4a2e-6a57-4d5e-9a36-6d9a3e0c9f10"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        project.headers()[header::LOCATION],
        "/login?next=/projects/0b0e4a2e-6a57-4d5e-9a36-6d9a3e0c9f10"
    );

    for endpoint in ["projects/list", "projects/create", "projects/delete"] {
        let response = app
            .call_as(
                &anonymous,
                endpoint,
                &[
                    ("name", "x"),
                    ("format", "9:16"),
                    ("id", "0b0e4a2e-6a57-4d5e-9a36-6d9a3e0c9f10"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{endpoint}");
    }

    let login = anonymous.get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert!(login.text().await.unwrap().contains("Log in"));
}

/// Before the WASM has loaded, forms post as plain HTML forms: the answer must be a
/// redirect back to a page, never a bare error document.
#[tokio::test]
async fn a_log_in_form_posted_before_the_page_is_interactive_returns_to_a_page() {
    let app = TestApp::spawn().await;
    app.new_user("ada@example.com").await;
    let plain_form = |password: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/login"))
                .header(header::ACCEPT, "text/html,application/xhtml+xml")
                .header(header::REFERER, app.url("/login"))
                .header("sec-fetch-site", "same-origin")
                .form(&[("email", "ada@example.com"), ("password", password)])
                .send()
                .await
                .unwrap()
        }
    };

    let failed = plain_form("wrong password").await;
    assert_eq!(failed.status(), StatusCode::FOUND);
    let location = failed.headers()[header::LOCATION].to_str().unwrap();
    assert!(location.starts_with(&app.url("/login?")), "{location}");
    assert!(
        location.contains("__err="),
        "the error travels with the redirect: {location}"
    );

    let succeeded = plain_form(PASSWORD).await;
    assert_eq!(succeeded.status(), StatusCode::FOUND);
    // Back at the log-in page, a logged-in visitor is sent on to the dashboard.
    let login_page = app.client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(login_page.status(), StatusCode::SEE_OTHER);
    assert_eq!(login_page.headers()[header::LOCATION], "/");
}

/// A session in use lives on; one left idle ends; none outlives its absolute lifetime.
#[tokio::test]
async fn sessions_end_when_idle_and_after_their_lifetime_however_active() {
    use std::time::Duration;
    // Idle limit of three seconds, lifetime of nine.
    let app = TestApp::spawn_with(TestSettings {
        session_idle_minutes: Some(3.0 / 60.0),
        session_lifetime_days: Some(9.0 / 86_400.0),
        ..TestSettings::default()
    })
    .await;
    let signed_in = |client: Client| {
        let app = &app;
        async move { app.call_as(&client, "projects/list", &[]).await.status() == StatusCode::OK }
    };
    // Eve signs up first, so that a slow sign-up (argon2 on a loaded machine) only adds
    // to her idle time, never to Ada's.
    let idle = app.new_user("eve@example.com").await;
    let active = app.new_user("ada@example.com").await;
    // Ada keeps working, a request every second and a half: past the idle limit in
    // total, never idle that long.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert!(signed_in(active.clone()).await, "an active session ended");
    }
    // Eve did nothing for at least four and a half seconds.
    assert!(!signed_in(idle.clone()).await, "an idle session lived on");
    // And Ada's session ends at its lifetime, however active.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        signed_in(active.clone()).await;
    }
    assert!(!signed_in(active).await, "a session outlived its lifetime");
}

/// A log-in from `forwarded_for` (an `X-Forwarded-For` a proxy would set).
async fn log_in_via(app: &TestApp, forwarded_for: &str, email: &str, password: &str) -> StatusCode {
    browser()
        .post(app.url("/api/login"))
        .header(header::ACCEPT, "application/json")
        .header("sec-fetch-site", "same-origin")
        .header(header::ORIGIN, &app.address)
        .header("x-forwarded-for", forwarded_for)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn behind_a_trusted_proxy_an_attacker_is_throttled_without_locking_the_owner_out() {
    let app = TestApp::spawn_with(TestSettings {
        trusted_proxies: Some("127.0.0.1/32".into()),
        ..TestSettings::default()
    })
    .await;
    app.new_user("ada@example.com").await;
    for _ in 0..5 {
        let status = log_in_via(&app, "203.0.113.7", "ada@example.com", "guess guess guess").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let status = log_in_via(&app, "203.0.113.7", "ada@example.com", "guess guess guess").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the attacker waits");
    // Ada, from her own address, is let in.
    let status = log_in_via(&app, "198.51.100.2", "ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "the owner is not locked out");
}

#[tokio::test]
async fn without_trusted_proxies_a_forged_forwarded_address_dodges_nothing() {
    let app = TestApp::spawn().await;
    app.new_user("ada@example.com").await;
    for n in 0..5 {
        let forged = format!("198.51.100.{n}");
        let status = log_in_via(&app, &forged, "ada@example.com", "guess guess guess").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let status = log_in_via(&app, "192.0.2.99", "ada@example.com", "guess guess guess").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn parallel_guesses_cannot_slip_past_the_count() {
    let app = TestApp::spawn().await;
    app.new_user("ada@example.com").await;
    let guesses = (0..20).map(|_| log_in_via(&app, "", "ada@example.com", "guess guess guess"));
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (5, 15), "{statuses:?}");
}

#[tokio::test]
async fn sign_ups_from_one_address_are_throttled() {
    let app = TestApp::spawn().await;
    for n in 0..10 {
        let response = app.sign_up(&format!("user{n}@example.com")).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let (status, error) = error_of(app.sign_up("one-more@example.com").await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        matches!(error, AppError::TooManyAttempts { .. }),
        "{error:?}"
    );
    let count: i64 = app.count("users").await;
    assert_eq!(count, 10, "the refused sign-up made no account");
}
