//! Typed configuration: the TOML file (`config/hotline.toml` documents every key and is
//! embedded as the defaults), environment overrides `HOTLINE_<SECTION>__<KEY>`, and
//! validation that reports every problem at once as `file: key: reason`.
//!
//! Loading runs in three steps: parse the TOML tree (syntax errors carry line and column),
//! apply environment overrides to the tree, then build the typed [`Config`] section by
//! section, collecting errors instead of stopping at the first.
//!
//! Invariants of a returned [`Config`]: every key was known; every value parsed and is
//! within its range; relative prompt paths are resolved against the config file's
//! directory (recordings and the database stay relative to the working directory);
//! operator secrets never appear in `Debug` output or error messages.

mod build;
mod error;
mod limits;
mod menu;
mod operators;
mod provider;
mod quality;
mod reader;
mod readings;
mod retention;
mod schema;
mod security;
mod tls;
mod values;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::{ConfigError, ConfigErrors};
pub use limits::{LimitsConfig, TcpLimits};
pub use menu::MenuConfig;
pub use provider::{parse_server, ProviderConfig, ProviderPassword, ProviderTransport, SipServer};
pub use quality::QualityConfig;
pub use readings::ReadingsConfig;
pub use tls::{SrtpPolicy, TlsConfig};
pub use values::{CodecName, IpNet, PortRange};

use crate::calendar::BusinessCalendar;

/// The documented default configuration, compiled into the binary.
pub const DEFAULT_TOML: &str = include_str!("../config/hotline.toml");

/// How the embedded defaults are named in errors and in [`Config::source`].
pub const EMBEDDED_ORIGIN: &str = "config/hotline.toml (embedded)";

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// `[sip]`: signalling.
    pub sip: SipConfig,
    /// `[trunk]`: which calls the line accepts.
    pub trunk: TrunkConfig,
    /// `[media]`: RTP.
    pub media: MediaConfig,
    /// `[hours]`: the business calendar.
    pub hours: HoursConfig,
    /// `[queue]`: waiting and ringing.
    pub queue: QueueConfig,
    /// `[[operators]]`: the people answering.
    pub operators: Vec<OperatorConfig>,
    /// `[prompts]`: recorded announcements.
    pub prompts: PromptsConfig,
    /// `[recordings]`: where call recordings go.
    pub recordings: RecordingsConfig,
    /// `[database]`: the call register.
    pub database: DatabaseConfig,
    /// `[http]`: the console and API.
    pub http: HttpConfig,
    /// `[limits]`: how much the line takes before it refuses.
    pub limits: LimitsConfig,
    /// `[menu]`: the topic menu after the recording notice.
    pub menu: MenuConfig,
    /// `[readings]`: the meter-readings dialogue the menu's readings key starts.
    pub readings: ReadingsConfig,
    /// `[worklist]`: the missed-calls worklist.
    pub worklist: WorklistConfig,
    /// `[shutdown]`: graceful stop.
    pub shutdown: ShutdownConfig,
    /// `[log]`: logging.
    pub log: LogConfig,
    /// `[quality]`: the audio analysis of recordings, its flags, and the sampling rules
    /// of the "to grade" list.
    pub quality: QualityConfig,
    /// The file the configuration came from, or [`EMBEDDED_ORIGIN`].
    pub source: PathBuf,
}

/// `[sip]`.
#[derive(Clone, Debug)]
pub struct SipConfig {
    /// Where UDP and TCP signalling listen.
    pub listen: SocketAddr,
    /// The address put in Contact, Via and SDP.
    pub public_address: IpAddr,
    /// Where [`SipConfig::public_address`] came from.
    pub public_address_origin: PublicAddressOrigin,
    /// Digest authentication realm for operators.
    pub realm: String,
    /// Digest algorithms offered to operators' softphones, in order (both are verified).
    pub digest_algorithms: Vec<crate::sip::digest::Algorithm>,
    /// Value of the Server and User-Agent headers.
    pub user_agent: String,
    /// RFC 3261 T1: round-trip estimate.
    pub t1: Duration,
    /// RFC 3261 T2: longest retransmit interval for non-INVITE requests and responses.
    pub t2: Duration,
    /// RFC 3261 T4: longest time a message stays in the network.
    pub t4: Duration,
    /// `tcp_max_per_address`, `tcp_idle_timeout`: bounds on TCP connections.
    pub tcp: TcpLimits,
    /// Password-guessing protection of the operators' digest logins (`auth_*`).
    pub auth_guard: crate::sip::registrar::guard::GuardPolicy,
    /// `tls_listen`, `tls_cert`, `tls_key`: SIP over TLS; `None` = not served.
    pub tls: Option<TlsConfig>,
    /// `srtp`: whether a TLS leg may carry plain RTP.
    pub srtp: SrtpPolicy,
}

