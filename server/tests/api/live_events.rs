//! The instance's live events as its streams share them: a new event is made ready to
//! send (read, its links signed, written as JSON) once, whatever the number of viewers.

use crate::helpers::TestApp;
use app::{
    events::{
        stream::{follow, sse_event, Sent},
        Notifier, Topic,
    },
    projects::{events::changed, ProjectEvent},
};
use futures::{Stream, StreamExt};
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

/// Records `event` on the project's topic as the app does: in a transaction, announced
/// at commit.
async fn record(app: &TestApp, project: uuid::Uuid, event: ProjectEvent) {
    let mut tx = app.pool.begin().await.unwrap();
    changed(&mut tx, project, event).await.unwrap();
    tx.commit().await.unwrap();
}

async fn next<S: Stream + Unpin>(stream: &mut S) -> S::Item {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the event within 10 s")
        .expect("the stream goes on")
}

#[tokio::test]
async fn streams_of_one_topic_send_a_new_event_made_ready_once() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.create_project(&ada, "Lamp", "9:16").await.id;
    let notifier = Notifier::start(app.pool.clone());
    let topic = Topic::Project(project);
    let made = Arc::new(AtomicUsize::new(0));
    let open = || {
        let made = made.clone();
        Box::pin(follow(
            app.pool.clone(),
            notifier.subscribe(topic),
            topic,
            0,
            move |event: ProjectEvent| {
                made.fetch_add(1, Ordering::SeqCst);
                async move {
                    Sent {
                        event: sse_event(event.name(), &event),
                        last: false,
                    }
                }
            },
        ))
    };
    let mut viewers = [open(), open(), open()];
    // Each reads the table (nothing yet) and waits for news.
    for viewer in &mut viewers {
        let nothing = tokio::time::timeout(Duration::from_millis(300), viewer.next()).await;
        assert!(nothing.is_err(), "an event before any was recorded");
    }

    // The first event reaches them by a wake-up: its own, or the listener's first (it
    // may not have been listening yet, and then they read the table). Once they have
    // it, the listener is up and they are up to date.
    record(&app, project, ProjectEvent::MoodsChanged).await;
    for viewer in &mut viewers {
        assert!(format!("{:?}", next(viewer).await).contains("moods_changed"));
    }

    made.store(0, Ordering::SeqCst);
    record(&app, project, ProjectEvent::MusicChanged).await;
    for viewer in &mut viewers {
        let event = format!("{:?}", next(viewer).await);
        assert!(event.contains("music_changed"), "{event}");
        assert!(
            event.contains("id: 2"),
            "each viewer gets the event's id: {event}"
        );
    }
    assert_eq!(
        made.load(Ordering::SeqCst),
        1,
        "three viewers of one topic: the new event was made ready once"
    );
}
