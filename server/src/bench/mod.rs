//! Benchmarks the `bench/` scripts run, each printing its figures: the final render
//! (`compose`) and live updates under many viewers (`sse`).

mod compose;
mod sse;

pub use compose::bench_compose;
pub use sse::bench_sse;
