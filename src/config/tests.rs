//! Tests of loading, validation and overrides: what an operator running `check-config`
//! would read, line by line.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::calendar::OpeningEnd;

fn file() -> &'static Path {
    Path::new("conf/test.toml")
}

pub(super) fn load(text: &str) -> Result<Config, ConfigErrors> {
    Config::from_toml(text, file(), &[])
}

fn load_env(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_toml(text, file(), &env)
}

/// The error lines for `text`, as `check-config` prints them.
pub(super) fn errors(text: &str) -> Vec<String> {
    errors_env(text, &[])
}

fn errors_env(text: &str, env: &[(&str, &str)]) -> Vec<String> {
    match load_env(text, env) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.to_string().lines().map(str::to_owned).collect(),
    }
}

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().expect("test timestamps are valid")
}

#[test]
fn embedded_defaults_load_and_validate() {
    let config = Config::load_or_defaults(Path::new("config/hotline.toml.absent"), false, &[])
        .expect("the embedded defaults are valid");
    assert_eq!(
        config.source,
        PathBuf::from("config/hotline.toml (embedded)")
    );
    assert_eq!(config.sip.listen, "0.0.0.0:5060".parse().unwrap());
    assert_eq!(config.sip.public_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(
        config.sip.public_address_origin,
        PublicAddressOrigin::LoopbackFallback
    );
    assert!(config.trunk.answers_number("+7 (8112) 79-21-12"));
    assert!(config.trunk.answers_number("792112"));
    assert_eq!(config.operators.len(), 2);
    assert_eq!(config.operators[0].id, "101");
    assert_eq!(config.operators[1].name, "Operator 102");
    assert_eq!(
        config.operators[1].secret,
        OperatorSecret::Password("change-me".into())
    );
    assert_eq!(
        config.prompts.greeting,
        PathBuf::from("config/prompts/greeting.wav")
    );
    assert_eq!(config.recordings.dir, PathBuf::from("recordings"));
    assert_eq!(config.database.url, "sqlite://hotline.db?mode=rwc");
    assert_eq!(config.database.sqlite_cache_kib, 512);
    // New Year holidays: closed on Monday 2027-01-04, open again on 2027-01-11.
    let calendar = &config.hours.calendar;
    assert!(!calendar.is_open(ts("2027-01-04T10:00:00+03:00")));
    assert_eq!(
        calendar.next_opening(ts("2026-12-30T18:00:00+03:00")),
        Some(ts("2027-01-11T08:00:00+03:00"))
    );
    let warnings = config.warnings().join("\n");
    assert!(
        warnings.contains("sip.public_address is not set"),
        "{warnings}"
    );
    assert!(
        warnings.contains("operators[0] (101) uses an example password"),
        "{warnings}"
    );
    assert!(
        warnings.contains("operators[1] (102) uses an example password"),
        "{warnings}"
    );
}

#[test]
fn the_default_file_documents_every_key() {
    let root: toml::Table = DEFAULT_TOML.parse().expect("the default file parses");
    for (section, keys) in schema::SECTIONS {
        let table = root.get(*section).and_then(|v| v.as_table());
        let table = table.unwrap_or_else(|| panic!("[{section}] is missing from the default file"));
        for (key, _) in *keys {
            assert!(
                table.contains_key(*key),
                "{section}.{key} is missing from the default file"
            );
        }
    }
}

#[test]
fn code_defaults_match_the_documented_defaults() {
    let empty = load("").expect("an empty file is valid");
    let documented = load(DEFAULT_TOML).expect("the default file is valid");
    let show = |c: &Config| {
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            c.sip,
            c.trunk,
            c.media,
            c.queue,
            c.prompts,
            c.recordings,
            c.database,
            c.http,
            c.shutdown,
            c.log,
            c.menu,
            c.readings,
            c.worklist
        )
    };
    assert_eq!(show(&empty), show(&documented));
    assert_eq!(empty.worklist.max_attempts, 3);
    let (a, b) = (&empty.hours.calendar, &documented.hours.calendar);
    assert_eq!(
        (a.days(), a.open(), a.close()),
        (b.days(), b.open(), b.close())
    );
    assert_eq!(a.zone().iana_name(), Some("Europe/Moscow"));
    assert!(empty.operators.is_empty());
    assert!(empty
        .warnings()
        .iter()
        .any(|w| w.starts_with("no operators are configured")));
}

