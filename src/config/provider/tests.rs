//! `[trunk.provider]` as `check-config` reads it.

use std::path::Path;

use super::super::{Config, ConfigErrors};
use super::*;

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_toml(text, Path::new("conf/test.toml"), &env)
}

fn errors(text: &str, env: &[(&str, &str)]) -> String {
    load(text, env).unwrap_err().to_string()
}

const FULL: &str = r#"
[trunk.provider]
registrar = "sip:sip.provider.example:5060"
username = "78112792112"
auth_username = "auth-78112792112"
password = "s3cret"
expires = 900
outbound_proxy = "sip:proxy.provider.example;transport=tcp"
"#;

#[test]
fn absent_means_ip_authentication_only() {
    assert_eq!(load("", &[]).unwrap().trunk.provider, None);
}

#[test]
fn every_key_is_read() {
    let p = load(FULL, &[]).unwrap().trunk.provider.unwrap();
    assert_eq!(p.registrar.host, "sip.provider.example");
    assert_eq!(p.username, "78112792112");
    assert_eq!(p.auth_username, "auth-78112792112");
    assert_eq!(p.password.0, "s3cret");
    assert_eq!(p.expires, 900);
    let proxy = p.outbound_proxy.as_ref().unwrap();
    assert_eq!(
        (proxy.port, proxy.transport),
        (5060, ProviderTransport::Tcp)
    );
    assert_eq!(p.next_hop(), proxy);
    assert_eq!(p.options_interval, Duration::from_secs(30));
    assert!(
        !format!("{p:?}").contains("s3cret"),
        "Debug hides the password"
    );
}

#[test]
fn password_from_the_environment_and_auth_username_defaults_to_username() {
    let text = r#"
[trunk.provider]
registrar = "sip:10.0.0.1"
username = "78112792112"
password_env = "HOTLINE_PROVIDER_PASSWORD"
"#;
    let p = load(text, &[("HOTLINE_PROVIDER_PASSWORD", "from-env")])
        .unwrap()
        .trunk
        .provider
        .unwrap();
    assert_eq!(p.password.0, "from-env");
    assert_eq!(p.auth_username, "78112792112");
    assert_eq!(p.expires, 600);
    let missing = errors(text, &[]);
    assert!(
        missing.contains("trunk.provider.password_env")
            && missing.contains("\"HOTLINE_PROVIDER_PASSWORD\" is not set"),
        "{missing}"
    );
}

#[test]
fn errors_name_the_key_and_the_reason() {
    let text = r#"
[trunk.provider]
registrar = "http://x"
password = "p"
password_env = "P"
expires = 10
colour = "red"
"#;
    let e = errors(text, &[("P", "x")]);
    for expected in [
        "trunk.provider.registrar: \"http://x\" is not a SIP server URI",
        "trunk.provider.username: is required",
        "set password or password_env, not both",
        "trunk.provider.expires: 10 is out of range (60-86400)",
        "trunk.provider.colour",
    ] {
        assert!(e.contains(expected), "{expected} not in {e}");
    }
}

#[test]
fn a_tls_provider_takes_a_ca_file_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), "not read until the link starts").unwrap();
    let tls = FULL.replace(
        "sip:proxy.provider.example;transport=tcp",
        "sips:proxy.provider.example",
    ) + "tls_ca = \"ca.pem\"\n";
    let file = dir.path().join("hotline.toml");
    let config = Config::from_toml(&tls, &file, &[]).unwrap();
    let p = config.trunk.provider.as_ref().unwrap();
    assert_eq!(p.next_hop().transport, ProviderTransport::Tls);
    assert_eq!(p.next_hop().port, 5061);
    assert_eq!(
        p.tls_ca.as_deref(),
        Some(dir.path().join("ca.pem").as_path())
    );
    assert!(config
        .warnings()
        .iter()
        .all(|w| !w.contains("trunk.provider")));

    let e = errors(
        &FULL.replace("expires = 900", "tls_ca = \"missing-ca.pem\""),
        &[],
    );
    assert!(e.contains("trunk.provider.tls_ca"), "{e}");
    assert!(e.contains("missing-ca.pem"), "{e}");
}

#[test]
fn a_ca_file_for_a_provider_reached_without_tls_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), "").unwrap();
    let text = FULL.to_owned() + "tls_ca = \"ca.pem\"\n";
    let config = Config::from_toml(&text, &dir.path().join("hotline.toml"), &[]).unwrap();
    let warnings = config.warnings().join("\n");
    assert!(
        warnings.contains(
            "tls_ca is set, but sip:proxy.provider.example;transport=tcp is reached over TCP"
        ),
        "{warnings}"
    );
    assert!(!load(FULL, &[])
        .unwrap()
        .warnings()
        .join("\n")
        .contains("trunk.provider"));
}
