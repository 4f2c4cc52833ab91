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
        std::fs::write(&config, site(dir, port, upstreams)).context("writing nginx.conf")?;
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

/// The whole configuration: the README's site, with what a private nginx needs besides
/// (its own pid file, logs and temporary folders). One process serves, without a master:
/// round robin then takes the instances strictly in turn, and a fleet dropped without
/// `stop` kills all of nginx (a master killed at once leaves its workers behind,
/// holding the port).
fn site(dir: &Path, port: u16, upstreams: &[String]) -> String {
    let dir = dir.display();
    let servers: String = upstreams
        .iter()
        .map(|address| format!("        server {address};\n"))
        .collect();
    format!(
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

    upstream reelsmith {{
{servers}        keepalive 32;
    }}

    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 16m;

        location / {{
            proxy_pass http://reelsmith;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-Id $request_id;
            proxy_buffering off;
            proxy_read_timeout 1h;
        }}
    }}
}}
"#
    )
}
