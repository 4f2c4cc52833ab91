//! `reelsmith bench-sse`: live updates under many viewers. For each subscriber count it
//! starts a fresh `reelsmith` process (its own private PostgreSQL, the offline
//! providers, no worker), plans a few storyboards through the API as a user would, opens
//! that many storyboard streams spread over them, then edits scene texts at a steady
//! rate and times, for every subscriber, how long after the edit's response its event
//! arrived. Prints one line per count:
//!   subscribers= storyboards= samples= missed= p50_ms= p99_ms= max_ms= kb_per_subscriber=
//!   kb_per_added_subscriber=
//! where `kb_per_subscriber` is the server's resident memory added per open, idle stream,
//! and `kb_per_added_subscriber` the same for the streams opened after the first tenth
//! (without what the first ones set up once, such as the database pool's connections).
//! Run through `bench/sse`, which builds the release binary.

use super::harness::{
    id_of, percentile, plan_storyboard, server_binary, Browser, Server, PASSWORD,
};
use anyhow::{bail, Context};
use futures::StreamExt;
use std::{
    collections::HashSet,
    path::Path,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use tokio::{sync::mpsc, task::JoinSet};

/// What an edit writes into a scene's text, followed by the edit's number: subscribers
/// find it in the events they receive.
const MARKER: &str = "bench-edit-";
/// Streams connecting at once.
const CONNECTING: usize = 200;

/// What one run measured.
struct Figures {
    samples: usize,
    missed: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    kb_per_subscriber: f64,
    /// What each stream opened after the first tenth added.
    kb_per_added_subscriber: f64,
}

pub async fn bench_sse(
    server: Option<std::path::PathBuf>,
    subscriber_counts: Vec<usize>,
    storyboards: usize,
    edits: usize,
    edits_per_second: f64,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        storyboards > 0 && edits > 0,
        "storyboards and edits must be at least 1"
    );
    anyhow::ensure!(
        edits_per_second > 0.0 && edits_per_second.is_finite(),
        "edits a second must be positive"
    );
    let server = server_binary(server)?;
    for subscribers in subscriber_counts {
        let figures = run(&server, subscribers, storyboards, edits, edits_per_second).await?;
        println!(
            "subscribers={subscribers} storyboards={storyboards} edits={edits} samples={} missed={} \
             p50_ms={:.1} p99_ms={:.1} max_ms={:.1} kb_per_subscriber={:.1} kb_per_added_subscriber={:.1}",
            figures.samples,
            figures.missed,
            figures.p50_ms,
            figures.p99_ms,
            figures.max_ms,
            figures.kb_per_subscriber,
            figures.kb_per_added_subscriber
        );
    }
    Ok(())
}

/// A planned storyboard and its owner's browser.
struct Storyboard {
    browser: Arc<Browser>,
    id: String,
    /// The scene the bench edits.
    scene: String,
}

/// A storyboard planned by `browser`'s user, from the brief to the scenes.
async fn plan(browser: &Arc<Browser>) -> anyhow::Result<Storyboard> {
    let (_, view) = plan_storyboard(browser, None).await?;
    Ok(Storyboard {
        id: id_of(&view)?,
        scene: id_of(&view["scenes"][0])?,
        browser: browser.clone(),
    })
}

/// One stream: reports when it is open (its snapshot came), then every edit it sees.
async fn subscribe(
    storyboard: (Arc<Browser>, String),
    connecting: Arc<tokio::sync::Semaphore>,
    open: Arc<AtomicUsize>,
    seen: mpsc::UnboundedSender<(usize, Instant)>,
) -> anyhow::Result<()> {
    let (browser, id) = storyboard;
    let permit = connecting.acquire_owned().await?;
    let response = browser
        .http
        .get(format!("{}/api/storyboards/{id}/stream", browser.base))
        .send()
        .await?
        .error_for_status()?;
    let mut body = response.bytes_stream();
    let mut permit = Some(permit);
    let mut pending = String::new();
    let mut counted = HashSet::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        let arrived = Instant::now();
        if permit.take().is_some() {
            open.fetch_add(1, Ordering::SeqCst);
        }
        pending.push_str(&String::from_utf8_lossy(&chunk));
        // Whole events only: they end with a blank line.
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            for (at, _) in event.match_indices(MARKER) {
                let digits: String = event[at + MARKER.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(edit) = digits.parse::<usize>() {
                    if counted.insert(edit) {
                        let _ = seen.send((edit, arrived));
                    }
                }
            }
        }
    }
    Ok(())
}

