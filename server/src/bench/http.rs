//! `reelsmith bench-http`: the dashboard under load. Starts a `reelsmith` process of its
//! own, signs a user up, makes their projects, notes the server's resident memory once
//! it is idle, then keeps `connections` requests for the dashboard (`/`, logged in) in
//! flight for `seconds` and prints one line:
//!   page= projects= connections= seconds= requests= errors= requests_per_s= p50_ms=
//!   p99_ms= max_ms= idle_rss_mb= page_kb= encoding= transfer_kb= kept_page_hits=
//!   kept_page_misses=
//! Each request asks for a compressed answer as Chromium does (`--accept-encoding
//! identity` for none): page_kb is the page, transfer_kb what it took on the wire.
//! Goal on two cores: 3,000 requests a second, p99 <= 20 ms, idle RSS <= 60 MB. The
//! client shares the machine's cores with the server, as wrk would. Run through
//! `bench/http`, which builds the release binary.

use super::harness::{ms_since, percentile, server_binary, Browser, Server, PASSWORD};
use anyhow::bail;
use reqwest::header::{self, HeaderMap, HeaderValue};
use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::task::JoinSet;

/// Loads before the measured ones: connections opened, caches warm.
const WARM_UP: Duration = Duration::from_secs(2);

pub async fn bench_http(
    server: Option<PathBuf>,
    page: &str,
    accept_encoding: &str,
    projects: usize,
    connections: usize,
    seconds: f64,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        page.starts_with('/'),
        "the page must be a path such as /login"
    );
    anyhow::ensure!(connections > 0, "connections must be at least 1");
    anyhow::ensure!(
        seconds > 0.0 && seconds.is_finite(),
        "seconds must be positive"
    );
    let server = Server::start(&server_binary(server)?, &[]).await?;
    let browser = Browser::new(&server.base)?;
    browser
        .call(
            "signup",
            &[("email", "marketer@example.com"), ("password", PASSWORD)],
        )
        .await?;
    for number in 1..=projects {
        let name = format!("Campaign {number:02}");
        browser
            .call("projects/create", &[("name", &name), ("format", "9:16")])
            .await?;
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::COOKIE, browser.cookie_header()?.parse()?);
    let url = format!("{}{page}", server.base);
    // Without reqwest's decompression features: an answer is read as it came.
    // Redirects are not followed: a page that sends the user elsewhere (the log-in page
    // once logged in) would otherwise be measured as the page it sends them to.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let (_, body) = fetch(&http, &url, &headers, "identity").await?;
    let page_kb = body.len() as f64 / 1024.0;
    let last = format!("Campaign {projects:02}");
    if page == "/" && projects > 0 && !String::from_utf8_lossy(&body).contains(&last) {
        bail!("the dashboard does not list the projects (no {last:?} in it)");
    }
    let (encoding, transferred) = fetch(&http, &url, &headers, accept_encoding).await?;
    let transfer_kb = transferred.len() as f64 / 1024.0;
    headers.insert(header::ACCEPT_ENCODING, accept_encoding.parse()?);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss_mb = server.rss_kib()? as f64 / 1024.0;

    load(&http, &url, &headers, connections, WARM_UP).await?;
    let measured = Duration::from_secs_f64(seconds);
    let (mut latencies, errors) = load(&http, &url, &headers, connections, measured).await?;
    let (kept_hits, kept_misses) = kept_pages(&http, &server.base).await?;
    server.stop().await?;

    latencies.sort_by(f64::total_cmp);
    println!(
        "page={page} projects={projects} connections={connections} seconds={seconds} requests={} errors={errors} \
         requests_per_s={:.0} p50_ms={:.1} p99_ms={:.1} max_ms={:.1} idle_rss_mb={idle_rss_mb:.1} page_kb={page_kb:.1} \
         encoding={encoding} transfer_kb={transfer_kb:.1} kept_page_hits={kept_hits} kept_page_misses={kept_misses}",
        latencies.len(),
        latencies.len() as f64 / measured.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
    Ok(())
}

/// How many answers the server's page cache gave from a kept page and how many it had
/// to render (its `/metrics`, open to loopback): the load asks again and again for a page
/// that does not change, so all but the first come from the kept copy.
async fn kept_pages(http: &reqwest::Client, base: &str) -> anyhow::Result<(u64, u64)> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let count = |result: &str| -> u64 {
        text.lines()
            .filter(|line| {
                line.starts_with("reelsmith_page_cache_total{")
                    && line.contains(&format!("result=\"{result}\""))
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    Ok((count("hit"), count("miss")))
}

/// One answer to `url` asking for `encoding`, as it came: its `Content-Encoding` and body.
async fn fetch(
    http: &reqwest::Client,
    url: &str,
    headers: &HeaderMap,
    encoding: &str,
) -> anyhow::Result<(String, Vec<u8>)> {
    let mut headers = headers.clone();
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(encoding)?);
    let response = http.get(url).headers(headers).send().await?;
    if response.status() != reqwest::StatusCode::OK {
        let to = response
            .headers()
            .get(header::LOCATION)
            .map(|to| format!(" (to {})", to.to_str().unwrap_or("?")))
            .unwrap_or_default();
        bail!("{url} answered {}{to}, not 200", response.status());
    }
    let encoding = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .map_or("identity", |value| value.to_str().unwrap_or("?"))
        .to_string();
    Ok((encoding, response.bytes().await?.to_vec()))
}

/// `connections` loops, each asking for `url` again as soon as it is answered, for
/// `span`. Returns the latency of every answered request (ms) and the number of errors
/// (failed requests or answers other than 200).
async fn load(
    http: &reqwest::Client,
    url: &str,
    headers: &HeaderMap,
    connections: usize,
    span: Duration,
) -> anyhow::Result<(Vec<f64>, usize)> {
    let until = Instant::now() + span;
    let mut loops = JoinSet::new();
    let url: Arc<str> = url.into();
    let headers = Arc::new(headers.clone());
    for _ in 0..connections {
        let (http, url, headers) = (http.clone(), url.clone(), headers.clone());
        loops.spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            while Instant::now() < until {
                let asked = Instant::now();
                let answered = async {
                    let response = http.get(&*url).headers((*headers).clone()).send().await?;
                    let ok = response.status() == reqwest::StatusCode::OK;
                    response.bytes().await?;
                    anyhow::Ok(ok)
                }
                .await;
                match answered {
                    Ok(true) => latencies.push(ms_since(asked)),
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        });
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    while let Some(done) = loops.join_next().await {
        let (latencies, failed) = done?;
        all.extend(latencies);
        errors += failed;
    }
    Ok((all, errors))
}
