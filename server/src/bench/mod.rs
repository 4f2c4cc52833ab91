//! Benchmarks the `bench/` scripts run, each printing its figures: the final render
//! (`compose`), live updates under many viewers (`sse`) and the dashboard under load
//! (`http`); and a fleet of instances behind nginx to try (`fleet`).

mod compose;
mod fleet;
mod harness;
mod http;
mod sse;

pub use compose::bench_compose;
pub use fleet::bench_fleet;
pub use http::bench_http;
pub use sse::bench_sse;