#[test]
fn typed_values_are_parsed() {
    let config = load(
        r#"
        [sip]
        listen = "192.0.2.10:5070"
        t1 = "250ms"
        [trunk]
        numbers = ["+7 (8112) 79-21-12"]
        allow = ["10.0.0.0/8", "2001:db8::/32"]
        [media]
        rtp_ports = "30000-30099"
        codecs = ["pcma"]
        [hours]
        timezone = "Asia/Kamchatka"
        days = ["sat", "sunday"]
        open = "00:00"
        close = "24:00"
        holidays = [2027-03-06]
        working_days = ["2027-03-08"]
        [queue]
        max_no_answer = 0
        wrap_up = "0s"
        [worklist]
        max_attempts = 0
        [log]
        format = "json"
        level = "hotline=debug,info"
        show_numbers = true
        "#,
    )
    .expect("valid");
    assert_eq!(
        config.sip.public_address,
        "192.0.2.10".parse::<IpAddr>().unwrap()
    );
    assert_eq!(
        config.sip.public_address_origin,
        PublicAddressOrigin::ListenAddress
    );
    assert_eq!(config.sip.t1, Duration::from_millis(250));
    assert_eq!(config.trunk.numbers, vec!["+78112792112".to_owned()]);
    assert!(config.trunk.answers_number("+78112792112"));
    assert!(!config.trunk.answers_number("792112"));
    assert!(!config.trunk.answers_number(""));
    assert!(config.trunk.allows("10.20.30.40".parse().unwrap()));
    assert!(config.trunk.allows("::ffff:10.1.2.3".parse().unwrap()));
    assert!(config.trunk.allows("2001:db8::1".parse().unwrap()));
    assert!(!config.trunk.allows("127.0.0.1".parse().unwrap()));
    assert_eq!(
        config.media.rtp_ports,
        PortRange {
            first: 30000,
            last: 30099
        }
    );
    assert_eq!(config.media.codecs, vec![CodecName::Pcma]);
    assert_eq!(config.media.io, MediaIo::IoUring, "the default");
    assert_eq!(config.queue.max_no_answer, 0);
    assert_eq!(config.queue.wrap_up, Duration::ZERO);
    assert_eq!(config.worklist.max_attempts, 0, "0: never by count");
    assert_eq!(config.log.format, LogFormat::Json);
    assert!(config.log.show_numbers);
    let calendar = &config.hours.calendar;
    assert_eq!(calendar.close(), OpeningEnd::EndOfDay);
    assert!(
        calendar.is_open(ts("2027-03-07T12:00:00+12:00")),
        "a Sunday"
    );
    assert!(
        !calendar.is_open(ts("2027-03-06T12:00:00+12:00")),
        "a Saturday holiday"
    );
    assert!(
        calendar.is_open(ts("2027-03-08T12:00:00+12:00")),
        "a moved working Monday"
    );
    assert!(config
        .warnings()
        .iter()
        .any(|w| w.contains("log.show_numbers is true")));
}

