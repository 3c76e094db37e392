//! PostgreSQL for tests: a fresh database per test on the server named by
//! `HOTLINE_TEST_PG_URL` (default `postgres://hotline:hotline@127.0.0.1:5432/hotline`, what
//! `scripts/install-deps.sh` sets up), dropped again when the test ends, even by a panic.
//!
//! A server that cannot be reached fails the test with a message saying how to get one:
//! a register backend that is never tested must not look green.
#![allow(dead_code)]

use sqlx::{Connection, Executor, PgConnection};

pub const DEFAULT_URL: &str = "postgres://hotline:hotline@127.0.0.1:5432/hotline";

/// The server (and a database on it that the test role may connect to).
pub fn admin_url() -> String {
    std::env::var("HOTLINE_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// `url` with its database name replaced by `name` (query parameters kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

/// Connects to the test server, or fails the test saying how to install one.
pub async fn admin() -> PgConnection {
    let url = admin_url();
    PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at HOTLINE_TEST_PG_URL (default {DEFAULT_URL}): {e}. \
             Run `sudo bash scripts/install-deps.sh` to install and start it and create the \
             `hotline` role, or point HOTLINE_TEST_PG_URL at a server where the role may \
             CREATE DATABASE."
        )
    })
}

/// A database of its own for one test, dropped with this value.
pub struct FreshDb {
    pub name: String,
    pub url: String,
}

impl FreshDb {
    pub async fn create() -> FreshDb {
        let name = format!("t_{:016x}", rand::random::<u64>());
        let mut admin = admin().await;
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} (the role needs CREATEDB): {e}"));
        admin.close().await.ok();
        FreshDb {
            url: with_database(&admin_url(), &name),
            name,
        }
    }

    /// A plain connection to this database, for what the `Store` API deliberately cannot do.
    pub async fn raw(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("raw connection")
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread with a
        // runtime of its own does the async work.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut admin = PgConnection::connect(&admin_url()).await?;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

#[test]
fn database_names_are_replaced_and_parameters_kept() {
    assert_eq!(
        with_database("postgres://u:p@h:5432/hotline?sslmode=disable", "t_1"),
        "postgres://u:p@h:5432/t_1?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "t_2"), "postgres://h/t_2");
}

/// A PostgreSQL server of the test's own (`initdb` into a temporary directory, on a free
/// port), so a test can stop and start it — a real outage — without touching the shared
/// server other tests use. Stopped when dropped.
pub struct PrivateCluster {
    pub url: String,
    bin: std::path::PathBuf,
    data: std::path::PathBuf,
    port: u16,
    as_postgres: bool,
    dir: tempfile::TempDir,
}

impl PrivateCluster {
    pub fn start() -> PrivateCluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").is_file())
            .max_by_key(|b| {
                b.parent()
                    .and_then(|v| v.file_name())
                    .and_then(|v| v.to_str())
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(0)
            })
            .expect(
                "PostgreSQL server binaries (initdb) under /usr/lib/postgresql: \
                 run `sudo bash scripts/install-deps.sh`",
            );
        let dir = tempfile::tempdir().expect("tempdir");
        // The server refuses to run as root; CI runs as root, so it runs as `postgres`.
        let as_postgres = output("id", &["-u"]).trim() == "0";
        if as_postgres {
            let uid: u32 = output("id", &["-u", "postgres"])
                .trim()
                .parse()
                .expect("uid");
            let gid: u32 = output("id", &["-g", "postgres"])
                .trim()
                .parse()
                .expect("gid");
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let cluster = PrivateCluster {
            url: format!("postgres://hotline@127.0.0.1:{port}/postgres"),
            data: dir.path().join("data"),
            bin,
            port,
            as_postgres,
            dir,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                cluster.data.to_str().expect("utf-8 path"),
                "-U",
                "hotline",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        cluster.start_again();
        cluster
    }

    fn run(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().expect("utf-8"),
                "-o",
                &options,
                "-l",
                log.to_str().expect("utf-8"),
                "-w",
                "start",
            ],
        );
    }

    /// Stops the server the hard way (`immediate`: connections cut, as in a crash).
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().expect("utf-8"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(if self.as_postgres { "runuser" } else { "sh" })
            .args(if self.as_postgres {
                vec!["-u", "postgres", "--"]
            } else {
                vec!["-c", "exec \"$0\" \"$@\""]
            })
            .arg(self.bin.join("pg_ctl"))
            .args([
                "-D",
                self.data.to_str().unwrap_or(""),
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}

fn output(cmd: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
