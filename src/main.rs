//! The `hotline` command: serve the line (default), check a configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use hotline::config::{Config, LogFormat};
use hotline::runtime::{self, Sockets};

/// The default configuration file, relative to the working directory.
const DEFAULT_CONFIG: &str = "config/hotline.toml";

#[derive(Parser)]
#[command(
    name = "hotline",
    version,
    about = "SIP call-centre back-end: answers, queues, bridges, records and registers every call"
)]
struct Cli {
    /// Configuration file (default: config/hotline.toml; the built-in defaults if it is absent).
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the line (the default).
    Serve,
    /// Validate the configuration and the prompt files; print problems and exit non-zero.
    CheckConfig,
    /// Work with the conversation recordings.
    Recordings {
        #[command(subcommand)]
        command: RecordingsCommand,
    },
    /// Manage the users of the QA console and API.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The subscribers' accounts and meters, from the billing system's export.
    Subscribers {
        #[command(subcommand)]
        command: SubscribersCommand,
    },
    /// Development helpers.
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from standard input (one line).
    Add {
        /// The login name (letters, digits, `.`, `_`, `-`).
        name: String,
        /// What the user may do.
        #[arg(long, value_parser = ["operator", "qa", "supervisor", "admin"])]
        role: String,
        /// For `--role operator`: the operator id (`[[operators]] id`) the user is.
        #[arg(long)]
        operator: Option<String>,
    },
}

