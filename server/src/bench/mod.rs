//! Benchmarks the `bench/` scripts run, each printing its figures: the final render
//! (`compose`), live updates under many viewers (`sse`) and the dashboard under load
//! (`http`).

mod compose;
mod harness;
mod http;
mod sse;

pub use compose::bench_compose;
pub use http::bench_http;
pub use sse::bench_sse;