#[test]
fn each_bad_value_names_file_key_and_reason() {
    let cases: &[(&str, &str)] = &[
        ("[hours]\nopen = \"25:00\"", r#"conf/test.toml: hours.open: "25:00" is not a time of day (expected HH:MM, 00:00-24:00)"#),
        ("[hours]\nopen = \"24:00\"", r#"conf/test.toml: hours.open: "24:00" is the end of the day; the line cannot open then"#),
        ("[hours]\nopen = \"18:00\"\nclose = \"08:00\"", "conf/test.toml: hours.close: closing time 08:00:00 is not after opening time 18:00:00"),
        ("[hours]\ntimezone = \"Mars/Olympus\"", r#"conf/test.toml: hours.timezone: "Mars/Olympus" is not a known time zone (expected an IANA name like "Europe/Moscow")"#),
        ("[hours]\ndays = [\"mon\", \"mo\"]", r#"conf/test.toml: hours.days[1]: "mo" is not a weekday (expected mon, tue, wed, thu, fri, sat or sun)"#),
        ("[hours]\ndays = [\"mon\", \"monday\"]", "conf/test.toml: hours.days[1]: Monday is listed twice"),
        ("[hours]\ndays = \"mon\"", "conf/test.toml: hours.days: expected an array of strings, found a string"),
        ("[hours]\nholidays = [\"2027-02-30\"]", r#"conf/test.toml: hours.holidays[0]: "2027-02-30" is not a valid date (expected YYYY-MM-DD)"#),
        ("[hours]\nholidays = [\"2027-01-09\"]\nworking_days = [\"2027-01-09\"]", "conf/test.toml: hours.working_days[0]: 2027-01-09 is also listed in hours.holidays"),
        ("[sip]\nlisten = \"localhost\"", r#"conf/test.toml: sip.listen: "localhost" is not an address and port (expected e.g. "0.0.0.0:5060" or "[::]:5060")"#),
        ("[sip]\npublic_address = \"0.0.0.0\"", r#"conf/test.toml: sip.public_address: "0.0.0.0" is not an address peers can reach"#),
        ("[sip]\npublic_address = \"pbx.example\"", r#"conf/test.toml: sip.public_address: "pbx.example" is not an IP address"#),
        ("[sip]\nrealm = 'a\"b'", r#"conf/test.toml: sip.realm: "a\"b" must not contain '"' or '\'"#),
        ("[sip]\nuser_agent = \"x\\r\\nEvil: 1\"", r#"conf/test.toml: sip.user_agent: "x\r\nEvil: 1" contains control characters"#),
        ("[sip]\nt1 = \"500\"", r#"conf/test.toml: sip.t1: "500" has no unit (write e.g. "500s"; units: ms, s, m, h)"#),
        ("[sip]\nt1 = 500", r#"conf/test.toml: sip.t1: 500 has no unit (write e.g. "500s"; units: ms, s, m, h)"#),
        ("[sip]\nt1 = \"0ms\"", r#"conf/test.toml: sip.t1: "0ms" is zero; it must be longer"#),
        ("[sip]\nt1 = \"5s\"", r#"conf/test.toml: sip.t2: "4s" is shorter than sip.t1 ("5s")"#),
        ("[queue]\nmax_wait = \"-1m\"", r#"conf/test.toml: queue.max_wait: "-1m" is negative; a duration cannot be"#),
        ("[queue]\nmax_no_answer = -1", "conf/test.toml: queue.max_no_answer: -1 is out of range (0-1000)"),
        ("[queue]\nmax_no_answer = \"3\"", "conf/test.toml: queue.max_no_answer: expected an integer, found a string"),
        ("[worklist]\nmax_attempts = -1", "conf/test.toml: worklist.max_attempts: -1 is out of range (0-100)"),
        ("[worklist]\nmax_attempts = 101", "conf/test.toml: worklist.max_attempts: 101 is out of range (0-100)"),
        ("[worklist]\nmax_attempts = \"3\"", "conf/test.toml: worklist.max_attempts: expected an integer, found a string"),
        ("[worklist]\nmax_atempts = 3", "conf/test.toml: worklist.max_atempts: unknown key (did you mean `max_attempts`?)"),
        ("[trunk]\nnumbers = []", "conf/test.toml: trunk.numbers: at least one number is needed (calls to other numbers get 404)"),
        ("[trunk]\nnumbers = [\"hotline\"]", r#"conf/test.toml: trunk.numbers[0]: "hotline" is not a phone number (expected digits, optionally a leading +)"#),
        ("[trunk]\nallow = [\"10.0.0.1/8\"]", r#"conf/test.toml: trunk.allow[0]: "10.0.0.1/8" has bits set after the prefix (did you mean "10.0.0.0/8"?)"#),
        ("[media]\nrtp_ports = \"20001-29999\"", r#"conf/test.toml: media.rtp_ports: "20001-29999": the first port must be even (RTP uses even ports)"#),
        ("[media]\nrtp_ports = \"20000-20000\"", r#"conf/test.toml: media.rtp_ports: "20000-20000": the range must hold at least two ports, first < last"#),
        ("[media]\ncodecs = [\"PCMU\", \"G729\"]", r#"conf/test.toml: media.codecs[1]: "G729" is not a supported codec (expected "PCMU" or "PCMA")"#),
        ("[media]\ncodecs = [\"PCMU\", \"pcmu\"]", "conf/test.toml: media.codecs[1]: PCMU is listed twice"),
        ("[media]\ncodecs = []", r#"conf/test.toml: media.codecs: at least one codec is needed ("PCMU" or "PCMA")"#),
        ("[media]\nio = \"uring\"", r#"conf/test.toml: media.io: "uring" is not a media I/O mode (expected "epoll" or "io_uring")"#),
        ("[database]\nurl = \"mysql://root:hunter2@db/x\"", "conf/test.toml: database.url: is not a supported database URL (expected sqlite:… or postgres://…)"),
        ("[database]\nmax_connections = 0", "conf/test.toml: database.max_connections: 0 is out of range (1-1000)"),
        ("[database]\nsqlite_cache_kib = 8", "conf/test.toml: database.sqlite_cache_kib: 8 is out of range (64-1048576)"),
        ("[http]\nlisten = \"8080\"", r#"conf/test.toml: http.listen: "8080" is not an address and port (expected e.g. "0.0.0.0:5060" or "[::]:5060")"#),
        ("[shutdown]\ngrace = \"soon\"", r#"conf/test.toml: shutdown.grace: "soon" is not a duration (expected a number with a unit, e.g. "250ms", "15s", "10m", "1h30m")"#),
        ("[log]\nformat = \"xml\"", r#"conf/test.toml: log.format: "xml" is not a log format (expected "text" or "json")"#),
        ("[log]\nshow_numbers = \"yes\"", "conf/test.toml: log.show_numbers: expected true or false, found a string"),
        ("[prompts]\ngreeting = \"\"", "conf/test.toml: prompts.greeting: must not be empty"),
        ("sip = 5", "conf/test.toml: sip: expected a table, found an integer"),
        ("operators = 5", "conf/test.toml: operators: expected an array of tables ([[operators]] entries)"),
    ];
    for (text, expected) in cases {
        assert_eq!(errors(text), vec![expected.to_string()], "for:\n{text}");
    }
}

#[test]
fn bad_log_filters_are_refused() {
    let lines = errors("[log]\nlevel = \"hotline=loud\"");
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with(r#"conf/test.toml: log.level: "hotline=loud" is not a log filter"#),
        "{lines:?}"
    );
}

#[test]
fn all_problems_are_reported_in_one_pass() {
    let lines = errors("[sip]\nlisten = \"x\"\n[hours]\nopen = \"9\"\n[queue]\nwrap_up = \"1\"\n");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("conf/test.toml: sip.listen: "));
    assert!(lines[1].starts_with("conf/test.toml: hours.open: "));
    assert!(lines[2].starts_with("conf/test.toml: queue.wrap_up: "));
}

#[test]
fn unknown_keys_and_sections_are_errors() {
    let lines = errors(
        "[sip]\nlisen = \"0.0.0.0:5060\"\n[sipp]\nlisten = \"x\"\n[[operators]]\nid = \"1\"\npasword = \"x\"\npassword = \"y\"\n",
    );
    assert_eq!(
        lines,
        vec![
            "conf/test.toml: sipp: unknown key (did you mean `sip`?)",
            "conf/test.toml: sip.lisen: unknown key (did you mean `listen`?)",
            "conf/test.toml: operators[0].pasword: unknown key (did you mean `password`?)",
        ]
    );
    assert_eq!(
        errors("volume = 11"),
        vec!["conf/test.toml: volume: unknown key"]
    );
}

#[test]
fn syntax_errors_give_line_and_column() {
    let err = load("[sip]\nlisten = \"0.0.0.0:5060\"\nrealm = hotline\n").unwrap_err();
    assert_eq!(err.len(), 1);
    match &err.0[0] {
        ConfigError::Syntax {
            file,
            line,
            column,
            message,
        } => {
            assert_eq!(file, Path::new("conf/test.toml"));
            assert_eq!((*line, *column), (3, 9), "{message}");
            assert!(!message.is_empty() && !message.contains('\n'));
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    assert!(err.to_string().starts_with("conf/test.toml:3:9: "), "{err}");

    let err = load("[hours]\nopen = \"08:00\"\nopen = \"09:00\"\n").unwrap_err();
    assert!(err.to_string().starts_with("conf/test.toml:3:1: "), "{err}");
}

#[test]
fn environment_overrides_apply_before_validation() {
    let config = load_env(
        "[sip]\nlisten = \"0.0.0.0:5060\"\n",
        &[
            ("HOTLINE_SIP__LISTEN", "127.0.0.1:5070"),
            ("HOTLINE_SIP__REALM", "\"quoted realm\""),
            ("HOTLINE_SIP__USER_AGENT", "1234"),
            ("HOTLINE_HOURS__DAYS", "[\"sat\"]"),
            ("HOTLINE_HOURS__OPEN", "09:30"),
            ("HOTLINE_HOURS__HOLIDAYS", "[2027-03-13]"),
            ("HOTLINE_TRUNK__NUMBERS", "[\"1\"]"),
            ("HOTLINE_QUEUE__MAX_NO_ANSWER", "7"),
            ("HOTLINE_LOG__SHOW_NUMBERS", "true"),
            ("HOTLINE_OPERATORS", "[{ id = \"201\", password = \"pw\" }]"),
            ("HOTLINE_CONFIG", "/somewhere/hotline.toml"),
            ("PATH", "/usr/bin"),
        ],
    )
    .expect("valid");
    assert_eq!(config.sip.listen, "127.0.0.1:5070".parse().unwrap());
    assert_eq!(
        config.sip.public_address_origin,
        PublicAddressOrigin::ListenAddress
    );
    assert_eq!(config.sip.realm, "quoted realm");
    assert_eq!(config.sip.user_agent, "1234");
    assert_eq!(config.trunk.numbers, vec!["1".to_owned()]);
    assert_eq!(config.queue.max_no_answer, 7);
    assert!(config.log.show_numbers);
    assert_eq!(config.operators.len(), 1);
    assert_eq!(config.operators[0].id, "201");
    let calendar = &config.hours.calendar;
    assert!(
        !calendar.is_open(ts("2027-03-06T09:29:59+03:00")),
        "Saturday before 09:30"
    );
    assert!(
        calendar.is_open(ts("2027-03-06T09:30:00+03:00")),
        "Saturday 09:30"
    );
    assert!(!calendar.is_open(ts("2027-03-08T12:00:00+03:00")), "Monday");
    assert!(
        !calendar.is_open(ts("2027-03-13T12:00:00+03:00")),
        "the Saturday holiday"
    );
}

#[test]
fn bad_overrides_name_the_variable() {
    let lines = errors_env(
        "",
        &[
            ("HOTLINE_SIP__LISTEN", "nonsense"),
            ("HOTLINE_SIPP__LISTEN", "127.0.0.1:5070"),
            ("HOTLINE_SIP__LISEN", "127.0.0.1:5070"),
            ("HOTLINE_SIP_LISTEN", "127.0.0.1:5070"),
            ("HOTLINE_HOURS__DAYS", "sat"),
            ("HOTLINE_HOURS__HOLIDAYS", "[\"2027-13-01\"]"),
            ("HOTLINE_OPERATORS", "101"),
        ],
    );
    assert_eq!(
        lines,
        vec![
            "environment variable HOTLINE_SIPP__LISTEN: `sipp` is not a configuration section (sip, trunk, media, hours, queue, prompts, recordings, database, http, limits, menu, readings, worklist, shutdown, log, quality, operators)",
            "environment variable HOTLINE_SIP__LISEN: `sip.lisen` is not a configuration key (did you mean HOTLINE_SIP__LISTEN?)",
            "environment variable HOTLINE_SIP_LISTEN: expected HOTLINE_<SECTION>__<KEY>, e.g. HOTLINE_SIP__LISTEN",
            "environment variable HOTLINE_OPERATORS: expected a TOML array of tables, e.g. [{ id = \"101\", password = \"…\" }]",
            r#"environment variable HOTLINE_SIP__LISTEN: sip.listen: "nonsense" is not an address and port (expected e.g. "0.0.0.0:5060" or "[::]:5060")"#,
            "environment variable HOTLINE_HOURS__DAYS: hours.days: expected an array of strings, found a string",
            r#"environment variable HOTLINE_HOURS__HOLIDAYS: hours.holidays[0]: "2027-13-01" is not a valid date (expected YYYY-MM-DD)"#,
        ]
    );
}

#[test]
fn prompt_paths_resolve_against_the_config_directory() {
    let text = "[prompts]\ngreeting = \"hello.wav\"\nafter_hours = \"/srv/prompts/closed.wav\"\n";
    let config =
        Config::from_toml(text, Path::new("/etc/hotline/hotline.toml"), &[]).expect("valid");
    assert_eq!(config.prompts.dir, PathBuf::from("/etc/hotline/prompts"));
    assert_eq!(
        config.prompts.greeting,
        PathBuf::from("/etc/hotline/prompts/hello.wav")
    );
    assert_eq!(
        config.prompts.after_hours,
        PathBuf::from("/srv/prompts/closed.wav")
    );
    assert_eq!(
        config.prompts.recording_notice,
        PathBuf::from("/etc/hotline/prompts/recording_notice.wav")
    );

    let config = Config::from_toml(
        "[prompts]\ndir = \"/opt/p\"\n",
        Path::new("/etc/hotline.toml"),
        &[],
    )
    .expect("valid");
    assert_eq!(
        config.prompts.greeting,
        PathBuf::from("/opt/p/greeting.wav")
    );

    let config = Config::from_toml("", Path::new("hotline.toml"), &[]).expect("valid");
    assert_eq!(
        config.prompts.greeting,
        PathBuf::from("prompts/greeting.wav")
    );
    assert_eq!(
        config.recordings.dir,
        PathBuf::from("recordings"),
        "recordings stay relative to the working directory"
    );
}

#[test]
fn loading_files() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("hotline.toml");
    std::fs::write(&path, "[sip]\nrealm = \"pskov\"\n").expect("write the test file");
    let config = Config::load(&path, &[]).expect("valid");
    assert_eq!(config.sip.realm, "pskov");
    assert_eq!(config.source, path);
    assert_eq!(
        config.prompts.greeting,
        dir.path().join("prompts/greeting.wav")
    );
    let config = Config::load_or_defaults(&path, false, &[]).expect("an existing file is read");
    assert_eq!(config.sip.realm, "pskov");

    let missing = dir.path().join("missing.toml");
    let err = Config::load(&missing, &[]).unwrap_err();
    assert!(matches!(&err.0[..], [ConfigError::Read { file, .. }] if *file == missing));
    assert!(err
        .to_string()
        .starts_with(&format!("{}: cannot read the file: ", missing.display())));
    assert!(
        Config::load_or_defaults(&missing, true, &[]).is_err(),
        "an explicit file must exist"
    );
    let unreadable = Config::load_or_defaults(dir.path(), false, &[]).unwrap_err();
    assert!(
        matches!(&unreadable.0[..], [ConfigError::Read { .. }]),
        "a directory is not a file"
    );
    let defaults = Config::load_or_defaults(&missing, false, &[]).expect("embedded defaults");
    assert_eq!(defaults.source, PathBuf::from(EMBEDDED_ORIGIN));
    assert_eq!(
        defaults.prompts.greeting,
        dir.path().join("prompts/greeting.wav")
    );

    std::fs::write(&path, "[sip]\nrealm = \"x\"\nbogus = 1\n").expect("write the test file");
    let err = Config::load(&path, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: sip.bogus: unknown key", path.display())
    );
}

#[test]
fn warnings_for_risky_but_valid_settings() {
    let config = load("[trunk]\nallow = []\n[hours]\ndays = []\n[sip]\nlisten = \"0.0.0.0:5060\"\npublic_address = \"192.0.2.10\"\n").expect("valid");
    assert_eq!(
        config.sip.public_address_origin,
        PublicAddressOrigin::Configured
    );
    assert!(!config.trunk.allows("127.0.0.1".parse().unwrap()));
    assert_eq!(
        config
            .hours
            .calendar
            .next_opening(ts("2027-03-03T12:00:00Z")),
        None
    );
    assert_eq!(
        config.warnings(),
        vec![
            "no operators are configured: callers in hours can only wait",
            "trunk.allow is empty: every call will be refused with 403",
            "hours.days and hours.working_days are empty: the line never opens",
        ]
    );
}

#[test]
fn tls_keys_are_read_and_checked() {
    let config = load(
        "[sip]\ntls_listen = \"127.0.0.1:5061\"\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\nsrtp = \"mandatory\"\n",
    )
    .expect("valid");
    let tls = config.sip.tls.expect("TLS configured");
    assert_eq!(tls.listen, "127.0.0.1:5061".parse().unwrap());
    assert!(tls.cert.ends_with("cert.pem"));
    assert_eq!(config.sip.srtp, crate::config::SrtpPolicy::Mandatory);
    assert!(load("").expect("valid").sip.tls.is_none());
    let text = load("[sip]\ntls_listen = \"127.0.0.1:5061\"\nsrtp = \"always\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("sip.tls_cert: required when sip.tls_listen is set"),
        "{text}"
    );
    assert!(text.contains("sip.tls_key: required"), "{text}");
    assert!(
        text.contains("sip.srtp: \"always\" is not a policy"),
        "{text}"
    );
}

#[test]
fn media_io_may_come_from_the_environment() {
    let config = load_env("", &[("HOTLINE_MEDIA__IO", "epoll")]).unwrap();
    assert_eq!(config.media.io, MediaIo::Epoll);
}
