//! A private PostgreSQL server for tests: initdb into a temporary folder, listen on 127.0.0.1 on a
//! free port with trust auth, one fresh database per test, stopped when the last test drops it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// A running server; stopped (immediate mode) and its folder removed on drop.
pub struct PgServer {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres_user: bool,
    _dir: tempfile::TempDir,
}

/// One fresh database on a shared private server; keeps the server alive while it lives.
pub struct PgDatabase {
    pub url: String,
    _server: Arc<PgServer>,
}

/// A fresh database for one test. Tests running at the same time share one server; the server
/// stops when the last of them is done, so none is left behind.
pub fn database() -> PgDatabase {
    static SERVER: Mutex<Weak<PgServer>> = Mutex::new(Weak::new());
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let server = {
        let mut slot = SERVER.lock().unwrap_or_else(|e| e.into_inner());
        match slot.upgrade() {
            Some(s) => s,
            None => {
                let s = Arc::new(PgServer::start());
                *slot = Arc::downgrade(&s);
                s
            }
        }
    };
    let name = format!("courtesy_{}", NEXT.fetch_add(1, Ordering::SeqCst));
    PgDatabase {
        url: server.create_database(&name),
        _server: server,
    }
}

/// The folder of `initdb`/`pg_ctl`: `pg_config --bindir`, else the newest
/// /usr/lib/postgresql/*/bin. Their absence fails the test: the setup script installs them.
fn bindir() -> PathBuf {
    let from_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.join("initdb").exists());
    let from_glob = || {
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                bin.join("initdb").exists().then_some((version, bin))
            })
            .collect();
        found.sort();
        found.pop().map(|(_, bin)| bin)
    };
    from_config.or_else(from_glob).unwrap_or_else(|| {
        panic!(
            "PostgreSQL server binaries (initdb, pg_ctl) not found via pg_config or in \
             /usr/lib/postgresql/*/bin — run `scripts/setup.sh --test` (it installs the \
             `postgresql` package)"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

impl PgServer {
    fn start() -> PgServer {
        let bin = bindir();
        // PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user.
        let as_postgres_user = is_root();
        let dir = tempfile::Builder::new()
            .prefix("courtesy-pg")
            .tempdir_in(std::env::temp_dir())
            .expect("a temporary folder");
        if as_postgres_user {
            run(Command::new("chown").args(["postgres:", &dir.path().to_string_lossy()]));
        }
        let data = dir.path().join("data");
        let server = PgServer {
            bin,
            data,
            port: free_port(),
            as_postgres_user,
            _dir: dir,
        };
        let data = server.data.to_string_lossy().to_string();
        run(&mut server.command(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        ));
        server.launch();
        server
    }

    /// Starts the initialised server (again, after [`PgServer::stop`]) on its port.
    fn launch(&self) {
        let server = self;
        let data = server.data.to_string_lossy().to_string();
        let socket_dir = server.data.parent().unwrap_or(Path::new("/tmp"));
        // Durability settings off: a test server's data is thrown away anyway.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=50",
            server.port,
            socket_dir.display()
        );
        let log = server
            .data
            .parent()
            .unwrap_or(Path::new("/tmp"))
            .join("log");
        let started = server
            .command(
                "pg_ctl",
                &[
                    "-D",
                    &data,
                    "-o",
                    &options,
                    "-l",
                    &log.to_string_lossy(),
                    "-w",
                    "-t",
                    "30",
                    "start",
                ],
            )
            .output()
            .expect("run pg_ctl start");
        if !started.status.success() {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("the private PostgreSQL did not start:\n{log}");
        }
    }

    /// A server of the test's own, for a test that stops and starts it (a database outage)
    /// without disturbing the tests sharing [`database`]'s server.
    pub fn own() -> PgServer {
        PgServer::start()
    }

    /// A fresh database on this server; its URL.
    pub fn create_database(&self, name: &str) -> String {
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .expect("connect to the private PostgreSQL");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the test database");
        self.url(name)
    }

    /// Stops the server (fast mode: every connection is cut, what was committed is kept — the
    /// test server runs without fsync, so a crash would lose it); [`PgServer::restart`] brings it
    /// back on the same port with the same data.
    pub fn stop(&self) {
        let data = self.data.to_string_lossy().to_string();
        run(&mut self.command("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]));
    }

    pub fn restart(&self) {
        self.launch();
    }

    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let program = self.bin.join(tool);
        if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program).args(args);
            c
        } else {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data.to_string_lossy().to_string();
        let _ = self
            .command("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn run(c: &mut Command) {
    let out = c.output().unwrap_or_else(|e| panic!("run {c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
