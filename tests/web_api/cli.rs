//! The `user add` and `dev seed` commands, run as an administrator runs them.

use std::io::Write;
use std::process::{Command, Stdio};

use super::*;

fn hotline(config: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hotline"));
    c.arg("--config").arg(config);
    c
}

/// Runs `hotline user add NAME --role ROLE` with `password` on standard input.
fn user_add(
    config: &std::path::Path,
    name: &str,
    role: &str,
    password: &str,
) -> std::process::Output {
    let mut child = hotline(config)
        .args(["user", "add", name, "--role", role])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_add_reads_the_password_from_stdin_and_seed_writes_a_register() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("h.toml");
    // The including binary's register: a fresh PostgreSQL database, or a SQLite file here.
    let database = super::test_database().await;
    let url = match &database {
        Some(d) => d.url.clone(),
        None => format!("sqlite://{}?mode=rwc", dir.path().join("h.db").display()),
    };
    std::fs::write(&config, format!("[database]\nurl = \"{url}\"\n")).unwrap();

    let out = user_add(&config, "anna", "supervisor", "anna-password");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = user_add(&config, "anna", "qa", "another-password");
    assert_eq!(out.status.code(), Some(1), "the name is taken");
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));
    let out = user_add(&config, "boris", "qa", "short");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));
    let out = hotline(&config)
        .args(["user", "add", "boris", "--role", "root"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "unknown role");

    let out = hotline(&config)
        .args([
            "dev", "seed", "--calls", "400", "--days", "14", "--seed", "5",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("400 calls written"), "{text}");
    assert!(text.contains("stats over 14 days (400 calls)"), "{text}");

    let store = Store::open(&url, 1).await.unwrap();
    let anna = store.user("anna").await.unwrap().unwrap();
    assert_eq!(anna.role, Role::Supervisor);
    assert!(hotline::web::credentials::verify_password(
        &anna.password_hash,
        "anna-password"
    ));
    assert!(store.user("boris").await.unwrap().is_none());
    assert_eq!(store.count_calls().await.unwrap(), 400);
    store.close().await;
    drop(database);
}
