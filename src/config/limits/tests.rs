//! `[limits]` and the TCP keys of `[sip]`: defaults, values, overrides and errors that
//! name the key.

use std::path::Path;
use std::time::Duration;

use crate::config::{Config, LimitsConfig, TcpLimits, DEFAULT_TOML};
use crate::sip::rate::Rate;

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, Vec<String>> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_toml(text, Path::new("hotline.toml"), &env)
        .map_err(|e| e.to_string().lines().map(str::to_owned).collect())
}

#[test]
fn the_documented_file_and_an_empty_one_give_the_same_safe_defaults() {
    for text in [DEFAULT_TOML, ""] {
        let c = load(text, &[]).expect("valid");
        assert_eq!(c.limits, LimitsConfig::default());
        assert_eq!(c.sip.tcp, TcpLimits::default());
    }
    let d = LimitsConfig::default();
    assert_eq!((d.max_calls, d.max_waiting), (200, 50));
    assert_eq!(TcpLimits::default().max_per_address, 32);
    assert_eq!(TcpLimits::default().idle_timeout, Duration::from_secs(30));
}

#[test]
fn limits_are_read_and_overridden_from_the_environment() {
    let c = load(
        "[limits]\nmax_calls = 2\nregister_rate = 0\n[sip]\ntcp_max_per_address = 3\ntcp_idle_timeout = \"2s\"\n",
        &[("HOTLINE_LIMITS__TRUNK_INVITE_RATE", "9")],
    )
    .expect("valid");
    assert_eq!(c.limits.max_calls, 2);
    assert!(c.limits.rates.register.is_off());
    assert_eq!(
        c.limits.rates.trunk_invite,
        Rate {
            per_second: 9,
            burst: 100
        }
    );
    assert_eq!(c.sip.tcp.max_per_address, 3);
    assert_eq!(c.sip.tcp.idle_timeout, Duration::from_secs(2));
}

#[test]
fn bad_limits_name_the_file_the_key_and_the_reason() {
    let errors = load(
        "[limits]\nmax_calls = 0\noptions_burst = \"lots\"\nmax_calss = 3\n[sip]\ntcp_idle_timeout = \"0s\"\n",
        &[],
    )
    .unwrap_err();
    let text = errors.join("\n");
    assert!(
        text.contains("hotline.toml: limits.max_calls: 0 is out of range"),
        "{text}"
    );
    assert!(
        text.contains("limits.options_burst: expected an integer"),
        "{text}"
    );
    assert!(text.contains("limits.max_calss"), "{text}");
    assert!(text.contains("sip.tcp_idle_timeout"), "{text}");
}
