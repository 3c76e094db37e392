//! Building the typed configuration from the TOML tree, section by section, and the
//! warnings about valid but risky settings.
//!
//! Defaults here are the contract's (DESIGN.md, "Configuration keys"); the documented file
//! `config/hotline.toml` spells out every one of them.

use crate::sip::digest::Algorithm;
use crate::sip::registrar::guard::GuardPolicy;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::tz::TimeZone;
use toml::Table;

use super::error::{ConfigError, ConfigErrors};
use super::operators::operators;
use super::reader::{Reader, Section, Zero};
use super::schema::{apply_env, keys_of, section_names};
use super::values::*;
use super::*;
use crate::calendar::{OpeningEnd, WeekdaySet};

/// Parses, overrides, validates. `file` names the origin in errors; `base` anchors
/// relative prompt paths.
pub(super) fn build(
    text: &str,
    file: &Path,
    base: &Path,
    env: &[(String, String)],
) -> Result<Config, ConfigErrors> {
    let mut root: Table = text
        .parse()
        .map_err(|e: toml::de::Error| syntax_error(text, file, &e))?;
    let mut errors = Vec::new();
    let overrides = apply_env(&mut root, env, &mut errors);
    let mut r = Reader::new(file, &overrides, errors);

    let sections = section_names();
    for name in root.keys() {
        if !sections.contains(&name.as_str()) {
            r.unknown(name.clone(), name, &sections);
        }
    }
    let sip = sip(&mut r, &root, base);
    let trunk = trunk(&mut r, &root, env, base);
    let media = media(&mut r, &root);
    let hours = hours(&mut r, &root);
    let queue = queue(&mut r, &root);
    let operators = operators(&mut r, &root);
    let prompts = prompts(&mut r, &root, base);
    let recordings = recordings(&mut r, &root);
    let database = database(&mut r, &root, &recordings);
    let http = super::security::http(&mut r, &root);
    let limits = super::limits::limits(&mut r, &root);
    let menu = super::menu::menu(&mut r, &root);
    let readings = super::readings::readings(&mut r, &root);
    let worklist = worklist(&mut r, &root);
    let shutdown = shutdown(&mut r, &root);
    let log = log(&mut r, &root);
    let quality = super::quality::quality(&mut r, &root);

    match hours {
        Some(hours) if r.errors.is_empty() => Ok(Config {
            sip,
            trunk,
            media,
            hours,
            queue,
            operators,
            prompts,
            recordings,
            database,
            http,
            limits,
            menu,
            readings,
            worklist,
            shutdown,
            log,
            quality,
            source: file.to_path_buf(),
        }),
        _ => Err(ConfigErrors(r.errors)),
    }
}

fn syntax_error(text: &str, file: &Path, e: &toml::de::Error) -> ConfigErrors {
    let offset = e.span().map_or(0, |span| span.start).min(text.len());
    // The span is a byte offset; stay on a character boundary to count columns.
    let offset = (0..=offset)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let message = e.message().trim().replace('\n', "; ");
    ConfigError::Syntax {
        file: file.to_path_buf(),
        line,
        column,
        message,
    }
    .into()
}

pub(super) fn section<'t>(r: &mut Reader<'_>, root: &'t Table, name: &str) -> Section<'t> {
    let known = keys_of(name).expect("builders only ask for sections listed in the schema");
    r.section(root, name, &known)
}

pub(super) fn socket_addr(text: &str) -> Result<SocketAddr, String> {
    text.trim().parse().map_err(|_| {
        format!(
            "{text:?} is not an address and port (expected e.g. \"0.0.0.0:5060\" or \"[::]:5060\")"
        )
    })
}

/// A header-safe token: printable, no control characters (no header injection).
pub(super) fn header_text(forbid_quotes: bool) -> impl Fn(&str) -> Result<String, String> {
    move |text: &str| {
        if text.trim().is_empty() {
            return Err("must not be empty".into());
        }
        if text.chars().any(|c| c.is_control()) {
            return Err(format!("{text:?} contains control characters"));
        }
        if forbid_quotes && text.contains(['"', '\\']) {
            return Err(format!("{text:?} must not contain '\"' or '\\'"));
        }
        Ok(text.to_owned())
    }
}

