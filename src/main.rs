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
}

#[derive(Subcommand)]
enum RecordingsCommand {
    /// Reconcile the register with the files: every answered call has a valid recording whose
    /// size and SHA-256 match its row (or a stated recording error), and every file belongs
    /// to a call. Prints each problem; exits non-zero if there is any.
    Verify,
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
        Command::Recordings {
            command: RecordingsCommand::Verify,
        } => match verify_recordings(&config) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("hotline: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::Serve => match serve(config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("hotline: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
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

/// Whether the register and the recordings agree (the report is printed either way).
fn verify_recordings(config: &Config) -> anyhow::Result<bool> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let store = hotline::store::Store::open(&config.database.url, 1)
            .await
            .context("opening the call register")?;
        let report = hotline::recordings::verify(&store, &config.recordings.dir)
            .await
            .context("verifying recordings")?;
        println!("{report}");
        Ok(report.is_clean())
    })
}

fn serve(config: Config) -> anyhow::Result<()> {
    init_tracing(&config);
    for w in config.warnings() {
        tracing::warn!("{w}");
    }
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
        runtime::serve_with_reload(config, sockets, shutdown, Some(reload_rx)).await?;
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
