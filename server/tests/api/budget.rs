//! Budgets: paid work reserves its estimate in the transaction that asks for it, is
//! refused (with the figures) past the account's month or the project's cap, and settles
//! to what the provider reports it cost. Replicate is an in-test server speaking its wire
//! format; the app prices its models as a real deployment does.

use crate::helpers::{error_of, TestApp, TestSettings};
use app::{
    budget::{api::ProjectBudget, MonthSpend},
    storyboard::{GenStatus, StoryboardView},
};
use reqwest::{Client, StatusCode};
use serde_json::json;
use server::config::ProviderSettings;
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

const IMAGE: i64 = 3_000;

/// An app that pays Replicate (at `server`) for media at its default prices, the
/// creative director offline (free); with `worker`, its own worker runs the jobs.
async fn paying_app(server: &MockServer, worker: bool, prices: Option<&str>) -> TestApp {
    TestApp::spawn_with(TestSettings {
        no_worker: !worker,
        providers: Some(ProviderSettings {
            replicate_api_token: Some("r8_test".into()),
            replicate_base_url: Some(format!("{}/v1", server.uri())),
            prices: prices.map(str::to_string),
            // The budget is what these tests are about: twenty projects' mood rounds go
            // past any per-minute limit.
            paid_calls_per_minute: 10_000,
            ..ProviderSettings::default()
        }),
        ..TestSettings::default()
    })
    .await
}

impl TestApp {
    async fn set_budget(&self, email: &str, microusd: i64) {
        assert!(
            app::budget::ssr::set_monthly_budget(&self.pool, email, Some(microusd))
                .await
                .unwrap()
        );
    }