fn sip(r: &mut Reader<'_>, root: &Table, base: &Path) -> SipConfig {
    let s = section(r, root, "sip");
    let listen = r.parsed(
        &s,
        "listen",
        SocketAddr::from(([0, 0, 0, 0], 5060)),
        socket_addr,
    );
    let public = r.parsed(&s, "public_address", None, |text| {
        if text.trim().is_empty() {
            return Ok(None);
        }
        match text.trim().parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() => {
                Err(format!("{text:?} is not an address peers can reach"))
            }
            Ok(ip) => Ok(Some(ip)),
            Err(_) => Err(format!("{text:?} is not an IP address")),
        }
    });
    let (public_address, public_address_origin) = match public {
        Some(ip) => (ip, PublicAddressOrigin::Configured),
        None if !listen.ip().is_unspecified() => (listen.ip(), PublicAddressOrigin::ListenAddress),
        None => (
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            PublicAddressOrigin::LoopbackFallback,
        ),
    };
    let realm = r.parsed(&s, "realm", "hotline".to_owned(), header_text(true));
    let digest_algorithms = r.list(&s, "digest_algorithms", vec![Algorithm::Md5], |t| {
        Algorithm::from_token(t)
            .ok_or_else(|| format!("{t:?} is not a digest algorithm (\"MD5\" or \"SHA-256\")"))
    });
    if s.is_empty_array("digest_algorithms") {
        r.invalid(
            &s.key("digest_algorithms"),
            "at least one algorithm is needed (\"MD5\" or \"SHA-256\")",
        );
    }
    let user_agent = r.parsed(&s, "user_agent", "hotline".to_owned(), header_text(false));
    let t1 = r.duration(&s, "t1", Duration::from_millis(500), Zero::Refused);
    let t2 = r.duration(&s, "t2", Duration::from_secs(4), Zero::Refused);
    let t4 = r.duration(&s, "t4", Duration::from_secs(5), Zero::Refused);
    let tcp = super::limits::sip_tcp(r, &s);
    if t2 < t1 {
        let (t1, t2) = (format_duration(t1), format_duration(t2));
        r.invalid(
            &s.key("t2"),
            format!("{t2:?} is shorter than sip.t1 ({t1:?})"),
        );
    }
    let auth_guard = super::security::guard_policy(r, &s, "auth", GuardPolicy::default());
    let (tls, srtp) = super::tls::sip_tls(r, &s, base);
    SipConfig {
        tls,
        srtp,
        auth_guard,
        listen,
        public_address,
        public_address_origin,
        realm,
        digest_algorithms,
        user_agent,
        t1,
        t2,
        t4,
        tcp,
    }
}

fn phone_number(text: &str) -> Result<String, String> {
    let number = normalize_number(text);
    let digits = number.strip_prefix('+').unwrap_or(&number);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} is not a phone number (expected digits, optionally a leading +)"
        ));
    }
    Ok(number)
}

fn trunk(r: &mut Reader<'_>, root: &Table, env: &[(String, String)], base: &Path) -> TrunkConfig {
    // `provider` is a sub-table, not an overridable key, so it is known here only.
    let mut known = keys_of("trunk").expect("trunk is in the schema");
    known.push("provider");
    let s = r.section(root, "trunk", &known);
    let default_numbers = vec!["792112".to_owned(), "+78112792112".to_owned()];
    let numbers = r.list(&s, "numbers", default_numbers, phone_number);
    if s.is_empty_array("numbers") {
        r.invalid(
            &s.key("numbers"),
            "at least one number is needed (calls to other numbers get 404)",
        );
    }
    let loopback =
        IpNet::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 32).expect("a /32 host is a valid prefix");
    let allow = r.list(&s, "allow", vec![loopback], parse_ip_net);
    let provider = super::provider::provider(r, s.table, env, base);
    TrunkConfig {
        numbers,
        allow,
        provider,
    }
}

fn media(r: &mut Reader<'_>, root: &Table) -> MediaConfig {
    let s = section(r, root, "media");
    let rtp_ports = r.parsed(
        &s,
        "rtp_ports",
        PortRange {
            first: 20000,
            last: 29999,
        },
        parse_port_range,
    );
    let codecs = r.list(
        &s,
        "codecs",
        vec![CodecName::Pcmu, CodecName::Pcma],
        parse_codec,
    );
    if s.is_empty_array("codecs") {
        r.invalid(
            &s.key("codecs"),
            "at least one codec is needed (\"PCMU\" or \"PCMA\")",
        );
    }
    for (i, codec) in codecs.iter().enumerate() {
        if codecs[..i].contains(codec) {
            r.invalid(
                &format!("{}[{i}]", s.key("codecs")),
                format!("{codec} is listed twice"),
            );
        }
    }
    let rtp_timeout = r.duration(&s, "rtp_timeout", Duration::from_secs(30), Zero::Refused);
    let io = r.parsed(&s, "io", MediaIo::IoUring, |text| match text {
        "epoll" => Ok(MediaIo::Epoll),
        "io_uring" => Ok(MediaIo::IoUring),
        other => Err(format!(
            "{other:?} is not a media I/O mode (expected \"epoll\" or \"io_uring\")"
        )),
    });
    MediaConfig {
        rtp_ports,
        codecs,
        rtp_timeout,
        io,
    }
}

