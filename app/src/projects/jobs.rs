//! The file sweep: removes a deleted project's stored files again a little after the
//! deletion, retrying storage errors, and catching files a generation wrote as the
//! project went. It belongs to no project, so it outlives the project's rows.

use crate::{
    generation::ssr::GenerationError,
    jobs::{BackgroundJob, JobContext, Outcome},
};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileSweep {
    /// The stored files' common prefix (`users/<id>/projects/<id>/`).
    pub prefix: String,
}

/// How long after a project's deletion its files are swept again: longer than a lease,
/// so a job that was writing a file when the project went has stopped by then.
pub const FILE_SWEEP_DELAY: Duration = Duration::from_secs(120);

#[async_trait]
impl BackgroundJob for FileSweep {
    const KIND: &'static str = "delete_files";
    const MAX_ATTEMPTS: i32 = 10;
    const CONCURRENCY: usize = 1;
    const DELAY: Duration = FILE_SWEEP_DELAY;

    fn idempotency_key(&self) -> String {
        format!("delete_files:{}", self.prefix)
    }

    async fn run(&self, context: &JobContext) -> Result<Outcome, GenerationError> {
        context
            .storage
            .delete_prefix(&self.prefix)
            .await
            .map_err(GenerationError::Failed)?;
        tracing::info!(prefix = %self.prefix, "swept a deleted project's files");
        Ok(Outcome::Done)
    }
}
