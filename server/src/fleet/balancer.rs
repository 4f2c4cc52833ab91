//! The fleet's load balancer: nginx (Debian's package) in front of the instances, set up
//! as the README's "Running several instances" advises: round robin without sticky
//! sessions, live streams passed on unbuffered and kept open while quiet, the client's
//! address and a request id added to every request.

use super::Process;
use anyhow::Context;
use std::path::Path;

pub struct Balancer {
    process: Process,
    /// Where users reach the fleet.
    pub url: String,
}

impl Balancer {
    /// Starts nginx on loopback `port`, its files in `dir`, in front of `upstreams`
    /// (`127.0.0.1:port` each).
    pub async fn start(dir: &Path, port: u16, upstreams: &[String]) -> anyhow::Result<Self> {
        let temp = dir.join("temp");
        std::fs::create_dir_all(&temp).context("making nginx's folders")?;
        let config = dir.join("nginx.conf");
        std::fs::write(&config, site(dir, port, upstreams)?).context("writing nginx.conf")?;
        let mut command = tokio::process::Command::new(binary());
        command
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&config)
            .arg("-e")
            .arg(dir.join("error.log"))
            .args(["-g", "daemon off;"]);
        let process = Process::serving("nginx", command, &dir.join("nginx.out"), port).await?;
        Ok(Self {
            process,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    pub async fn stop(self) {
        self.process.stop().await;
    }
}

/// Debian puts nginx in /usr/sbin, which a non-root PATH may not list.
fn binary() -> &'static str {
    if Path::new("/usr/sbin/nginx").is_file() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

/// The README's nginx example, which the fleet serves as written but for its addresses:
/// what the tests check through nginx is what an operator is told to run.
const README: &str = include_str!("../../../README.md");

/// The whole configuration: the README's site, with what a private nginx needs besides
/// (its own pid file, logs and temporary folders). One process serves, without a master:
/// round robin then takes the instances strictly in turn, and a fleet dropped without
/// `stop` kills all of nginx (a master killed at once leaves its workers behind,
/// holding the port).
fn site(dir: &Path, port: u16, upstreams: &[String]) -> anyhow::Result<String> {
    let site = readme_site(README, port, upstreams)?;
    let dir = dir.display();
    Ok(format!(
        r#"master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/temp/body;
    proxy_temp_path {dir}/temp/proxy;
    fastcgi_temp_path {dir}/temp/fastcgi;
    uwsgi_temp_path {dir}/temp/uwsgi;
    scgi_temp_path {dir}/temp/scgi;

{site}}}
"#
    ))
}

/// The README's ```nginx block, its upstream servers replaced by `upstreams` and its
/// `listen 80;` by loopback `port`.
fn readme_site(readme: &str, port: u16, upstreams: &[String]) -> anyhow::Result<String> {
    let block = readme
        .split_once("```nginx\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .context("the README has no ```nginx block")?;
    let mut site = String::new();
    let mut servers_written = false;
    let mut listened = false;
    for line in block.lines() {
        let setting = line.trim();
        if setting.starts_with("server ") && setting.ends_with(';') {
            if !servers_written {
                for address in upstreams {
                    site.push_str(&format!("    server {address};\n"));
                }
                servers_written = true;
            }
        } else if setting == "listen 80;" {
            site.push_str(&format!("    listen 127.0.0.1:{port};\n"));
            listened = true;
        } else {
            site.push_str(line);
            site.push('\n');
        }
    }
    anyhow::ensure!(
        servers_written && listened,
        "the README's nginx site has no upstream servers or no `listen 80;`"
    );
    Ok(site)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_site_is_served_with_the_fleet_s_addresses() {
        let upstreams = ["127.0.0.1:4001".to_string(), "127.0.0.1:4002".to_string()];
        let site = readme_site(README, 4100, &upstreams).unwrap();
        assert!(site.contains("    server 127.0.0.1:4001;\n    server 127.0.0.1:4002;\n"));
        assert!(site.contains("listen 127.0.0.1:4100;"));
        assert!(!site.contains("3001") && !site.contains("listen 80;"));
        assert!(site.contains("proxy_buffering off;"), "{site}");
    }
}