#[derive(Subcommand)]
enum SubscribersCommand {
    /// Replace every account and meter with the CSV `account;meter;kind;last_reading`
    /// (kind `cold` or `hot`). All or nothing: any bad line is reported with its number
    /// and nothing is imported.
    Import {
        /// The export file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum DevCommand {
    /// Write a fabricated register (never on a production database) in one transaction,
    /// then time the statistics over it.
    Seed {
        /// Calls to write.
        #[arg(long, default_value_t = 75_000)]
        calls: usize,
        /// Calendar days they span, ending yesterday.
        #[arg(long, default_value_t = 182)]
        days: u32,
        /// Random seed: the same seed writes the same rows.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum RecordingsCommand {
    /// Reconcile the register with the files: every answered call has a valid recording whose
    /// size and SHA-256 match its row (or a stated recording error), and every file belongs
    /// to a call; every file's WAV header agrees with its size. Prints each problem; exits
    /// non-zero if there is any.
    Verify,
    /// Fix what `verify` finds that can be fixed: rewrite a finished call's WAV header from
    /// the audio really in the file (a disk-full partial write) and set the register's
    /// duration, size and SHA-256 from it (a finished recording's old facts are kept in its
    /// recording error). Prints each change and what is left; exits non-zero if anything is.
    Repair,
    /// Measure recordings (speech per side, overtalk, dead air, levels, flags) and store the
    /// figures: one call, `--all` (again, e.g. after an upgrade), or by default those not
    /// measured yet. Exits non-zero if any could not be analysed.
    Analyse {
        /// Every call with a recording, measured again.
        #[arg(long, conflicts_with = "call_id")]
        all: bool,
        /// The call to measure.
        call_id: Option<String>,
    },
    /// Destroy the recordings that have outlived `recordings.retention_days` (or their
    /// outcome's `retention_by_outcome`), except calls under legal hold: the register row
    /// stays with `recording_purged_at`, and each destruction is written to the audit log.
    Purge {
        /// List what would be destroyed; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let explicit = cli.config.is_some();
    let path = cli.config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("HOTLINE_"))
        .collect();
    let config = match Config::load_or_defaults(&path, explicit, &env) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig => check_config(&config),
        Command::Recordings { command } => match recordings(&config, command) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("hotline: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    role,
                    operator,
                },
        } => report(add_user(&config, &name, &role, operator.as_deref())),
        Command::Subscribers {
            command: SubscribersCommand::Import { file },
        } => report(import_subscribers(&config, &file)),
        Command::Dev {
            command: DevCommand::Seed { calls, days, seed },
        } => report(dev_seed(config, calls, days, seed).map(|()| true)),
        Command::Serve => match serve(config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("hotline: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// 0 when done, 1 when refused (already said why), 2 on an error.
fn report(result: anyhow::Result<bool>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("hotline: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The register as the configuration names it, for a one-shot command: a pool of
/// `max_connections`, each SQLite connection with the configured page cache.
async fn open_register(
    config: &Config,
    max_connections: u32,
) -> anyhow::Result<hotline::store::Store> {
    hotline::store::Store::open_with_cache(
        &config.database.url,
        max_connections,
        config.database.sqlite_cache_kib,
    )
    .await
    .context("opening the call register")
}

fn current_thread() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
}

/// `user add`: whether the user was added (false: refused, and why was printed).
fn add_user(
    config: &Config,
    name: &str,
    role: &str,
    operator: Option<&str>,
) -> anyhow::Result<bool> {
    use std::io::BufRead;
    let role = hotline::store::Role::parse(role).context("unknown role")?;
    let is_operator = role == hotline::store::Role::Operator;
    if is_operator != operator.is_some() {
        eprintln!("hotline: --operator ID goes with --role operator, and only with it");
        return Ok(false);
    }
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\n', '\r']);
    if let Err(e) = hotline::web::api::admin::check_new_user(name, password) {
        eprintln!("hotline: {e}");
        return Ok(false);
    }
    let phc = hotline::web::credentials::hash_password(password)?;
    current_thread()?.block_on(async {
        let store = open_register(config, 1).await?;
        let now = hotline::model::format_time(jiff::Timestamp::now());
        let added = match operator {
            Some(id) => store.add_operator_user(name, &phc, id, &now).await?,
            None => store.add_user(name, &phc, role, &now).await?,
        };
        store.close().await;
        if added {
            println!("user {name} added ({})", role.as_str());
        } else {
            eprintln!("hotline: user {name} already exists");
        }
        Ok(added)
    })
}

/// `dev seed`: fabricate a register, then time the statistics over all of it.
fn dev_seed(config: Config, calls: usize, days: u32, seed: u64) -> anyhow::Result<()> {
    use hotline::store::seed::{fabricate, SeedPlan};
    let zone = config.hours.calendar.zone().clone();
    let today = jiff::Timestamp::now().to_zoned(zone.clone()).date();
    let rows = fabricate(&SeedPlan {
        calls,
        days,
        until: today,
        zone: zone.clone(),
        seed,
    });
    current_thread()?.block_on(async {
        let store = open_register(&config, 2).await?;
        let started = std::time::Instant::now();
        let written = store
            .insert_raw_calls(&rows)
            .await
            .context("writing the fabricated calls")?;
        println!(
            "{written} calls written in {:.1} s",
            started.elapsed().as_secs_f64()
        );

        let (live, _) = hotline::runtime::live::LiveHandle::channel(1);
        let ctx = hotline::web::WebContext {
            store: store.clone(),
            recordings_root: config.recordings.dir.clone(),
            live,
            config: std::sync::Arc::new(config),
            metrics: tokio::sync::watch::channel(Default::default()).1,
        };
        let from = today
            .checked_sub(jiff::Span::new().days(i64::from(days)))?
            .to_zoned(zone.clone())?
            .timestamp();
        let to = today.to_zoned(zone)?.timestamp();
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let stats = hotline::web::api::stats::compute(&ctx, from, to).await?;
            println!(
                "stats over {days} days ({} calls): {} ms",
                stats["total"]["calls"],
                started.elapsed().as_millis()
            );
        }
        store.close().await;
        Ok(())
    })
}

fn check_config(config: &Config) -> ExitCode {
    for w in config.warnings() {
        eprintln!("warning: {w}");
    }
    if let Err(e) = runtime::prompts::Prompts::load(&config.prompts) {
        eprintln!("{}: {e}", config.source.display());
        return ExitCode::from(2);
    }
    println!("{}: OK", config.source.display());
    ExitCode::SUCCESS
}

/// `subscribers import`: false (exit 1) when the file has bad lines.
fn import_subscribers(config: &Config, file: &std::path::Path) -> anyhow::Result<bool> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let meters = match hotline::model::meters::parse_meters_csv(&text) {
        Ok(m) => m,
        Err(errors) => {
            for e in &errors {
                eprintln!("{}: {e}", file.display());
            }
            eprintln!(
                "{}: {} bad lines; nothing imported",
                file.display(),
                errors.len()
            );
            return Ok(false);
        }
    };
    current_thread()?.block_on(async {
        let store = open_register(config, 1).await?;
        let accounts = store
            .import_meters(&meters)
            .await
            .context("importing the subscribers")?;
        store.close().await;
        println!(
            "{}: {accounts} accounts, {} meters imported",
            file.display(),
            meters.len()
        );
        Ok(true)
    })
}

/// Whether the register and the recordings agree (after repairing, for `repair`); the
/// report is printed either way.
fn recordings(config: &Config, command: RecordingsCommand) -> anyhow::Result<bool> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let store = open_register(config, 1).await?;
        let root = &config.recordings.dir;
        match command {
            RecordingsCommand::Verify => {
                let report = hotline::archive::verify(&store, root)
                    .await
                    .context("verifying recordings")?;
                println!("{report}");
                Ok(report.is_clean())
            }
            RecordingsCommand::Repair => {
                let outcome = hotline::archive::repair(&store, root)
                    .await
                    .context("repairing recordings")?;
                println!("{outcome}");
                Ok(outcome.left.is_clean())
            }
            RecordingsCommand::Analyse { all, call_id } => {
                use hotline::archive::analyse::{analyse_selected, Selection};
                let selection = match (all, call_id) {
                    (_, Some(id)) => Selection::One(id),
                    (true, None) => Selection::All,
                    (false, None) => Selection::Pending,
                };
                let (done, failed) =
                    analyse_selected(&store, root, &config.quality, selection, |line| {
                        println!("{line}")
                    })
                    .await
                    .context("analysing recordings")?;
                println!("{done} analysed, {failed} failed");
                Ok(failed == 0)
            }
            RecordingsCommand::Purge { dry_run } => {
                let done = hotline::archive::retention::purge(
                    &store,
                    root,
                    &config.recordings,
                    jiff::Timestamp::now(),
                    dry_run,
                )
                .await
                .context("purging recordings")?;
                let verb = if dry_run {
                    "would destroy"
                } else {
                    "destroyed"
                };
                for p in &done {
                    println!(
                        "{verb} {} (call {}, sha256 {}, {})",
                        p.file,
                        p.call_id,
                        p.sha256.as_deref().unwrap_or("missing"),
                        p.rule
                    );
                }
                println!("{} recording(s) {verb}", done.len());
                Ok(true)
            }
        }
    })
}

