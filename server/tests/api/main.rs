//! Integration tests: the real app on port 0, a fresh database per test in a real
//! PostgreSQL, driven over HTTP as a browser would.

// Tests unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

mod assets;
mod auth;
mod brand;
mod budget;
mod clips_after_voice;
mod crashes;
mod dashboard;
mod faults;
mod fleet;
mod fuzz;
mod helpers;
mod jobs;
mod live_connections;
mod live_events;
mod llm_director;
mod moods;
mod observability;
mod operations;
mod product;
mod product_check;
mod product_scenes;
mod projects;
mod render;
mod s3;
mod share;
mod site;
mod storyboard;
mod voiceover;
mod worker;