fn hours(r: &mut Reader<'_>, root: &Table) -> Option<HoursConfig> {
    let errors_before = r.errors.len();
    let s = section(r, root, "hours");
    let moscow =
        || TimeZone::get("Europe/Moscow").expect("the bundled tz database has Europe/Moscow");
    let zone = r.parsed(&s, "timezone", None, |text| {
        TimeZone::get(text.trim()).map(Some).map_err(|_| {
            format!(
                "{text:?} is not a known time zone (expected an IANA name like \"Europe/Moscow\")"
            )
        })
    });
    let zone = zone.unwrap_or_else(moscow);

    let default_days = WeekdaySet::MON_FRI.iter().collect();
    let day_list = r.list(&s, "days", default_days, parse_weekday);
    let mut days = WeekdaySet::EMPTY;
    for (i, day) in day_list.into_iter().enumerate() {
        if !days.insert(day) {
            r.invalid(
                &format!("{}[{i}]", s.key("days")),
                format!("{day:?} is listed twice"),
            );
        }
    }

    let eight = OpeningEnd::At(jiff::civil::time(8, 0, 0, 0));
    let open = match r.parsed(&s, "open", eight, parse_time_of_day) {
        OpeningEnd::At(t) => Some(t),
        OpeningEnd::EndOfDay => {
            r.invalid(
                &s.key("open"),
                "\"24:00\" is the end of the day; the line cannot open then",
            );
            None
        }
    };
    let close = r.parsed(
        &s,
        "close",
        OpeningEnd::At(jiff::civil::time(18, 0, 0, 0)),
        parse_time_of_day,
    );
    if let (Some(open), OpeningEnd::At(close_time)) = (open, close) {
        if open >= close_time {
            let (o, c) = (open.strftime("%H:%M:%S"), close_time.strftime("%H:%M:%S"));
            r.invalid(
                &s.key("close"),
                format!("closing time {c} is not after opening time {o}"),
            );
        }
    }

    let holidays: BTreeSet<_> = r
        .list(&s, "holidays", Vec::new(), parse_date)
        .into_iter()
        .collect();
    let working_list = r.list(&s, "working_days", Vec::new(), parse_date);
    for (i, date) in working_list.iter().enumerate() {
        if holidays.contains(date) {
            let key = format!("{}[{i}]", s.key("working_days"));
            r.invalid(&key, format!("{date} is also listed in hours.holidays"));
        }
    }
    let working_days = working_list.into_iter().collect();
    if r.errors.len() > errors_before {
        // Already reported key by key; the calendar would only repeat it.
        return None;
    }
    match crate::calendar::BusinessCalendar::new(zone, days, open?, close, holidays, working_days) {
        Ok(calendar) => Some(HoursConfig { calendar }),
        Err(e) => {
            r.invalid("hours", e.to_string());
            None
        }
    }
}

fn queue(r: &mut Reader<'_>, root: &Table) -> QueueConfig {
    let s = section(r, root, "queue");
    QueueConfig {
        ring_timeout: r.duration(&s, "ring_timeout", Duration::from_secs(15), Zero::Refused),
        max_wait: r.duration(&s, "max_wait", Duration::from_secs(600), Zero::Refused),
        wrap_up: r.duration(&s, "wrap_up", Duration::from_secs(10), Zero::Allowed),
        announce_every: r.duration(&s, "announce_every", Duration::from_secs(30), Zero::Refused),
        max_no_answer: r.integer(&s, "max_no_answer", 3, 0, 1000),
    }
}

fn worklist(r: &mut Reader<'_>, root: &Table) -> WorklistConfig {
    let s = section(r, root, "worklist");
    WorklistConfig {
        max_attempts: r.integer(&s, "max_attempts", 3, 0, 100),
    }
}

fn non_empty_path(text: &str) -> Result<PathBuf, String> {
    if text.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(PathBuf::from(text))
    }
}

fn prompts(r: &mut Reader<'_>, root: &Table, base: &Path) -> PromptsConfig {
    let s = section(r, root, "prompts");
    let dir = base.join(r.parsed(&s, "dir", PathBuf::from("prompts"), non_empty_path));
    let mut file = |key: &str, default: &str| {
        dir.join(r.parsed(&s, key, PathBuf::from(default), non_empty_path))
    };
    let after_hours = file("after_hours", "after_hours.wav");
    let greeting = file("greeting", "greeting.wav");
    let recording_notice = file("recording_notice", "recording_notice.wav");
    PromptsConfig {
        dir,
        after_hours,
        greeting,
        recording_notice,
    }
}

