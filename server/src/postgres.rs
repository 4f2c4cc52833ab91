//! A private PostgreSQL cluster, so that Reelsmith runs with no database set-up.
//!
//! It lives in a directory of ours (`<data dir>/postgres`), is made with the system's
//! `initdb`, listens only on a unix socket inside that directory, and is driven with
//! `pg_ctl`. PostgreSQL refuses to run as root, so as root every command runs as the
//! `postgres` user, which then owns the cluster's files.

use anyhow::{bail, Context};
use sqlx::postgres::PgConnectOptions;
use std::{
    ffi::OsString,
    fs,
    hash::{Hash, Hasher},
    os::unix::fs::{chown, PermissionsExt},
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// The superuser `initdb` creates; trusted on the private socket only.
const SUPERUSER: &str = "reelsmith";
/// Kept under the ~107-byte limit of a unix socket path, with room for `/.s.PGSQL.5432`.
const MAX_SOCKET_DIR_LEN: usize = 90;

#[derive(Debug, Clone)]
pub struct LocalCluster {
    root: PathBuf,
    bin_dir: PathBuf,
    socket_dir: PathBuf,
    /// Set when we are root: the `postgres` user's uid and gid.
    run_as: Option<(u32, u32)>,
    /// Off for throw-away test clusters: no fsync, no full-page writes.
    durable: bool,
}

impl LocalCluster {
    pub fn new(root: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let root = std::path::absolute(root.into()).context("resolving the cluster directory")?;
        let socket_dir = {
            let inside = root.join("run");
            if inside.as_os_str().len() <= MAX_SOCKET_DIR_LEN {
                inside
            } else {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                root.hash(&mut hasher);
                std::env::temp_dir().join(format!("reelsmith-pg-{:016x}", hasher.finish()))
            }
        };
        let run_as = if is_root() {
            Some(postgres_user_ids().context(
                "running as root, PostgreSQL must run as the `postgres` user, which was not found \
                 (install the `postgresql` package, or set DATABASE_URL)",
            )?)
        } else {
            None
        };
        Ok(Self {
            root,
            bin_dir: find_bin_dir()?,
            socket_dir,
            run_as,
            durable: true,
        })
    }

    /// A cluster for tests, where speed matters more than surviving a power cut.
    pub fn ephemeral(root: impl Into<PathBuf>) -> anyhow::Result<Self> {
        Ok(Self {
            durable: false,
            ..Self::new(root)?
        })
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("cluster")
    }

    /// Creates the cluster if needed and starts it unless it already runs (for example
    /// after a crash of the process that started it). Safe to call from several
    /// processes at once.
    pub fn start(&self) -> anyhow::Result<()> {
        fs::create_dir_all(&self.root)
            .with_context(|| format!("creating {}", self.root.display()))?;
        let lock = fs::File::create(self.root.join("start.lock"))?;
        lock.lock().context("locking the cluster directory")?;

        for dir in [&self.root, &self.socket_dir] {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
            self.give_to_postgres(dir)?;
        }
        if self.run_as.is_some() {
            let probe = self.run("test", &["-w".into(), self.root.clone().into()])?;
            if !probe.status.success() {
                bail!(
                    "the `postgres` user cannot write to {}: choose a REELSMITH_DATA_DIR whose \
                     parent directories it can enter, or set DATABASE_URL",
                    self.root.display()
                );
            }
        }

        let data_dir = self.data_dir();
        if !data_dir.join("PG_VERSION").exists() {
            tracing::info!(dir = %data_dir.display(), "creating a private PostgreSQL cluster");
            let output = self.run(
                &self.tool("initdb"),
                &[
                    "--pgdata".into(),
                    data_dir.clone().into(),
                    format!("--username={SUPERUSER}").into(),
                    "--auth=trust".into(),
                    "--encoding=UTF8".into(),
                    "--locale=C.UTF-8".into(),
                    "--no-sync".into(),
                ],
            )?;
            check(&output, "initdb")?;
            let conf = data_dir.join("postgresql.conf");
            let mut text = fs::read_to_string(&conf)?;
            text.push_str("\ninclude_if_exists = 'reelsmith.conf'\n");
            fs::write(&conf, text)?;
        }
        self.write_settings()?;

        if self.is_running()? {
            tracing::info!("the private PostgreSQL cluster is already running");
            return Ok(());
        }
        let log = self.root.join("postgres.log");
        let output = self.run(
            &self.tool("pg_ctl"),
            &[
                "start".into(),
                "--wait".into(),
                "--timeout=120".into(),
                "--pgdata".into(),
                data_dir.into(),
                "--log".into(),
                log.clone().into(),
            ],
        )?;
        if !output.status.success() {
            let tail = fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(10).collect();
            bail!(
                "PostgreSQL did not start: {}\n{}",
                String::from_utf8_lossy(&output.stderr).trim(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        tracing::info!(socket = %self.socket_dir.display(), "private PostgreSQL cluster started");
        Ok(())
    }

    /// Rewritten at every start, so a moved directory still finds its socket.
    fn write_settings(&self) -> anyhow::Result<()> {
        let socket_dir = self.socket_dir.to_string_lossy().replace('\'', "''");
        let mut settings = format!(
            "listen_addresses = ''\n\
             unix_socket_directories = '{socket_dir}'\n\
             unix_socket_permissions = 0700\n\
             max_connections = 200\n"
        );
        if !self.durable {
            settings.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let path = self.data_dir().join("reelsmith.conf");
        fs::write(&path, settings)?;
        self.give_to_postgres(&path)
    }

    pub fn is_running(&self) -> anyhow::Result<bool> {
        let output = self.run(
            &self.tool("pg_ctl"),
            &["status".into(), "--pgdata".into(), self.data_dir().into()],
        )?;
        // pg_ctl status: 0 running, 3 not running, 4 no cluster.
        Ok(output.status.success())
    }

    pub fn stop(&self) -> anyhow::Result<()> {
        if !self.data_dir().join("PG_VERSION").exists() || !self.is_running()? {
            return Ok(());
        }
        let output = self.run(
            &self.tool("pg_ctl"),
            &[
                "stop".into(),
                "--wait".into(),
                "--mode=fast".into(),
                "--pgdata".into(),
                self.data_dir().into(),
            ],
        )?;
        check(&output, "pg_ctl stop")?;
        tracing::info!("private PostgreSQL cluster stopped");
        Ok(())
    }

    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .username(SUPERUSER)
            .database(database)
    }

    /// The same connection as a URL, for tools such as `psql` or `cargo sqlx`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost/{database}?host={}",
            self.socket_dir.display()
        )
    }

    fn tool(&self, name: &str) -> String {
        self.bin_dir.join(name).to_string_lossy().into_owned()
    }

    fn run(&self, program: &str, args: &[OsString]) -> anyhow::Result<Output> {
        let mut command = if self.run_as.is_some() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--", program]);
            command
        } else {
            Command::new(program)
        };
        command
            .args(args)
            // Keep postgres off our terminal's signals (Ctrl-C is ours to handle).
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("running {program}"))
    }

    fn give_to_postgres(&self, path: &Path) -> anyhow::Result<()> {
        if let Some((uid, gid)) = self.run_as {
            chown(path, Some(uid), Some(gid))
                .with_context(|| format!("giving {} to the postgres user", path.display()))?;
        }
        Ok(())
    }
}

fn check(output: &Output, what: &str) -> anyhow::Result<()> {
    if output.status.success() {
        return Ok(());
    }
    bail!(
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    )
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn postgres_user_ids() -> anyhow::Result<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres") && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
        .context("no postgres user in /etc/passwd")
}

/// The newest server in Debian's layout (`/usr/lib/postgresql/<version>/bin`), else `PATH`.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let newest = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin);
    if let Some(bin) = newest {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .find(|dir| dir.join("pg_ctl").exists() && dir.join("initdb").exists())
        .context(
            "no PostgreSQL server binaries found (install the `postgresql` package, or set DATABASE_URL)",
        )
}
