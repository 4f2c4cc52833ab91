//! The Reelsmith server: settings, the private Postgres cluster, the router and start-up.

pub mod bench;
pub mod config;
pub mod fleet;
mod housekeeping;
mod http;
mod live_connections;
pub mod metrics;
mod page_cache;
pub mod postgres;
pub mod sample;
pub mod site;
pub mod startup;
pub mod telemetry;
