//! `[[operators]]` as read from a file: ids, secrets that never show, skills.

use std::time::Duration;

use super::super::tests::{errors, load};
use super::super::OperatorSecret;

#[test]
fn operator_errors_never_show_secrets() {
    let lines = errors(
        r#"
        [[operators]]
        id = "101"
        password = "s3cret-one"
        [[operators]]
        id = "101"
        password = "s3cret-two"
        [[operators]]
        id = "1 02"
        ha1 = "abc123"
        [[operators]]
        id = "103"
        password = "x"
        ha1 = "0123456789abcdef0123456789abcdef"
        [[operators]]
        id = "104"
        [[operators]]
        name = "Nobody"
        password = 123456
        [[operators]]
        id = "105"
        password = ""
        "#,
    );
    assert_eq!(
        lines,
        vec![
            r#"conf/test.toml: operators[1].id: "101" is already the id of operators[0]"#,
            r#"conf/test.toml: operators[2].id: "1 02" is not a valid operator id (1-32 letters or digits)"#,
            "conf/test.toml: operators[2].ha1: expected 32 (MD5) or 64 (SHA-256) hex digits, found 6 characters",
            "conf/test.toml: operators[3]: set either password or ha1, not both",
            "conf/test.toml: operators[4]: needs a password or an ha1",
            "conf/test.toml: operators[5].id: every operator needs an id",
            "conf/test.toml: operators[5].password: expected a string, found an integer",
            "conf/test.toml: operators[6].password: must not be empty",
        ]
    );
    let all = lines.join("\n");
    for secret in ["s3cret", "abc123", "123456"] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
}

#[test]
fn operator_secrets_are_kept_but_never_debug_printed() {
    let config = load(
        r#"
        [[operators]]
        id = "101"
        password = "s3cret-one"
        [[operators]]
        id = "A7"
        ha1 = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
        [database]
        url = "postgres://hotline:db-pass@db.internal:5432/hotline"
        "#,
    )
    .expect("valid");
    assert_eq!(
        config.operators[0].secret,
        OperatorSecret::Password("s3cret-one".into())
    );
    assert_eq!(config.operators[1].name, "Operator A7");
    let ha1 = "0123456789abcdef".repeat(4);
    assert_eq!(config.operators[1].secret, OperatorSecret::Ha1(ha1.clone()));
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("s3cret") && !debug.contains(&ha1) && !debug.contains("db-pass"),
        "{debug}"
    );
    assert!(debug.contains("Password(<redacted>)"));
    assert_eq!(
        config.database.redacted_url(),
        "postgres://hotline:<redacted>@db.internal:5432/hotline"
    );
    assert!(config
        .warnings()
        .iter()
        .all(|w| !w.contains("example password")));
}

#[test]
fn operator_skills_are_topics_and_skill_wait_is_a_duration() {
    let config = load(
        r#"
        [menu]
        skill_wait = "90s"
        [[operators]]
        id = "101"
        password = "x"
        skills = ["billing", "debt"]
        [[operators]]
        id = "102"
        password = "y"
        "#,
    )
    .expect("valid");
    assert_eq!(config.menu.skill_wait, Duration::from_secs(90));
    assert_eq!(config.operators[0].skills, vec!["billing", "debt"]);
    assert!(config.operators[1].skills.is_empty());
    let lines = errors(
        r#"
        [menu]
        skill_wait = "soon"
        [[operators]]
        id = "101"
        password = "x"
        skills = ["billing", "plumbing"]
        "#,
    );
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[1].starts_with("conf/test.toml: menu.skill_wait: \"soon\" is not a duration"),
        "{lines:?}"
    );
    assert_eq!(
        lines[0],
        "conf/test.toml: operators[0].skills[1]: unknown topic \"plumbing\"; expected one of \
         billing, meter_readings, contract, connection, debt, referred, other"
    );
}