fn recordings(r: &mut Reader<'_>, root: &Table) -> RecordingsConfig {
    let s = section(r, root, "recordings");
    RecordingsConfig {
        dir: r.parsed(&s, "dir", PathBuf::from("recordings"), non_empty_path),
        retention_days: r.integer(&s, "retention_days", 0, 0, 36_500),
        retention_by_outcome: super::retention::by_outcome(r, root),
    }
}

fn database(r: &mut Reader<'_>, root: &Table, recordings: &RecordingsConfig) -> DatabaseConfig {
    let s = section(r, root, "database");
    let url = r.parsed(
        &s,
        "url",
        "sqlite://hotline.db?mode=rwc".to_owned(),
        |text| {
            let known = ["sqlite:", "postgres://", "postgresql://"];
            if known.iter().any(|scheme| text.starts_with(scheme))
                && !text.contains(char::is_whitespace)
            {
                Ok(text.to_owned())
            } else {
                // Not quoted back: a database URL may carry a password.
                Err(
                    "is not a supported database URL (expected sqlite:… or postgres://…)"
                        .to_owned(),
                )
            }
        },
    );
    let max_connections = r.integer(&s, "max_connections", 5, 1, 1000);
    // Up to 1 GiB a connection: beyond that the kernel's file cache does the job better.
    let sqlite_cache_kib = r.integer(
        &s,
        "sqlite_cache_kib",
        crate::store::DEFAULT_SQLITE_CACHE_KIB,
        64,
        1_048_576,
    );
    // Beside the recordings root by default: the same disk the server already writes to.
    let beside_recordings = recordings
        .dir
        .parent()
        .unwrap_or(&recordings.dir)
        .join("spool")
        .join("register.spool");
    let spool = r.parsed(&s, "spool", beside_recordings, non_empty_path);
    DatabaseConfig {
        url,
        max_connections,
        sqlite_cache_kib,
        spool,
    }
}

fn shutdown(r: &mut Reader<'_>, root: &Table) -> ShutdownConfig {
    let s = section(r, root, "shutdown");
    ShutdownConfig {
        grace: r.duration(&s, "grace", Duration::from_secs(30), Zero::Allowed),
    }
}

fn log(r: &mut Reader<'_>, root: &Table) -> LogConfig {
    let s = section(r, root, "log");
    let format = r.parsed(&s, "format", LogFormat::Text, |text| match text {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!(
            "{text:?} is not a log format (expected \"text\" or \"json\")"
        )),
    });
    let level =
        r.parsed(
            &s,
            "level",
            "info".to_owned(),
            |text| match tracing_subscriber::EnvFilter::try_new(text) {
                Ok(_) if !text.trim().is_empty() => Ok(text.to_owned()),
                Ok(_) => Err("must not be empty (e.g. \"info\")".to_owned()),
                Err(e) => Err(format!("{text:?} is not a log filter ({e})")),
            },
        );
    let show_numbers = r.boolean(&s, "show_numbers", false);
    LogConfig {
        format,
        level,
        show_numbers,
    }
}

/// Passwords that ship in examples and must not reach production.
const EXAMPLE_PASSWORDS: &[&str] = &["change-me", "changeme", "change me", "password", "secret"];

pub(super) fn warnings(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if config.sip.public_address_origin == PublicAddressOrigin::LoopbackFallback {
        out.push(format!(
            "sip.public_address is not set and sip.listen ({}) is unspecified: using 127.0.0.1, \
             which only local peers can reach",
            config.sip.listen
        ));
    }
    if config.operators.is_empty() {
        out.push("no operators are configured: callers in hours can only wait".to_owned());
    }
    for (i, op) in config.operators.iter().enumerate() {
        if let OperatorSecret::Password(p) = &op.secret {
            if EXAMPLE_PASSWORDS.contains(&p.to_ascii_lowercase().as_str()) || *p == op.id {
                out.push(format!(
                    "operators[{i}] ({}) uses an example password: change it",
                    op.id
                ));
            }
        }
    }
    if config.trunk.allow.is_empty() {
        out.push("trunk.allow is empty: every call will be refused with 403".to_owned());
    }
    out.extend(
        config
            .trunk
            .provider
            .as_ref()
            .and_then(super::provider::warning),
    );
    let calendar = &config.hours.calendar;
    if calendar.days().is_empty() {
        out.push(if calendar.working_days().is_empty() {
            "hours.days and hours.working_days are empty: the line never opens".to_owned()
        } else {
            "hours.days is empty: the line opens only on hours.working_days".to_owned()
        });
    }
    if config.log.show_numbers {
        out.push(
            "log.show_numbers is true: phone numbers (personal data) appear in logs".to_owned(),
        );
    }
    out
}
