//! The `hotline` binary as an operator of the system runs it: `check-config`, and `serve`
//! stopped with SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn hotline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hotline"))
}

#[test]
fn check_config_accepts_the_shipped_config() {
    let out = hotline()
        .current_dir(repo())
        .args(["--config", "config/hotline.toml", "check-config"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
}

#[test]
fn check_config_names_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[hours]\nopen = \"25:00\"\n[sip]\nlisten = \"nowhere\"\n",
    )
    .unwrap();
    let out = hotline()
        .args(["--config"])
        .arg(&file)
        .arg("check-config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml"), "{err}");
    assert!(err.contains("hours.open"), "{err}");
    assert!(err.contains("25:00"), "{err}");
    assert!(err.contains("sip.listen"), "{err}");
}

#[test]
fn check_config_rejects_unknown_keys_and_bad_env_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.toml");
    std::fs::write(&file, "[sip]\nlistne = \"127.0.0.1:5060\"\n").unwrap();
    let out = hotline()
        .arg("--config")
        .arg(&file)
        .arg("check-config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sip.listne"));

    let out = hotline()
        .current_dir(repo())
        .env("HOTLINE_SIP__LISTEN", "not-an-address")
        .args(["check-config"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sip.listen"));
}

#[test]
fn missing_explicit_config_is_an_error_naming_it() {
    let out = hotline()
        .args(["--config", "/nonexistent/hotline.toml", "check-config"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/hotline.toml"));
}

/// `serve` on the shipped defaults, with the address and files moved by environment
/// overrides; SIGTERM stops it cleanly with exit 0.
#[test]
fn serve_starts_on_defaults_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let mut child = hotline()
        .current_dir(repo())
        .env("HOTLINE_SIP__LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "HOTLINE_DATABASE__URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("h.db").display()),
        )
        .env(
            "HOTLINE_RECORDINGS__DIR",
            dir.path().join("rec").display().to_string(),
        )
        .env("HOTLINE_HTTP__LISTEN", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut log = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("hotline serving") || Instant::now() > deadline {
            break;
        }
    }
    assert!(
        log.contains("hotline serving"),
        "server did not start:\n{log}"
    );
    assert!(
        dir.path().join("h.db").exists(),
        "the register file is created on start"
    );

    send_signal(child.id(), "TERM");
    let status = wait_bounded(&mut child, Duration::from_secs(20));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        status.success(),
        "exit after SIGTERM: {status:?}\n{}",
        rest.join("\n")
    );
    assert!(
        rest.iter().any(|l| l.contains("hotline stopped")),
        "{}",
        rest.join("\n")
    );
}

fn send_signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

fn wait_bounded(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGHUP reads the configuration again: new hours apply to the next call, no restart.
#[test]
fn sighup_reloads_the_hours_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let file = dir.path().join("hotline.toml");
    let write_config = |hours: &str| {
        let text = format!(
            // The menu is off: this is about the hours, and the caller presses no key.
            "[sip]\nlisten = \"127.0.0.1:{port}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[prompts]\ndir = \"{}\"\n[database]\nurl = \"sqlite://{}?mode=rwc\"\n[recordings]\ndir = \"{}\"\n[menu]\nenabled = false\n{hours}",
            repo().join("config/prompts").display(),
            dir.path().join("h.db").display(),
            dir.path().join("rec").display()
        );
        std::fs::write(&file, text).unwrap();
    };
    write_config(CLOSED);
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let mut child = hotline()
        .arg("--config")
        .arg(&file)
        .stderr(log)
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
    let wait_for = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !read_log().contains(what) {
            assert!(
                Instant::now() < deadline,
                "no {what:?} in the log:\n{}",
                read_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("hotline serving");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let call = |rt: &tokio::runtime::Runtime| {
        rt.block_on(sipp(
            server,
            "after_hours_call.xml",
            &[
                "-s",
                "792112",
                "-set",
                "rtp_port",
                &free_udp_port().to_string(),
            ],
        ))
    };
    let first = call(&rt);
    assert!(first.status.success(), "{}", first.stderr);
    write_config(ALWAYS_OPEN);
    send_signal(child.id(), "HUP");
    wait_for("configuration reloaded");
    let second = call(&rt);
    assert!(second.status.success(), "{}", second.stderr);
    send_signal(child.id(), "TERM");
    assert!(wait_bounded(&mut child, Duration::from_secs(20)).success());
    let store = rt
        .block_on(hotline::store::Store::open(
            &format!("sqlite://{}?mode=rwc", dir.path().join("h.db").display()),
            1,
        ))
        .unwrap();
    let outcome = |id: &str| {
        rt.block_on(store.calls_by_sip_call_id(id)).unwrap()[0]
            .outcome
            .clone()
    };
    assert_eq!(
        outcome(&first.call_id),
        "after_hours",
        "closed before the reload"
    );
    assert_eq!(
        outcome(&second.call_id),
        "no_operators",
        "open after the reload (nobody logged in)"
    );
}
