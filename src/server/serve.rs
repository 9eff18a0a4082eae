//! `pitboss serve`: opens the engine on a data directory, sets up a new one (admin
//! token, demo operator, seed games), serves until SIGTERM or Ctrl-C, drains, and
//! shuts the engine down (which flushes the log and writes a snapshot).

use super::admin::OperatorCredentials;
use super::datadir::{self, DataDirError};
use super::log_writer;
use super::metrics::Metrics;
use super::{demo, run_metrics_listener, run_with_metrics, ServerConfig};
use crate::engine::{Engine, EngineConfig, EngineError};
use crate::storage::FsyncPolicy;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Arguments of `pitboss serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory of the log, snapshots, admin token and demo credentials.
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// When the log is fsynced: always | interval:<ms> | never (benchmarks only).
    #[arg(long, default_value = "always")]
    pub fsync: FsyncPolicy,
    /// How long transactions and game records stay in memory before they live only
    /// in the history store on disk: `500ms`, `10s`, `15m`, `1h`, or `off` (keep
    /// everything in memory; no history store).
    #[arg(long, default_value = "5m")]
    pub hot_window: HotWindow,
    /// Durable log records not yet in the history store past which new bets,
    /// deposits and withdrawals are refused (limit exceeded, retry) until the
    /// archiver catches up; wins, refunds and repeated ids go on.
    #[arg(long, default_value_t = 1_000_000, value_name = "RECORDS")]
    pub max_archive_lag: u64,
    /// Allow webhook receivers at loopback, private and link-local addresses (tests
    /// and on-premises setups; refused by default against request forgery).
    #[arg(long)]
    pub webhook_allow_private: bool,
    /// Serve `/health` and `/metrics` on this address instead of the main listener.
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// Log lines as `text` (human-readable) or `json`; the level comes from `RUST_LOG`
    /// (default `info`: one line per request).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Serve HTTPS with this PEM certificate chain (with `--tls-key`).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM certificates to trust, besides the system's roots, when calling operators'
    /// wallets and webhook receivers over https (a private CA).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

/// `--hot-window`: a duration with its unit, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HotWindow(pub Option<std::time::Duration>);

impl std::str::FromStr for HotWindow {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "off" {
            return Ok(HotWindow(None));
        }
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{s:?}: a whole number and a unit (ms, s, m, h), or off"))?;
        let ms_per = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(format!("{s:?}: the unit is one of ms, s, m, h")),
        };
        let ms = n
            .checked_mul(ms_per)
            .filter(|&ms| ms > 0)
            .ok_or_else(|| format!("{s:?}: between 1 ms and ~584 million years"))?;
        Ok(HotWindow(Some(std::time::Duration::from_millis(ms))))
    }
}

impl std::fmt::Display for HotWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(d) => write!(f, "{}ms", d.as_millis()),
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the log subscriber of `pitboss serve`: to standard output through the
/// batching writer (`log_writer`), at the level `RUST_LOG` says (`info` when unset).
/// Keep the flusher until shutdown; the writer counts dropped lines.
fn init_logs(format: LogFormat) -> (log_writer::LogFlusher, log_writer::BatchedStdout) {
    let (writer, flusher) = log_writer::batched_stdout();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_timer(log_writer::UtcMillis)
        .with_writer(writer.clone());
    // A second installation (a test that serves twice) keeps the first.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    (flusher, writer)
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error("engine: {0}")]
    Engine(#[from] EngineError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("a start-up task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Tls(#[from] super::tls::TlsError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServeError {
    let what = what.into();
    move |source| ServeError::Io { what, source }
}

/// Runs the server until a shutdown signal; blocks the calling thread.
pub fn serve(args: ServeArgs) -> Result<(), ServeError> {
    return_large_allocations_to_the_os();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(io("cannot start the runtime"))?
        .block_on(serve_async(args))
}

async fn serve_async(args: ServeArgs) -> Result<(), ServeError> {
    let (_log_guard, log_dropped) = init_logs(args.log_format);
    // Certificates before anything else: a bad file must not leave a data directory.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(super::tls::server_config(cert, key)?),
        _ => None,
    };
    let outbound_tls = super::tls::client_config(args.ca_file.as_deref())?;
    // The addresses first: a port in use must not leave a new data directory behind.
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(io(format!("cannot listen on {}", args.listen)))?;
    let metrics_listener = match args.metrics_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(io(format!("cannot listen on {addr}")))?,
        ),
        None => None,
    };
    let dir = args.data_dir.clone();
    datadir::ensure(&dir)?;
    let admin_token = datadir::admin_token(&dir)?;
    let mut config = EngineConfig::default();
    config.wal.fsync = args.fsync;
    config.history.hot_window = args.hot_window.0;
    config.history.max_lag_records = args.max_archive_lag;
    let open_dir = dir.clone();
    let engine =
        Arc::new(tokio::task::spawn_blocking(move || Engine::open(&open_dir, config)).await??);
    let setup = engine.clone();
    let demo = tokio::task::spawn_blocking(move || {
        demo::register_seed_games(&setup)?;
        demo::create_demo_operator(&setup)
    })
    .await??;
    if let Some(creds) = &demo {
        write_demo_credentials(&dir, creds)?;
    }
    let local = listener.local_addr().map_err(io("local address"))?;
    print_banner(local, &args);
    let mut server = ServerConfig::new(admin_token);
    server.webhooks.allow_private = args.webhook_allow_private;
    server.tls = tls;
    server.outbound_tls = outbound_tls;
    let metrics = Arc::new(Metrics::new());
    metrics.count_dropped_log_lines(log_dropped);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let metrics_task = metrics_listener.map(|l| {
        server.metrics_on_main = false;
        let mut stopped = stopped.clone();
        tokio::spawn(run_metrics_listener(
            l,
            engine.clone(),
            metrics.clone(),
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ))
    });
    run_with_metrics(listener, engine.clone(), server, metrics, shutdown_signal()).await;
    let _ = stop.send(true);
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    eprintln!("pitboss: stopped accepting and drained; shutting the engine down");
    tokio::task::spawn_blocking(move || engine.shutdown()).await??;
    Ok(())
}

fn write_demo_credentials(dir: &Path, creds: &OperatorCredentials) -> Result<(), ServeError> {
    let json = serde_json::to_vec_pretty(creds).unwrap_or_default();
    datadir::write_private(&dir.join(datadir::DEMO_OPERATOR_FILE), &json)?;
    Ok(())
}

fn print_banner(local: SocketAddr, args: &ServeArgs) {
    let dir = args.data_dir.display();
    let demo = args.data_dir.join(datadir::DEMO_OPERATOR_FILE);
    println!(
        "pitboss listening on {scheme}://{local} ({transport}; data dir {dir}, fsync {fsync}, hot window {hot})

Demo operator credentials (clientId, apiKey, ...): {demo}
Sign every /service/jsonapi request (Publisher Manual §1):
  X-Client-ID, X-Timestamp (Unix seconds), X-Nonce (random),
  X-Signature = hex(sha256(clientId + timestamp + nonce + apiKey))
Try it:
  KEY=$(sed -n 's/.*\"apiKey\": \"\\(.*\\)\".*/\\1/p' {demo})
  TS=$(date +%s); NONCE=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n')
  SIG=$(printf '%s' \"demo$TS$NONCE$KEY\" | sha256sum | cut -d' ' -f1)
  curl -s -H \"X-Client-ID: demo\" -H \"X-Timestamp: $TS\" -H \"X-Nonce: $NONCE\" \\
       -H \"X-Signature: $SIG\" {scheme}://{local}/service/jsonapi/game/list
Game rounds (gate wallet API): POST /getBalance /bet /win /refund, signed with the
  appKey and appSecret (docs/gate.md); transfers (bank wallet API): POST
  /api/bank/balance /deposit /withdraw /getsingletransaction (docs/bank.md).
Administration: pitboss admin list-operators --data-dir {dir} --server {scheme}://{local}
Stop with Ctrl-C or SIGTERM (in-flight requests finish first).",
        demo = demo.display(),
        fsync = args.fsync,
        hot = args.hot_window,
        scheme = if args.tls_cert.is_some() {
            "https"
        } else {
            "http"
        },
        transport = if args.tls_cert.is_some() {
            "TLS"
        } else {
            "plain HTTP: no TLS (--tls-cert, --tls-key)"
        },
    );
}

/// Each Argon2 hash allocates its whole memory cost (19 MiB by default) on a
/// blocking-pool thread. glibc raises its mmap threshold after the first such buffer
/// is freed, so later ones come from per-thread arenas and stay resident: a few dozen
/// logins left the server at 1 GiB RSS. A fixed threshold keeps them mmapped and
/// returned on free.
fn return_large_allocations_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before the
    // runtime starts any thread, and a failure (return 0) leaves the default.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::HotWindow;
    use std::time::Duration;

    #[test]
    fn hot_window_reads_units_and_off() {
        let ms = |s: &str| s.parse::<HotWindow>().map(|h| h.0);
        assert_eq!(ms("10s"), Ok(Some(Duration::from_secs(10))));
        assert_eq!(ms("15m"), Ok(Some(Duration::from_secs(900))));
        assert_eq!(ms("1h"), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(ms("250ms"), Ok(Some(Duration::from_millis(250))));
        assert_eq!(ms("off"), Ok(None));
        for bad in [
            "",
            "10",
            "s",
            "0s",
            "-1s",
            "1.5s",
            "10d",
            "99999999999999999999h",
        ] {
            assert!(ms(bad).is_err(), "{bad:?} accepted");
        }
    }
}