fn serve(config: Config) -> anyhow::Result<()> {
    init_tracing(&config);
    for w in config.warnings() {
        tracing::warn!("{w}");
    }
    raise_descriptor_limit(&config);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        let sockets = Sockets::bind(config.sip.listen)
            .await?
            .with_http(config.http.listen)
            .await?;
        let shutdown = CancellationToken::new();
        tokio::spawn(on_signal(shutdown.clone()));
        let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(on_hangup(reload_tx));
        hotline::server::serve_with_reload(config, sockets, shutdown, Some(reload_rx)).await?;
        Ok(())
    })
}

/// SIGTERM or SIGINT: stop taking calls and let the ones in progress end.
async fn on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    shutdown.cancel();
}

/// SIGHUP: read the configuration again (hours, holidays, prompts, operators) without
/// dropping calls.
async fn on_hangup(reload: tokio::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).expect("installing a SIGHUP handler");
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP received: reloading the configuration");
        if reload.send(()).await.is_err() {
            return;
        }
    }
}

/// Raises the open-descriptor limit to the hard one, and warns when even that is short of
/// what the RTP port range can use.
fn raise_descriptor_limit(config: &Config) {
    use hotline::runtime::descriptors;
    let needed = descriptors::needed_for(config.media.rtp_ports.len());
    match descriptors::raise_to_hard_limit() {
        Ok(limit) => {
            if limit.after > limit.before {
                tracing::info!(
                    from = limit.before,
                    to = limit.after,
                    "open-descriptor limit raised to the system's hard limit"
                );
            }
            if limit.after < needed {
                tracing::warn!(
                    limit = limit.after,
                    needed,
                    "the open-descriptor limit is below what the RTP port range can use: \
                     calls past it fail with \"too many open files\"; raise the hard limit \
                     (LimitNOFILE= for systemd, ulimits: nofile for compose)"
                );
            }
        }
        Err(error) => tracing::warn!(%error, "open-descriptor limit not raised"),
    }
}

fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
