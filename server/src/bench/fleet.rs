//! `bench/fleet`: a fleet of this binary's instances behind nginx (see `crate::fleet`),
//! kept up until Ctrl-C for an operator or a developer to try.

use crate::{
    config::Settings,
    fleet::{Fleet, FleetOptions},
    startup::shutdown_signal,
};
use anyhow::Context;

pub async fn bench_fleet(
    settings: &Settings,
    workers: usize,
    web_only: usize,
) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding the reelsmith binary")?;
    let mut options = FleetOptions::new(exe, std::path::absolute(&settings.site_root)?);
    options.workers = workers;
    options.web_only = web_only;
    let fleet = Fleet::start(options).await?;
    println!("The fleet is up at {} (Ctrl-C stops it)", fleet.url);
    for (n, instance) in fleet.instances.iter().enumerate() {
        println!(
            "  instance {}: {} ({}), log {}",
            n + 1,
            instance.url(),
            if instance.runs_worker {
                "web and jobs"
            } else {
                "web only"
            },
            instance.log.display()
        );
    }
    println!("  database: {}", fleet.database_url);
    println!("  bucket: {} (s3s-fs)", fleet.s3.endpoint);
    println!("  nginx: {}", fleet.dir().join("nginx").display());
    shutdown_signal().await;
    println!("Stopping the fleet");
    fleet.stop().await;
    Ok(())
}
