//! The binary copied to a bare machine: started from an empty directory, with no config
//! file and no prompt files, it checks its config, starts and answers a call on its
//! built-in defaults; a prompt put in the configured directory replaces the built-in one.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn hotline_in(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
    cmd.current_dir(dir);
    cmd
}

#[test]
fn check_config_succeeds_in_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = hotline_in(dir.path()).arg("check-config").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
    assert!(!err.contains("No such file"), "{err}");
}

#[test]
fn a_missing_prompt_named_in_the_config_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = hotline_in(dir.path())
        .env("HOTLINE_PROMPTS__GREETING", "studio/hello.wav")
        .arg("check-config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hello.wav"), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

/// Starts `hotline` in `dir` with no config file, SIP on a free port, hours closed.
fn serve_in(dir: &std::path::Path, port: u16) -> std::process::Child {
    let log = std::fs::File::create(dir.join("log")).unwrap();
    let child = hotline_in(dir)
        .env("HOTLINE_SIP__LISTEN", format!("127.0.0.1:{port}"))
        .env("HOTLINE_HTTP__LISTEN", "127.0.0.1:0")
        .env("HOTLINE_HOURS__DAYS", "[]")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let read_log = || std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    while !read_log().contains("hotline serving") {
        assert!(Instant::now() < deadline, "did not start:\n{}", read_log());
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn stop(mut child: std::process::Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("did not stop");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The after-hours call's audio as the caller received it, decoded.
fn after_hours_call(port: u16) -> Vec<i16> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rtp_port = free_udp_port();
    let listener = capture_rtp(
        rtp_port,
        Duration::from_millis(1500),
        Duration::from_secs(40),
    );
    let server: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let run = rt.block_on(sipp(
        server,
        "after_hours_call.xml",
        &["-s", "792112", "-set", "rtp_port", &rtp_port.to_string()],
    ));
    assert!(run.status.success(), "SIPp call failed: {}", run.stderr);
    listener
        .join()
        .unwrap()
        .iter()
        .flat_map(|p| p.bytes[12..].iter().map(|b| ulaw_to_linear(*b)))
        .collect()
}

fn ulaw_to_linear(b: u8) -> i16 {
    let u = !b;
    let t = (((u & 0x0F) as i32) << 3) + 0x84;
    let t = t << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

#[test]
fn started_in_an_empty_directory_it_answers_with_the_built_in_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let child = serve_in(dir.path(), port);
    let heard = after_hours_call(port);
    stop(child);
    let prompt = wav_samples(&repo().join("config/prompts/after_hours.wav"));
    assert_eq!(
        heard.len().div_ceil(160),
        prompt.len().div_ceil(160),
        "the whole built-in after-hours message, packet by packet"
    );
}

#[test]
fn a_prompt_in_the_prompts_directory_replaces_the_built_in_one() {
    let dir = tempfile::tempdir().unwrap();
    // With no config file, prompts are looked for in `config/prompts` of the working
    // directory (where the shipped config would have put them).
    std::fs::create_dir_all(dir.path().join("config/prompts")).unwrap();
    // Our own after-hours message: the short "resumed" prompt under that name.
    std::fs::copy(
        repo().join("config/prompts/resumed.wav"),
        dir.path().join("config/prompts/after_hours.wav"),
    )
    .unwrap();
    let port = free_udp_port();
    let child = serve_in(dir.path(), port);
    let heard = after_hours_call(port);
    stop(child);
    let ours = wav_samples(&repo().join("config/prompts/resumed.wav"));
    assert_eq!(heard.len().div_ceil(160), ours.len().div_ceil(160));
}