/// Where the public address came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicAddressOrigin {
    /// Set in `sip.public_address`.
    Configured,
    /// Not set: the listen address was specific, so it is used.
    ListenAddress,
    /// Not set and the listen address is unspecified (0.0.0.0 / ::): 127.0.0.1, which
    /// only works for local peers; `warnings` says so.
    LoopbackFallback,
}

/// `[trunk]`.
#[derive(Clone, Debug)]
pub struct TrunkConfig {
    /// Dialled numbers this line answers, visual separators removed.
    pub numbers: Vec<String>,
    /// Sources allowed to place calls.
    pub allow: Vec<IpNet>,
    /// `[trunk.provider]`: registration to the provider, if configured.
    pub provider: Option<ProviderConfig>,
}

impl TrunkConfig {
    /// Whether a dialled number is one of ours, ignoring spaces, `-`, `(`, `)` and `.`:
    /// "+7 (8112) 79-21-12" matches "+78112792112".
    pub fn answers_number(&self, dialled: &str) -> bool {
        let dialled = values::normalize_number(dialled);
        !dialled.is_empty() && self.numbers.contains(&dialled)
    }

    /// Whether `user` is the user part we register with the provider (our Contact's).
    pub fn is_registered_user(&self, user: &str) -> bool {
        self.provider.as_ref().is_some_and(|p| p.username == user)
    }

    /// Whether a call from `source` may be accepted (IPv4-mapped IPv6 sources match IPv4
    /// prefixes).
    pub fn allows(&self, source: IpAddr) -> bool {
        self.allow.iter().any(|net| net.contains(source))
    }
}

/// `[media]`.
#[derive(Clone, Debug)]
pub struct MediaConfig {
    /// UDP ports for RTP (and RTCP on the odd neighbours).
    pub rtp_ports: PortRange,
    /// Codecs in order of preference, without duplicates, never empty.
    pub codecs: Vec<CodecName>,
    /// A call whose media has been silent on the wire this long is ended.
    pub rtp_timeout: Duration,
    /// How media threads read RTP.
    pub io: MediaIo,
}

/// `media.io`: how media threads read RTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaIo {
    /// Readiness, and a `recvmmsg` per ready socket.
    Epoll,
    /// Every socket's receives armed on the thread's io_uring where the kernel allows it,
    /// else as `Epoll` (the default), and the packets a round of receives relays sent on
    /// it together: cheaper per call, and clean further past saturation (`BENCHMARKS.md`).
    IoUring,
}

/// `[hours]`.
#[derive(Clone, Debug)]
pub struct HoursConfig {
    /// Opening hours in the configured zone.
    pub calendar: BusinessCalendar,
}

/// `[queue]`.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// How long an operator's phone rings before the call goes to the next operator.
    pub ring_timeout: Duration,
    /// How long a caller may wait in the queue before the call ends as overflow.
    pub max_wait: Duration,
    /// Pause after a call before the operator gets the next one (may be zero).
    pub wrap_up: Duration,
    /// How often waiting callers hear the "please hold" announcement.
    pub announce_every: Duration,
    /// Consecutive unanswered rings before an operator is paused; 0 never pauses.
    pub max_no_answer: u32,
}

/// `[worklist]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorklistConfig {
    /// Failed call-backs (busy, no answer, failed) in a row after which an item becomes
    /// `unreachable` by itself; 0 never.
    pub max_attempts: u32,
}

/// One `[[operators]]` entry.
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    /// The SIP user name the operator registers with: letters and digits, unique.
    pub id: String,
    /// Display name.
    pub name: String,
    /// How the operator authenticates.
    pub secret: OperatorSecret,
    /// Topics (`model::topic::TOPICS`) this operator is offered first: a caller who chose
    /// one waits up to `[menu] skill_wait` for an operator with it. Empty: none.
    pub skills: Vec<String>,
}

/// An operator's credential. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub enum OperatorSecret {
    /// A plain password.
    Password(String),
    /// A precomputed digest HA1 (`H(id:realm:password)`), lowercase hex: 32 digits for
    /// MD5, 64 for SHA-256 (RFC 7616 §3.4.2).
    Ha1(String),
}

impl fmt::Debug for OperatorSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OperatorSecret::Password(_) => f.write_str("Password(<redacted>)"),
            OperatorSecret::Ha1(_) => f.write_str("Ha1(<redacted>)"),
        }
    }
}

/// `[prompts]`: paths already resolved against the config file's directory.
#[derive(Clone, Debug)]
pub struct PromptsConfig {
    /// The prompts directory.
    pub dir: PathBuf,
    /// Played after hours before hanging up.
    pub after_hours: PathBuf,
    /// Played when a call is accepted in hours.
    pub greeting: PathBuf,
    /// Tells the caller the call is recorded.
    pub recording_notice: PathBuf,
}

