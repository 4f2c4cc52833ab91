use crate::helpers::{error_of, TestApp};
use app::{
    error::AppError,
    projects::{Step, VideoFormat},
};
use reqwest::StatusCode;

#[tokio::test]
async fn new_projects_are_listed_newest_first_at_step_one() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    app.create_project(&ada, "First", "9:16").await;
    let second = app.create_project(&ada, "  Second  ", "16:9").await;

    assert_eq!(second.name, "Second");
    assert_eq!(second.format, VideoFormat::Landscape);
    assert_eq!(second.step, Step::VisionBrief);
    let names: Vec<String> = app
        .list_projects(&ada)
        .await
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Second", "First"]);
}

#[tokio::test]
async fn the_dashboard_page_is_rendered_with_the_users_projects() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    app.create_project(&ada, "Aurora <launch> & co", "1:1")
        .await;

    let page = ada.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Aurora &lt;launch&gt; &amp; co"),
        "escaped name in the page"
    );
}

#[tokio::test]
async fn renaming_a_project_changes_its_name_and_moves_it_to_the_top() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let first = app.create_project(&ada, "First", "9:16").await;
    app.create_project(&ada, "Second", "9:16").await;

    let id = first.id.to_string();
    let response = app
        .call_as(&ada, "projects/rename", &[("id", &id), ("name", "Renamed")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let names: Vec<String> = app
        .list_projects(&ada)
        .await
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Renamed", "Second"]);
}

#[tokio::test]
async fn a_blank_or_overlong_name_or_unknown_format_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.create_project(&ada, "Keep me", "9:16").await;
    let id = project.id.to_string();
    let long = "x".repeat(121);

    for (endpoint, form) in [
        (
            "projects/rename",
            vec![("id", id.as_str()), ("name", "   ")],
        ),
        (
            "projects/rename",
            vec![("id", id.as_str()), ("name", long.as_str())],
        ),
        ("projects/create", vec![("name", ""), ("format", "9:16")]),
        (
            "projects/create",
            vec![("name", "Square-ish"), ("format", "4:3")],
        ),
        ("projects/rename", vec![("id", "not-a-uuid"), ("name", "x")]),
    ] {
        let (status, error) = error_of(app.call_as(&ada, endpoint, &form).await).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{endpoint} {form:?}: {error}"
        );
        assert!(matches!(error, AppError::Invalid(_)), "{error:?}");
    }
    assert_eq!(app.list_projects(&ada).await, vec![project]);
}

#[tokio::test]
async fn duplicating_a_project_makes_a_named_copy_and_keeps_the_original() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let original = app.create_project(&ada, "Launch", "1:1").await;

    let id = original.id.to_string();
    let response = app
        .call_as(&ada, "projects/duplicate", &[("id", &id)])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let copy: app::projects::Project = response.json().await.unwrap();
    assert_eq!(copy.name, "Launch (copy)");
    assert_eq!(copy.format, VideoFormat::Square);
    assert_ne!(copy.id, original.id);
    assert_eq!(app.list_projects(&ada).await.len(), 2);
}

#[tokio::test]
async fn a_duplicate_keeps_the_conversation_and_brief_and_restarts_at_the_moods() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, _) = app.planned_project(&ada).await;
    let response = app
        .call_as(&ada, "projects/duplicate", &[("id", &project)])
        .await;
    let copy: app::projects::Project = response.json().await.unwrap();
    assert_eq!(copy.step, app::projects::Step::Mood);
    let copy_id = copy.id.to_string();
    let original: app::brief::BriefState =
        app.studio(&ada, "brief", &[("project", &project)]).await;
    let copied: app::brief::BriefState = app.studio(&ada, "brief", &[("project", &copy_id)]).await;
    assert_eq!(copied.messages, original.messages);
    assert_eq!(copied.brief, original.brief);
    let storyboard: Option<app::storyboard::StoryboardView> = app
        .studio(&ada, "storyboard", &[("project", &copy_id)])
        .await;
    assert!(
        storyboard.is_none(),
        "generated work stays with the original"
    );
}

#[tokio::test]
async fn deleting_a_project_removes_it_and_its_page() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.create_project(&ada, "Doomed", "9:16").await;
    let page = app.url(&format!("/projects/{}", project.id));
    assert_eq!(
        ada.get(&page).send().await.unwrap().status(),
        StatusCode::OK
    );

    let id = project.id.to_string();
    let response = app.call_as(&ada, "projects/delete", &[("id", &id)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.list_projects(&ada).await, vec![]);
    assert_eq!(
        ada.get(&page).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let again = app.call_as(&ada, "projects/delete", &[("id", &id)]).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_users_project_behaves_exactly_like_a_missing_one() {
    let app = TestApp::spawn().await;
    let ada = app.new_user("ada@example.com").await;
    let bob = app.new_user("bob@example.com").await;
    let adas = app
        .create_project(&ada, "Ada's secret launch", "9:16")
        .await;
    let id = adas.id.to_string();
    let missing = uuid::Uuid::new_v4().to_string();

    for target in [&id, &missing] {
        for (endpoint, form) in [
            ("projects/get", vec![("id", target.as_str())]),
            (
                "projects/rename",
                vec![("id", target.as_str()), ("name", "Mine now")],
            ),
            ("projects/duplicate", vec![("id", target.as_str())]),
            ("projects/delete", vec![("id", target.as_str())]),
        ] {
            let (status, error) = error_of(app.call_as(&bob, endpoint, &form).await).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{endpoint}");
            assert_eq!(error, AppError::not_found("Project"));
        }
        let page = bob
            .get(app.url(&format!("/projects/{target}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
        assert!(!page.text().await.unwrap().contains("secret"));
    }
    assert_eq!(app.list_projects(&bob).await, vec![]);
    assert_eq!(app.list_projects(&ada).await, vec![adas]);
}
