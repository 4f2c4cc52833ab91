//! Benchmarks the `bench/` scripts run, each printing its figures: the final render
//! (`compose`), live updates under many viewers (`sse`) and the dashboard under load
//! (`http`), users at once through the whole journey behind nginx (`load`); and a fleet
//! of instances behind nginx to try (`fleet`).

mod compose;
mod fleet;
mod harness;
mod http;
mod load;
mod sse;

pub use compose::bench_compose;
pub use fleet::bench_fleet;
pub use harness::ANSWERS;
pub use http::bench_http;
pub use load::{bench_load, Until};
pub use sse::bench_sse;