async fn run(
    exe: &Path,
    subscribers: usize,
    storyboards: usize,
    edits: usize,
    edits_per_second: f64,
) -> anyhow::Result<Figures> {
    let room = (subscribers + 100).to_string();
    let server = Server::start(
        exe,
        &[
            ("REELSMITH_STREAMS_TOTAL", room.clone()),
            ("REELSMITH_STREAMS_PER_ACCOUNT", room),
        ],
    )
    .await?;
    // One account owns every storyboard (sign-ups from one address are throttled).
    let browser = Arc::new(Browser::new(&server.base)?);
    browser
        .call(
            "signup",
            &[("email", "viewer@example.com"), ("password", PASSWORD)],
        )
        .await?;
    let mut planned = Vec::new();
    for _ in 0..storyboards {
        planned.push(plan(&browser).await.context("planning a storyboard")?);
    }
    // Let the start-up settle before the baseline.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = server.rss_kib()?;

    let connecting = Arc::new(tokio::sync::Semaphore::new(CONNECTING));
    let open = Arc::new(AtomicUsize::new(0));
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let mut streams = JoinSet::new();
    // A tenth of the streams first, then the rest: what the rest add is the cost of a
    // stream alone, without what the first ones set up once (database connections
    // opened for their snapshots, the runtime's and the allocator's first pages).
    let first = (subscribers / 10).max(1).min(subscribers);
    let mut warmed = before;
    for (range, last) in [(0..first, false), (first..subscribers, true)] {
        for number in range.clone() {
            let storyboard = &planned[number % storyboards];
            streams.spawn(subscribe(
                (storyboard.browser.clone(), storyboard.id.clone()),
                connecting.clone(),
                open.clone(),
                seen_tx.clone(),
            ));
        }
        let started = Instant::now();
        while open.load(Ordering::SeqCst) < range.end {
            if let Some(Ok(Err(error))) = streams.try_join_next() {
                bail!("a stream failed: {error:#}");
            }
            if started.elapsed() > Duration::from_secs(300) {
                bail!(
                    "only {} of {subscribers} streams opened",
                    open.load(Ordering::SeqCst)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        if !last {
            warmed = server.rss_kib()?;
        }
    }
    drop(seen_tx);
    let after = server.rss_kib()?;

    // Edits at a steady rate, one storyboard after another; each one's response time.
    let mut answered = Vec::with_capacity(edits);
    let pace = Duration::from_secs_f64(1.0 / edits_per_second);
    let mut next = Instant::now();
    for edit in 0..edits {
        tokio::time::sleep_until(next.into()).await;
        next += pace;
        let storyboard = &planned[edit % storyboards];
        let text = format!("{MARKER}{edit} Light that follows your day.");
        storyboard
            .browser
            .call(
                "studio/scene",
                &[
                    ("scene", &storyboard.scene),
                    ("action", "edit_text"),
                    ("text", &text),
                ],
            )
            .await?;
        answered.push(Instant::now());
    }
    // Stragglers, then the streams are closed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    streams.abort_all();
    let mut latencies = Vec::new();
    while let Ok((edit, arrived)) = seen_rx.try_recv() {
        if let Some(response) = answered.get(edit) {
            // An event can beat the edit's own response (it is sent at commit): 0 ms.
            latencies.push(arrived.saturating_duration_since(*response).as_secs_f64() * 1000.0);
        }
    }
    server.stop().await?;

    // Every subscriber of a storyboard should see every edit of it.
    let expected: usize = (0..edits)
        .map(|edit| {
            let storyboard = edit % storyboards;
            (0..subscribers)
                .filter(|s| s % storyboards == storyboard)
                .count()
        })
        .sum();
    latencies.sort_by(f64::total_cmp);
    Ok(Figures {
        samples: latencies.len(),
        missed: expected.saturating_sub(latencies.len()),
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
        kb_per_subscriber: after.saturating_sub(before) as f64 * 1.024 / subscribers.max(1) as f64,
        kb_per_added_subscriber: after.saturating_sub(warmed) as f64 * 1.024
            / (subscribers - first).max(1) as f64,
    })
}
