//! Integration tests: the real app on port 0, a fresh database per test in a real
//! PostgreSQL, driven over HTTP as a browser would.

mod assets;
mod auth;
mod helpers;
mod jobs;
mod llm_director;
mod operations;
mod projects;
mod render;
mod s3;
mod share;
mod storyboard;