/// `[recordings]`.
#[derive(Clone, Debug)]
pub struct RecordingsConfig {
    /// Root of `YYYY/MM/DD/<call id>.wav`, relative to the working directory if relative.
    pub dir: PathBuf,
    /// Days a recording is kept after its call; 0: forever.
    pub retention_days: u32,
    /// Days by the call's outcome (`answered = 1095`), instead of `retention_days`; 0:
    /// forever.
    pub retention_by_outcome: std::collections::BTreeMap<String, u32>,
}

/// `[database]`.
#[derive(Clone)]
pub struct DatabaseConfig {
    /// `sqlite:…` or `postgres://…` / `postgresql://…`.
    pub url: String,
    /// Connection pool size.
    pub max_connections: u32,
    /// SQLite only: the page cache each pooled connection keeps, in KiB.
    pub sqlite_cache_kib: u32,
    /// The register's outage spool: writes the database could not take, kept in order
    /// until it is back. Default: `spool/register.spool` beside the recordings root.
    pub spool: PathBuf,
}

impl DatabaseConfig {
    /// The URL with any password replaced, for logs.
    pub fn redacted_url(&self) -> String {
        let Some((scheme, rest)) = self.url.split_once("://") else {
            return self.url.clone();
        };
        let authority_end = rest.find('/').unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => match rest[..at].split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:<redacted>{}", &rest[at..]),
                None => self.url.clone(),
            },
            None => self.url.clone(),
        }
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("sqlite_cache_kib", &self.sqlite_cache_kib)
            .field("spool", &self.spool)
            .finish()
    }
}

/// `[http]`.
#[derive(Clone)]
pub struct HttpConfig {
    /// Where the console and API listen.
    pub listen: SocketAddr,
    /// A bearer token `/metrics` asks for; `None`: open.
    pub metrics_token: Option<String>,
    /// The origin browsers reach the console at (`https://host[:port]`), when a proxy in
    /// front rewrites `Host`; `None`: judged from the request's `Host`.
    pub public_origin: Option<String>,
    /// Proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Password-guessing protection of console logins (`login_*`).
    pub login_guard: crate::sip::registrar::guard::GuardPolicy,
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("listen", &self.listen)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .field("public_origin", &self.public_origin)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("login_guard", &self.login_guard)
            .finish()
    }
}

impl HttpConfig {
    /// Whether `X-Forwarded-*` headers from `peer` are believed.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(peer))
    }
}

/// `[shutdown]`.
#[derive(Clone, Debug)]
pub struct ShutdownConfig {
    /// After a stop signal, new calls are refused (503) and current ones may go on this long.
    pub grace: Duration,
}

/// `[log]`.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// Human text or one JSON object per line.
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive, e.g. `info` or `hotline=debug,info`.
    pub level: String,
    /// Whether phone numbers appear in logs at `info` (they are personal data).
    pub show_numbers: bool,
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// Parses `text` (from `file`, named in errors and whose directory anchors relative
    /// prompt paths), applies environment overrides, validates. All problems are
    /// collected, not just the first.
    pub fn from_toml(
        text: &str,
        file: &Path,
        env: &[(String, String)],
    ) -> Result<Config, ConfigErrors> {
        let base = file.parent().unwrap_or(Path::new(""));
        build::build(text, file, base, env)
    }

    /// Reads and loads the file; a missing or unreadable file is an error naming it.
    pub fn load(path: &Path, env: &[(String, String)]) -> Result<Config, ConfigErrors> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::from_toml(&text, path, env),
            Err(source) => Err(ConfigError::Read {
                file: path.to_path_buf(),
                source,
            }
            .into()),
        }
    }

    /// Like [`Config::load`], but when the file does not exist and was not asked for
    /// explicitly, uses the embedded defaults (prompts then resolve against the directory
    /// the file would have been in).
    pub fn load_or_defaults(
        path: &Path,
        explicit: bool,
        env: &[(String, String)],
    ) -> Result<Config, ConfigErrors> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::from_toml(&text, path, env),
            // Only a file that is truly absent falls back; an unreadable one is an error.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                let base = path.parent().unwrap_or(Path::new(""));
                build::build(DEFAULT_TOML, Path::new(EMBEDDED_ORIGIN), base, env)
            }
            Err(source) => Err(ConfigError::Read {
                file: path.to_path_buf(),
                source,
            }
            .into()),
        }
    }

    /// Things that are valid but probably not what a production line wants.
    pub fn warnings(&self) -> Vec<String> {
        build::warnings(self)
    }
}

#[cfg(test)]
mod tests;
