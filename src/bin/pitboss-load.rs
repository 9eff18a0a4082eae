//! `pitboss-load`: a bounded, self-stopping load generator for a local pitboss
//! server. N keep-alive connections send signed `wallet/deposit` and `wallet/query`
//! requests for a fixed time (or request count), then it reports requests/s and the
//! p50/p99 latencies. It only ever targets a loopback address.

use clap::Parser;
use hyper::Method;
use pitboss::server::admin::OperatorCredentials;
use pitboss::server::auth;
use pitboss::server::client::{authority, HttpClient};
use serde_json::{json, Value};
use std::error::Error;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type AnyError = Box<dyn Error + Send + Sync>;

#[derive(Parser, Debug, Clone)]
#[command(about = "Bounded load generator for a local pitboss server")]
struct Args {
    /// The server; must be a loopback address.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The operator's credentials (what `pitboss serve` writes for the demo operator).
    #[arg(long, default_value = "./data/demo-operator.json")]
    credentials: PathBuf,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// How long to send, seconds (at most 600).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Stop after this many requests in total, whatever the duration.
    #[arg(long, default_value_t = 10_000_000)]
    max_requests: u64,
    /// Players (wallets) to spread the load over; logged in first.
    #[arg(long, default_value_t = 64)]
    players: usize,
    /// Share of requests that are deposits (the rest are queries), 0 to 1.
    #[arg(long, default_value_t = 0.5)]
    deposit_share: f64,
}

/// What one connection measured: latencies in microseconds, and error codes.
#[derive(Default)]
struct Tally {
    deposits_us: Vec<u32>,
    queries_us: Vec<u32>,
    errors: Vec<i64>,
}

/// Most latency samples one connection keeps (bounded memory).
const MAX_SAMPLES: usize = 4_000_000;

fn unix_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Sends one signed request; returns the envelope's code and data.
async fn call(
    client: &mut HttpClient,
    creds: &OperatorCredentials,
    nonce: &str,
    path: &str,
    body: &Value,
) -> Result<(i64, Value), AnyError> {
    let ts = unix_secs().to_string();
    let h = auth::signed_headers(&creds.client_id, &creds.api_key, &ts, nonce)?;
    let reply = client
        .send(Method::POST, path, &h, body.to_string().into_bytes())
        .await?;
    let v: Value = serde_json::from_slice(&reply.body)?;
    let code = v["code"].as_i64().ok_or("response without a code")?;
    Ok((code, v["data"].clone()))
}

/// Refuses anything but a loopback target.
async fn check_loopback(server: &str) -> Result<(), AnyError> {
    let addr = authority(server)?;
    let resolved: Vec<_> = tokio::net::lookup_host(&addr).await?.collect();
    if resolved.is_empty() || resolved.iter().any(|a| !a.ip().is_loopback()) {
        return Err(format!("{server} is not a loopback address: refusing to send load").into());
    }
    Ok(())
}

/// Logs the players in (a few at a time: each login hashes a credential) and
/// returns their wallet ids.
async fn login_players(
    args: &Args,
    creds: &OperatorCredentials,
    run: &str,
) -> Result<Vec<String>, AnyError> {
    let mut wallets = Vec::with_capacity(args.players);
    let mut client = HttpClient::connect(&args.server).await?;
    for i in 0..args.players {
        let body = json!({"identifier": format!("load-{run}-{i}"), "credential": "load"});
        let (code, data) = call(
            &mut client,
            creds,
            &format!("{run}-login-{i}"),
            "/service/jsonapi/user/login",
            &body,
        )
        .await?;
        if code != 0 {
            return Err(format!("login failed with code {code}").into());
        }
        wallets.push(data["walletId"].as_str().ok_or("no walletId")?.to_owned());
    }
    Ok(wallets)
}

struct Job {
    creds: OperatorCredentials,
    wallets: Arc<Vec<String>>,
    run: String,
    deadline: Instant,
    budget: Arc<AtomicU64>,
    deposit_share: f64,
}

/// One connection's loop: until the deadline or the shared request budget is spent.
async fn worker(server: String, id: usize, job: Arc<Job>) -> Result<Tally, AnyError> {
    let mut client = HttpClient::connect(&server).await?;
    let mut tally = Tally::default();
    let mut seq: u64 = 0;
    // A deterministic interleaving: request `seq` is a deposit when the running
    // share of deposits is below the target.
    let mut deposits: u64 = 0;
    while Instant::now() < job.deadline && job.budget.fetch_sub(1, Ordering::Relaxed) > 0 {
        seq += 1;
        let wallet = &job.wallets[(id + seq as usize * 7) % job.wallets.len()];
        let nonce = format!("{}-{id}-{seq}", job.run);
        let deposit = (deposits as f64) < job.deposit_share * seq as f64;
        let (path, body) = if deposit {
            deposits += 1;
            let tx = format!("{}-{id}-{seq}", job.run);
            (
                "/service/jsonapi/wallet/deposit",
                json!({"walletId": wallet, "amount": 1, "transactionId": tx}),
            )
        } else {
            ("/service/jsonapi/wallet/query", json!({"walletId": wallet}))
        };
        let started = Instant::now();
        let (code, _) = call(&mut client, &job.creds, &nonce, path, &body).await?;
        let us = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        let samples = if deposit {
            &mut tally.deposits_us
        } else {
            &mut tally.queries_us
        };
        if samples.len() < MAX_SAMPLES {
            samples.push(us);
        }
        if code != 0 {
            tally.errors.push(code);
        }
    }
    Ok(tally)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
}

fn report(kind: &str, mut samples: Vec<u32>, secs: f64) {
    samples.sort_unstable();
    println!(
        "{kind:<9} {:>10} requests {:>10.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   max {:>8.3} ms",
        samples.len(),
        samples.len() as f64 / secs,
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        percentile(&samples, 1.0),
    );
}

async fn run(args: Args) -> Result<(), AnyError> {
    if args.duration == 0 || args.duration > 600 || args.connections == 0 || args.connections > 1024
    {
        return Err("--duration must be 1..=600 s and --connections 1..=1024".into());
    }
    check_loopback(&args.server).await?;
    let creds: OperatorCredentials = serde_json::from_slice(&std::fs::read(&args.credentials)?)?;
    let run = format!(
        "{:x}",
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis()
    );
    let wallets = Arc::new(login_players(&args, &creds, &run).await?);
    let started = Instant::now();
    let job = Arc::new(Job {
        creds,
        wallets,
        run,
        deadline: started + Duration::from_secs(args.duration),
        budget: Arc::new(AtomicU64::new(args.max_requests)),
        deposit_share: args.deposit_share.clamp(0.0, 1.0),
    });
    let tasks: Vec<_> = (0..args.connections)
        .map(|id| tokio::spawn(worker(args.server.clone(), id, job.clone())))
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await??;
        all.deposits_us.extend(t.deposits_us);
        all.queries_us.extend(t.queries_us);
        all.errors.extend(t.errors);
    }
    let secs = started.elapsed().as_secs_f64();
    let total = all.deposits_us.len() + all.queries_us.len();
    println!(
        "{} connections, {secs:.1} s, {total} requests, {:.0} req/s",
        args.connections,
        total as f64 / secs
    );
    report("deposit", all.deposits_us, secs);
    report("query", all.queries_us, secs);
    if !all.errors.is_empty() {
        all.errors.sort_unstable();
        println!(
            "errors: {} (first codes: {:?})",
            all.errors.len(),
            &all.errors[..all.errors.len().min(10)]
        );
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(AnyError::from)
        .and_then(|rt| rt.block_on(run(args)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pitboss-load: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