    /// Everything reserved or spent this month, by everyone.
    async fn month_total(&self) -> i64 {
        sqlx::query_scalar(
            "SELECT COALESCE(SUM(COALESCE(actual_microusd, estimate_microusd)), 0)::bigint FROM spend",
        )
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    async fn project_budget(&self, client: &Client, project: &str) -> ProjectBudget {
        let response = self
            .call_as(client, "budget/project", &[("project", project)])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

fn texts_approved(view: &StoryboardView) -> usize {
    view.scenes.iter().filter(|s| s.text_approved).count()
}

#[tokio::test]
async fn work_past_the_monthly_budget_is_refused_with_the_figures_and_changes_nothing() {
    let server = MockServer::start().await;
    let app = paying_app(&server, false, None).await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    // The mood round reserved its nine images; the director is offline and free.
    let before = app.project_budget(&ada, &project).await;
    assert_eq!(before.prices.image_microusd, IMAGE);
    assert_eq!(before.standing.reserved_microusd, 9 * IMAGE);
    assert_eq!(before.standing.spent_microusd, 0);

    // Room for two more images, not for one per scene.
    app.set_budget("ada@example.com", 11 * IMAGE).await;
    let storyboard = view.id.to_string();
    let response = app
        .call_as(
            &ada,
            "studio/approve_all",
            &[("storyboard", &storyboard), ("stage", "text")],
        )
        .await;
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    let message = error.to_string();
    let cost = app::budget::dollars(IMAGE * view.scenes.len() as i64);
    for figure in [
        format!("would cost ≈ {cost}"),
        "$0.006 of $0.033 left".to_string(),
        "$0.027 reserved".to_string(),
    ] {
        assert!(
            message.contains(&figure),
            "{figure:?} missing from {message:?}"
        );
    }
    // Nothing changed: no scene approved, no job queued, nothing reserved.
    let after = app.storyboard(&ada, &project).await;
    assert_eq!(texts_approved(&after), 0);
    let scene_jobs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'scene_image'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(scene_jobs, 0);
    assert_eq!(app.month_total().await, 9 * IMAGE);

    // One scene fits, and shows as reserved.
    let first = view.scenes[0].id.to_string();
    app.act(&ada, &first, "approve_text").await;
    let now = app.project_budget(&ada, &project).await;
    assert_eq!(now.standing.reserved_microusd, 10 * IMAGE);
    assert_eq!(now.standing.left_microusd, IMAGE);
}

#[tokio::test]
async fn concurrent_approvals_at_the_edge_of_the_budget_never_overspend() {
    let server = MockServer::start().await;
    let app = paying_app(&server, false, None).await;
    let ada = app.new_user("ada@example.com").await;
    let mut boards = Vec::new();
    for _ in 0..20 {
        let (_, view) = app.planned_project(&ada).await;
        boards.push(view);
    }
    // Room for a few projects' images, far from all twenty.
    let used = app.month_total().await;
    let room = 25 * IMAGE;
    app.set_budget("ada@example.com", used + room).await;
    let approvals = boards.iter().map(|view| {
        let storyboard = view.id.to_string();
        let (app, ada) = (&app, &ada);
        async move {
            app.call_as(
                ada,
                "studio/approve_all",
                &[("storyboard", &storyboard), ("stage", "text")],
            )
            .await
        }
    });
    let responses = futures::future::join_all(approvals).await;
    let mut approved = 0;
    let mut refused = 0;
    let mut refused_costs = Vec::new();
    for (response, view) in responses.into_iter().zip(&boards) {
        match response.status() {
            StatusCode::OK => approved += 1,
            StatusCode::PAYMENT_REQUIRED => {
                refused += 1;
                refused_costs.push(view.scenes.len() as i64 * IMAGE);
                let (_, error) = error_of(response).await;
                assert!(
                    error.to_string().contains("left of your monthly budget"),
                    "{error}"
                );
            }
            other => panic!("an approval answered {other}"),
        }
    }
    let reserved = app.month_total().await - used;
    assert!(reserved <= room, "reserved {reserved} of a room of {room}");
    // Every board has 5–7 scenes: 15–21 thousandths each, so 1–5 fit and the rest not.
    assert!((1..=5).contains(&approved), "{approved} approved");
    assert_eq!(approved + refused, 20);
    // What was refused was left as it was; what was approved was approved whole.
    for view in &boards {
        let after = app.storyboard(&ada, &view.project_id.to_string()).await;
        let n = texts_approved(&after);
        assert!(
            n == 0 || n == after.scenes.len(),
            "{n} of {}",
            after.scenes.len()
        );
    }
    // Each refusal was needed: what it would have cost is more than was left in the end.
    for cost in refused_costs {
        assert!(
            room - reserved < cost,
            "a board costing {cost} µ$ would have fit"
        );
    }
    eprintln!(
        "budget race: {approved} approved, {refused} refused, {reserved} of {room} µ$ reserved"
    );
}

#[tokio::test]
async fn a_reservation_settles_to_the_compute_time_replicate_reports() {
    let server = MockServer::start().await;
    // The image model billed by compute time: $0.001 a second, five seconds expected.
    let app = paying_app(
        &server,
        true,
        Some("black-forest-labs/flux-schnell=compute:0.001:5"),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(
            "/v1/models/black-forest-labs/flux-schnell/predictions",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": "p-1",
            "status": "succeeded",
            "output": [format!("{}/files/p-1.png", server.uri())],
            "metrics": { "predict_time": 2.5 },
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/p-1.png"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(&b"\x89PNG"[..]))
        .mount(&server)
        .await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    let first = view.scenes[0].id.to_string();
    app.act(&ada, &first, "approve_text").await;
    let done = app
        .wait_for(&ada, &project, "the image", |v| {
            v.scenes[0].image_status == GenStatus::Ready
        })
        .await;
    // Nine mood images and the scene's, each reserved at 5 s and billed for 2.5 s.
    let (estimates, actuals, open): (i64, i64, i64) = sqlx::query_as(
        "SELECT SUM(estimate_microusd)::bigint, SUM(actual_microusd)::bigint,
                count(*) FILTER (WHERE settled_at IS NULL)
         FROM spend WHERE item = 'image'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((estimates, actuals, open), (10 * 5_000, 10 * 2_500, 0));
    assert_eq!(done.standing.spent_microusd, 10 * 2_500);
    assert_eq!(done.standing.reserved_microusd, 0);
    // The account page says the same, by project, provider and day.
    let response = app.call_as(&ada, "budget/month", &[]).await;
    let month: MonthSpend = response.json().await.unwrap();
    assert_eq!(month.spent_microusd, 25_000);
    assert_eq!(month.projects[0].month_microusd, 25_000);
    assert_eq!(month.providers[0].label, "replicate");
    assert_eq!(month.days.iter().map(|d| d.microusd).sum::<i64>(), 25_000);
    assert!(!month.offline);
}

#[tokio::test]
async fn a_project_cap_refuses_what_would_pass_it_and_bad_caps_are_refused() {
    let server = MockServer::start().await;
    let app = paying_app(&server, false, None).await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    for bad in ["abc", "-1", "1e12"] {
        let response = app
            .call_as(
                &ada,
                "budget/set_cap",
                &[("project", &project), ("dollars", bad)],
            )
            .await;
        let (status, error) = error_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            error.to_string().contains("amount of US dollars"),
            "{error}"
        );
    }
    // Someone else's project is not found, and keeps its cap.
    let eve = app.new_user("eve@example.com").await;
    let response = app
        .call_as(
            &eve,
            "budget/set_cap",
            &[("project", &project), ("dollars", "0")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // The moods reserved nine images; the cap leaves room for one more.
    let response = app
        .call_as(
            &ada,
            "budget/set_cap",
            &[("project", &project), ("dollars", "$0.030")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let first = view.scenes[0].id.to_string();
    let second = view.scenes[1].id.to_string();
    app.act(&ada, &first, "approve_text").await;
    let response = app
        .call_as(
            &ada,
            "studio/scene",
            &[("scene", &second), ("action", "approve_text")],
        )
        .await;
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert!(error.to_string().contains("this project's cap"), "{error}");
    let after = app.storyboard(&ada, &project).await;
    assert!(!after.scenes[1].text_approved);
    // Removing the cap lets it through.
    let response = app
        .call_as(
            &ada,
            "budget/set_cap",
            &[("project", &project), ("dollars", "")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    app.act(&ada, &second, "approve_text").await;
}

#[tokio::test]
async fn the_offline_preview_costs_nothing_and_records_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    // A budget of nothing refuses nothing that is free.
    app.set_budget("ada@example.com", 0).await;
    app.approve_all_texts(&ada, &view).await;
    let budget = app.project_budget(&ada, &project).await;
    assert!(!budget.prices.paid());
    assert_eq!(app.count("spend").await, 0);
    let page = ada.get(app.url("/account")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("costs nothing"), "the account page says so");
    assert!(html.contains("Lumen launch"), "and lists the project");
}

#[tokio::test]
async fn operators_set_an_accounts_budget_from_the_command_line() {
    let app = TestApp::spawn().await;
    app.sign_up("ada@example.com").await;
    let url = app.database_url();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_reelsmith"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let set = run(&["accounts", "set-budget", "Ada@Example.com", "12.50"]);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert!(String::from_utf8_lossy(&set.stdout).contains("$12.50"));
    let budget: Option<i64> = sqlx::query_scalar(
        "SELECT monthly_budget_microusd FROM users WHERE email = 'ada@example.com'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(budget, Some(12_500_000));
    let unknown = run(&["accounts", "set-budget", "nobody@example.com", "5"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account"));
    let bad = run(&["accounts", "set-budget", "ada@example.com", "lots"]);
    assert!(!bad.status.success());
    let back = run(&["accounts", "set-budget", "ada@example.com", "default"]);
    assert!(back.status.success());
    let budget: Option<i64> = sqlx::query_scalar(
        "SELECT monthly_budget_microusd FROM users WHERE email = 'ada@example.com'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(budget, None);
}

/// The ledger itself: twenty reservations racing, each holding its transaction open a
/// while after reserving (as an action with more work after it does), never pass the
/// budget, because each waits for the one before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_reservations_take_turns_and_never_pass_the_budget() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.create_project(&ada, "Race", "1:1").await;
    let owner: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'ada@example.com'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let spending = app::budget::ssr::Spending::offline(10 * IMAGE);
    let attempts = (0..20).map(|_| {
        let (pool, spending) = (app.pool.clone(), spending.clone());
        tokio::spawn(async move {
            let mut tab = spending.tab(owner, Some(project.id));
            tab.add(
                None,
                app::generation::pricing::Estimate {
                    item: "image",
                    provider: "replicate",
                    model: "black-forest-labs/flux-schnell".into(),
                    microusd: 3 * IMAGE,
                },
            );
            let mut tx = pool.begin().await.unwrap();
            let reserved = tab.reserve(&mut tx).await;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            tx.commit().await.unwrap();
            reserved.is_ok()
        })
    });
    let results = futures::future::join_all(attempts).await;
    let granted = results.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(granted, 3, "three reservations of three images fit in ten");
    assert_eq!(app.month_total().await, 9 * IMAGE);
}

#[tokio::test]
async fn paid_generations_past_the_accounts_minute_are_refused_with_when_to_try_again() {
    let server = MockServer::start().await;
    let app = TestApp::spawn_with(TestSettings {
        no_worker: true,
        providers: Some(ProviderSettings {
            replicate_api_token: Some("r8_test".into()),
            replicate_base_url: Some(format!("{}/v1", server.uri())),
            paid_calls_per_minute: 12,
            ..ProviderSettings::default()
        }),
        ..TestSettings::default()
    })
    .await;
    let ada = app.new_user("ada@example.com").await;
    // The mood round asked for nine images; three scene images fill the minute.
    let (project, view) = app.planned_project(&ada).await;
    for scene in &view.scenes[..3] {
        app.act(&ada, &scene.id.to_string(), "approve_text").await;
    }
    let fourth = view.scenes[3].id.to_string();
    let response = app
        .call_as(
            &ada,
            "studio/scene",
            &[("scene", &fourth), ("action", "approve_text")],
        )
        .await;
    let wait: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header");
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=60).contains(&wait), "{wait}");
    let message = error.to_string();
    assert!(
        message.contains("12 a minute") && message.contains(&format!("in {wait} seconds")),
        "{message}"
    );
    // Nothing changed: the scene is not approved, and nothing more is reserved.
    assert!(!app.storyboard(&ada, &project).await.scenes[3].text_approved);
    assert_eq!(app.month_total().await, 12 * IMAGE);
    // Another account has its own minute.
    let bob = app.new_user("bob@example.com").await;
    app.planned_project(&bob).await;
    // A minute later, the same action goes through.
    sqlx::query("UPDATE spend SET created_at = created_at - interval '61 seconds'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.act(&ada, &fourth, "approve_text").await;
    assert!(app.storyboard(&ada, &project).await.scenes[3].text_approved);
}
