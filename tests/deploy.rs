//! The deployment files as an operations team runs them: docker-compose.yml validated by
//! docker-compose itself (no daemon needed for `config`), and the Dockerfile's build step
//! being the same as CI's.

mod common;

use std::process::Command;

use common::repo;

fn compose(args: &[&str]) -> String {
    let out = Command::new("docker-compose")
        .arg("--file")
        .arg(repo().join("docker-compose.yml"))
        .args(args)
        .env("HOTLINE_DB_PASSWORD", "test-password")
        .output()
        .expect("docker-compose is installed (Debian package docker-compose)");
    assert!(
        out.status.success(),
        "docker-compose {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn compose_file_is_valid_and_has_what_a_site_needs() {
    let services = compose(&["config", "--services"]);
    let mut services: Vec<&str> = services.lines().collect();
    services.sort();
    assert_eq!(services, ["hotline", "postgres"]);
    let volumes = compose(&["config", "--volumes"]);
    assert!(
        volumes.lines().any(|v| v == "hotline-db")
            && volumes.lines().any(|v| v == "hotline-recordings"),
        "{volumes}"
    );
    let full = compose(&["config"]);
    // docker-compose prints ports one by one (protocol, published, target).
    let udp = full.matches("protocol: udp").count();
    assert!(udp > 1000, "SIP and 1000 RTP ports over UDP: {udp}");
    assert_eq!(
        full.matches("protocol: tcp").count(),
        2,
        "SIP over TCP and the console"
    );
    for needle in [
        "published: 5060",
        "published: 20999",
        "published: 8080",
        "pg_isready",
        "/readyz",
        "condition: service_healthy",
        "postgres://hotline:test-password@postgres:5432/hotline",
        "/etc/hotline",
    ] {
        assert!(
            full.contains(needle),
            "docker-compose.yml lacks {needle:?}:\n{full}"
        );
    }
}

#[test]
fn dockerfile_builds_like_ci() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(
        ci.contains("--locked") && dockerfile.contains("cargo build --release --locked"),
        "same lockfile discipline"
    );
    assert!(dockerfile.contains("COPY config /etc/hotline"));
    assert!(
        dockerfile.contains("USER hotline"),
        "the service does not run as root"
    );
}
