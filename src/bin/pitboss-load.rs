//! `pitboss-load`: a bounded, self-stopping load generator for a local pitboss
//! server. N keep-alive connections send signed requests for a fixed time (or
//! request count), then it reports requests/s, the p50/p99 latencies, and the CPU the
//! generator itself used per request. It only ever targets a loopback address.
//!
//! Two modes: `platform` (the default) sends the Publisher Manual's `wallet/deposit`
//! and `wallet/query`; `gate` plays game rounds through the gate wallet API, a
//! signed `/bet` and then a signed `/win` that closes the round, on each connection.
//!
//! The generator shares the machine with the server, so every microsecond of its CPU
//! is one the server does not get. It therefore speaks HTTP/1.1 itself on each
//! connection ([`Conn`]): one task per connection, the request written into a reused
//! buffer and sent with one write, the response read into another reused buffer and
//! parsed just enough to frame it (`Content-Length`) and read the envelope's `code`.
//! It still does all the work a real client does: every request is signed
//! (`hex(sha256(clientId + timestamp + nonce + apiKey))`) with a fresh nonce and the
//! current timestamp, and every response is read whole and checked (status line,
//! framing, `code`).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use clap::Parser;
use hyper::Method;
use pitboss::server::admin::OperatorCredentials;
use pitboss::server::client::{authority, HttpClient};
use pitboss::server::{auth, gate};
use serde_json::{json, Value};
use std::error::Error;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
    /// Concurrent keep-alive connections (one request in flight on each).
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
    /// Generator threads. One thread drives all connections and leaves the other
    /// cores to the server it measures.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// What to send: `platform` (deposits and queries) or `gate` (bet + win rounds).
    #[arg(long, value_enum, default_value_t = Mode::Platform)]
    mode: Mode,
    /// Gate mode: first create a running tournament and bind the rounds' game to it,
    /// so that every closed round scores (to measure what scoring costs).
    #[arg(long)]
    bind_tournament: bool,
    /// Gate mode against a seamless operator: its own wallet, a pitboss in transfer
    /// mode whose operator checks this operator's signatures. Each player is
    /// registered and funded there first (with `--wallet-credentials`), then logged in
    /// on `--server`, which funds nothing. A gate wallet names players by the
    /// platform's uid: start both servers fresh, so that each player gets the same
    /// uid on both (a bank wallet names them by identifier).
    #[arg(long, requires = "wallet_credentials")]
    wallet_server: Option<String>,
    /// The credentials of the wallet server's operator.
    #[arg(long)]
    wallet_credentials: Option<PathBuf>,
    /// Subscribe a webhook receiver run here (on its own thread) to the wallet
    /// events the load causes, and report its deliveries per second. The server must
    /// allow private receivers (`serve --webhook-allow-private`).
    #[arg(long)]
    webhooks: bool,
    /// With `--webhooks`: the receiver never answers (a stalled subscriber), to see
    /// what it costs everyone else.
    #[arg(long, requires = "webhooks")]
    webhook_stall: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Signed `wallet/deposit` and `wallet/query` (`--deposit-share` of deposits).
    Platform,
    /// Signed gate `/bet` + `/win` round trips: two calls per round.
    Gate,
}

impl Mode {
    /// The names of the two kinds of request the mode sends.
    fn kinds(self) -> [&'static str; 2] {
        match self {
            Mode::Platform => ["deposit", "query"],
            Mode::Gate => ["bet", "win"],
        }
    }
}

/// What one connection measured: latencies in microseconds of each of the mode's two
/// kinds of request (`Mode::kinds`), and error codes.
#[derive(Default)]
struct Tally {
    samples_us: [Vec<u32>; 2],
    errors: Vec<i64>,
}

impl Tally {
    fn record(&mut self, kind: usize, started: Instant, reply: &Reply) -> Result<(), AnyError> {
        let us = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        let samples = &mut self.samples_us[kind];
        if samples.len() < MAX_SAMPLES {
            samples.push(us);
        }
        if reply.code != 0 {
            self.errors.push(reply.code);
        } else if reply.status != 200 {
            return Err(format!("code 0 with HTTP status {}", reply.status).into());
        }
        Ok(())
    }
}

/// Most latency samples one connection keeps (bounded memory).
const MAX_SAMPLES: usize = 4_000_000;

fn unix_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Sends one signed request through the general client; returns the envelope's code
/// and data. Used for the logins before the measured phase.
async fn call(
    client: &mut HttpClient,
    creds: &OperatorCredentials,
    nonce: &str,
    path: &str,
    body: &Value,
) -> Result<(i64, Value), AnyError> {
    call_with(
        client,
        creds,
        nonce,
        Method::POST,
        path,
        body.to_string().into_bytes(),
    )
    .await
}

/// [`call`] with any method and a body as bytes (empty for a GET).
async fn call_with(
    client: &mut HttpClient,
    creds: &OperatorCredentials,
    nonce: &str,
    method: Method,
    path: &str,
    body: Vec<u8>,
) -> Result<(i64, Value), AnyError> {
    let ts = unix_secs().to_string();
    let h = auth::signed_headers(&creds.client_id, &creds.api_key, &ts, nonce)?;
    let reply = client.send(method, path, &h, body).await?;
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

/// A logged-in player: its wallet id and its platform uid (decimal numbers, which
/// the request bodies embed unescaped).
struct LoadPlayer {
    wallet: String,
    uid: String,
}

/// True for a non-empty string of ASCII digits.
fn decimal(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Logs the players in (one at a time: each login hashes a credential) and returns
/// their wallets and uids. In gate mode each wallet is funded for the rounds.
async fn login_players(
    args: &Args,
    creds: &OperatorCredentials,
    run: &str,
) -> Result<Vec<LoadPlayer>, AnyError> {
    let mut players = Vec::with_capacity(args.players);
    let mut client = HttpClient::connect(&args.server).await?;
    let mut remote = match (&args.wallet_server, &args.wallet_credentials) {
        (Some(url), Some(path)) => {
            check_loopback(url).await?;
            let creds: OperatorCredentials = serde_json::from_slice(&std::fs::read(path)?)?;
            Some((HttpClient::connect(url).await?, creds))
        }
        _ => None,
    };
    for i in 0..args.players {
        let body = json!({"identifier": format!("load-{run}-{i}"), "credential": "load"});
        // Seamless: the player's money lives in the operator's wallet; put it there.
        let mut remote_uid = None;
        if let Some((wallet_client, wallet_creds)) = &mut remote {
            let nonce = format!("{run}-wallet-login-{i}");
            let login = "/service/jsonapi/user/login";
            let (code, data) = call(wallet_client, wallet_creds, &nonce, login, &body).await?;
            if code != 0 {
                return Err(format!("login at the wallet failed with code {code}").into());
            }
            let wallet_id = data["walletId"].as_str().ok_or("no walletId")?;
            remote_uid = data["userId"].as_str().map(str::to_owned);
            let fund = json!({"walletId": wallet_id, "amount": 1_000_000_000_000i64,
                              "transactionId": format!("{run}-fund-{i}")});
            let nonce = format!("{run}-wallet-fund-{i}");
            let (code, _) = call(wallet_client, wallet_creds, &nonce, DEPOSIT, &fund).await?;
            if code != 0 {
                return Err(format!("funding at the wallet failed with code {code}").into());
            }
        }
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
        let wallet = data["walletId"].as_str().ok_or("no walletId")?;
        let uid = data["userId"].as_str().ok_or("no userId")?;
        if !decimal(wallet) || !decimal(uid) {
            return Err(format!("unexpected walletId {wallet:?} or userId {uid:?}").into());
        }
        // A gate wallet knows players by the platform's uid, a bank wallet by their
        // identifier: only the first needs the two servers to agree on uids.
        if i == 0 && remote_uid.as_ref().is_some_and(|r| r != uid) {
            eprintln!(
                "pitboss-load: player uids differ between the server ({uid}) and the wallet \
                 ({remote_uid:?}): a gate wallet will not know the players (a bank wallet does)"
            );
        }
        if args.mode == Mode::Gate && remote.is_none() {
            let body = json!({"walletId": wallet, "amount": 1_000_000_000_000i64,
                              "transactionId": format!("{run}-fund-{i}")});
            let nonce = format!("{run}-fund-{i}");
            let (code, _) = call(&mut client, creds, &nonce, DEPOSIT, &body).await?;
            if code != 0 {
                return Err(format!("funding failed with code {code}").into());
            }
        }
        players.push(LoadPlayer {
            wallet: wallet.to_owned(),
            uid: uid.to_owned(),
        });
    }
    Ok(players)
}

/// Creates a tournament running for a day with one round that scores bets and wins,
/// and binds [`GATE_GAME`] to it.
async fn bind_tournament(
    args: &Args,
    creds: &OperatorCredentials,
    run: &str,
) -> Result<(), AnyError> {
    let mut client = HttpClient::connect(&args.server).await?;
    let now = unix_secs();
    let spec = json!({"version": "1.0", "name": format!("load {run}"), "start": now,
        "end": now + 86_400, "rounds": [{"name": "r1", "start": now, "end": now + 86_400,
            "initial": {"type": "fixed", "value": 0},
            "strategy": {"type": 0, "rules": {
                "bet": {"enabled": true, "type": "rate", "rate": 1},
                "win": {"enabled": true, "type": "rate", "rate": 1}}}}]});
    let create = "/service/jsonapi/tournament/create";
    let (code, data) = call(
        &mut client,
        creds,
        &format!("{run}-tournament"),
        create,
        &spec,
    )
    .await?;
    if code != 0 {
        return Err(format!("creating the tournament failed with code {code}").into());
    }
    let id = data["tourneyId"].as_str().ok_or("no tourneyId")?;
    let bind = json!({"tourneyId": id, "gameId": GATE_GAME});
    let path = "/service/jsonapi/tournament/bind";
    let (code, _) = call(&mut client, creds, &format!("{run}-bind"), path, &bind).await?;
    if code != 0 {
        return Err(format!("binding the game failed with code {code}").into());
    }
    println!("bound {GATE_GAME} to tournament {id}");
    Ok(())
}

/// A webhook receiver on its own thread (so that it takes nothing from the load's
/// connections): answers every delivery `200 {"code":0}` once its body is read and
/// counts it, or, stalled, never answers. Its URL and count.
fn start_receiver(stall: bool) -> Result<(String, Arc<AtomicU64>), AnyError> {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("pitboss-load-receiver".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                while let Ok((stream, _)) = listener.accept().await {
                    let counted = counted.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(
                            move |req: hyper::Request<hyper::body::Incoming>| {
                                let counted = counted.clone();
                                async move {
                                    let _ = req.into_body().collect().await;
                                    if stall {
                                        tokio::time::sleep(Duration::from_secs(3600)).await;
                                    }
                                    counted.fetch_add(1, Ordering::Relaxed);
                                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                                        Full::new(Bytes::from_static(
                                            br#"{"code":0,"message":"ok"}"#,
                                        )),
                                    ))
                                }
                            },
                        );
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        })?;
    Ok((url, count))
}

/// Deliveries still pending for the operator's subscriptions, and events dropped
/// because an outbox was full (`/service/webhook/list`).
async fn webhook_backlog(
    client: &mut HttpClient,
    creds: &OperatorCredentials,
    nonce: &str,
) -> Result<(u64, u64), AnyError> {
    let list = "/service/webhook/list";
    let (_, data) = call_with(client, creds, nonce, Method::GET, list, Vec::new()).await?;
    let list = data["list"].as_array().ok_or("no subscription list")?;
    let sum = |field: &str| list.iter().filter_map(|s| s[field].as_u64()).sum();
    Ok((sum("pending"), sum("dropped")))
}

/// Largest response accepted (the API's wallet responses are ~100 bytes).
const MAX_RESPONSE: usize = 1 << 20;

/// One keep-alive HTTP/1.1 connection, one request at a time. Both buffers are kept
/// across requests, so the steady state allocates nothing.
struct Conn {
    stream: TcpStream,
    /// The request being sent.
    out: Vec<u8>,
    /// Bytes received; `filled` of them are valid.
    inp: Vec<u8>,
    filled: usize,
}

/// A response as far as the generator looks at it.
struct Reply {
    status: u16,
    code: i64,
}

impl Conn {
    async fn connect(authority: &str) -> Result<Conn, AnyError> {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            out: Vec::with_capacity(1024),
            inp: vec![0; 4096],
            filled: 0,
        })
    }

    /// Sends `self.out` (a whole request) and reads its response.
    async fn round_trip(&mut self) -> Result<Reply, AnyError> {
        self.stream.write_all(&self.out).await?;
        let (head_len, body_len, status) = loop {
            if let Some(head) = parse_head(&self.inp[..self.filled])? {
                break head;
            }
            self.fill().await?;
        };
        let total = head_len
            .checked_add(body_len)
            .filter(|t| *t <= MAX_RESPONSE)
            .ok_or("response too large")?;
        while self.filled < total {
            self.fill().await?;
        }
        if self.filled > total {
            // One request in flight: nothing may follow its response.
            return Err("unexpected bytes after a response".into());
        }
        let code = envelope_code(&self.inp[head_len..total])?;
        self.filled = 0;
        Ok(Reply { status, code })
    }

    /// Reads more bytes, growing the buffer when it is full.
    async fn fill(&mut self) -> Result<(), AnyError> {
        if self.filled == self.inp.len() {
            if self.inp.len() >= MAX_RESPONSE {
                return Err("response too large".into());
            }
            self.inp.resize(self.inp.len() * 2, 0);
        }
        let n = self.stream.read(&mut self.inp[self.filled..]).await?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        self.filled += n;
        Ok(())
    }
}

/// The response head in `buf`, once complete: (head length including the blank line,
/// `Content-Length`, status). Refuses what this client does not speak (chunked
/// bodies, no length, `Connection: close`).
fn parse_head(buf: &[u8]) -> Result<Option<(usize, usize, u16)>, AnyError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > 16 * 1024 {
            return Err("response head too large".into());
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| "response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut length = None;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or("bad header line")?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| "bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("chunked responses are not expected".into());
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            return Err("the server is closing the connection".into());
        }
    }
    let length = length.ok_or("response without Content-Length")?;
    Ok(Some((end + 4, length, status)))
}

/// The `code` of a `{"code":N,"message":...,"data":...}` envelope, or 0 for a gate
/// success (`{"success":true,...}`). The server writes those fields first, so the
/// answer is read from the prefix; any other shape is parsed as JSON in full.
fn envelope_code(body: &[u8]) -> Result<i64, AnyError> {
    const PREFIX: &[u8] = b"{\"code\":";
    if body.starts_with(b"{\"success\":true,") && body.ends_with(b"}") {
        return Ok(0);
    }
    if let Some(rest) = body.strip_prefix(PREFIX) {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && digits < 10 && rest.get(digits) == Some(&b',') && body.ends_with(b"}") {
            return rest[..digits]
                .iter()
                .try_fold(0i64, |n, d| {
                    n.checked_mul(10)?.checked_add(i64::from(d - b'0'))
                })
                .ok_or_else(|| "bad code".into());
        }
    }
    let v: Value = serde_json::from_slice(body)?;
    v["code"]
        .as_i64()
        .ok_or_else(|| "response without a code".into())
}

const DEPOSIT: &str = "/service/jsonapi/wallet/deposit";
const QUERY: &str = "/service/jsonapi/wallet/query";

/// What every connection shares.
struct Job {
    creds: OperatorCredentials,
    authority: String,
    mode: Mode,
    players: Vec<LoadPlayer>,
    run: String,
    deadline: Instant,
    budget: AtomicU64,
    deposit_share: f64,
}

impl Job {
    /// Takes one request from the shared budget; false once it is spent. (A plain
    /// `fetch_sub` would wrap below zero and let the other connections go on.)
    fn take_one(&self) -> bool {
        self.budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// The current Unix time in decimal, re-rendered only when the second changes.
#[derive(Default)]
struct Timestamp {
    secs: i64,
    text: String,
}

impl Timestamp {
    fn now(&mut self) -> &str {
        let secs = unix_secs();
        if secs != self.secs || self.text.is_empty() {
            self.secs = secs;
            self.text.clear();
            let _ = write!(self.text, "{secs}");
        }
        &self.text
    }
}

/// Writes a whole signed POST into `out`.
fn write_request(
    out: &mut Vec<u8>,
    job: &Job,
    path: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) {
    let signature = auth::sign_hex(&job.creds.client_id, timestamp, nonce, &job.creds.api_key);
    out.clear();
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
         {client}: {client_id}\r\n{ts}: {timestamp}\r\n{n}: {nonce}\r\n{sig}: ",
        host = job.authority,
        client = auth::CLIENT_ID,
        client_id = job.creds.client_id,
        ts = auth::TIMESTAMP,
        n = auth::NONCE,
        sig = auth::SIGNATURE,
    );
    out.extend_from_slice(&signature);
    let _ = write!(out, "\r\ncontent-length: {}\r\n\r\n", body.len());
    out.extend_from_slice(body);
}

/// One connection's loop: until the deadline or the shared request budget is spent.
async fn worker(id: usize, job: Arc<Job>) -> Result<Tally, AnyError> {
    match job.mode {
        Mode::Platform => platform_worker(id, job).await,
        Mode::Gate => gate_worker(id, job).await,
    }
}

async fn platform_worker(id: usize, job: Arc<Job>) -> Result<Tally, AnyError> {
    let mut conn = Conn::connect(&job.authority).await?;
    let mut tally = Tally::default();
    let mut clock = Timestamp::default();
    let (mut nonce, mut body) = (String::with_capacity(64), Vec::with_capacity(256));
    let mut seq: u64 = 0;
    // A deterministic interleaving: request `seq` is a deposit when the running
    // share of deposits is below the target.
    let mut deposits: u64 = 0;
    while Instant::now() < job.deadline && job.take_one() {
        seq += 1;
        let wallet = &job.players[(id + seq as usize * 7) % job.players.len()].wallet;
        // A fresh nonce per request; deposits use it as their transaction id too.
        nonce.clear();
        let _ = write!(nonce, "{}-{id}-{seq}", job.run);
        let deposit = (deposits as f64) < job.deposit_share * seq as f64;
        body.clear();
        let path = if deposit {
            deposits += 1;
            let _ = write!(
                body,
                r#"{{"walletId":"{wallet}","amount":1,"transactionId":"{nonce}"}}"#
            );
            DEPOSIT
        } else {
            let _ = write!(body, r#"{{"walletId":"{wallet}"}}"#);
            QUERY
        };
        let started = Instant::now();
        write_request(&mut conn.out, &job, path, clock.now(), &nonce, &body);
        let reply = conn.round_trip().await?;
        tally.record(usize::from(!deposit), started, &reply)?;
    }
    Ok(tally)
}

/// The game every gate round is played in (a game of the demo data directory).
const GATE_GAME: &str = "slot_alice";
/// The currency of the gate rounds (the demo operator's).
const GATE_CURRENCY: &str = "CNY";

/// Writes a whole signed gate POST of a bet or win of 1 into `out`: the parameters in
/// byte order of their names, which is both the string to sign and the body's order.
fn write_gate_request(
    out: &mut Vec<u8>,
    job: &Job,
    path: &str,
    timestamp: &str,
    round: &str,
    tx: &str,
    uid: &str,
) {
    let app_key = job.creds.app_key.as_str();
    let pairs = [
        ("amount", "1"),
        ("app_key", app_key),
        ("currency", GATE_CURRENCY),
        ("game_id", GATE_GAME),
        ("round_id", round),
        ("timestamp", timestamp),
        ("transaction_id", tx),
        ("uid", uid),
    ];
    let sign = gate::params::digest_sorted(pairs, &job.creds.app_secret);
    let mut sign_hex = [0u8; 32];
    // 16 bytes always fit 32 hex digits.
    let _ = hex::encode_to_slice(sign, &mut sign_hex);
    let sign_hex = std::str::from_utf8(&sign_hex).unwrap_or_default();
    out.clear();
    // Ids are generated as plain ASCII: no JSON escaping needed.
    let body_len = {
        let start = out.len();
        let _ = write!(
            out,
            r#"{{"amount":1,"app_key":"{app_key}","currency":"{GATE_CURRENCY}","game_id":"{GATE_GAME}","round_id":"{round}","timestamp":{timestamp},"transaction_id":"{tx}","uid":{uid},"sign":"{sign_hex}"}}"#
        );
        out.len() - start
    };
    let body = out.split_off(0);
    let _ = write!(
        out,
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
         content-length: {body_len}\r\n\r\n",
        host = job.authority,
    );
    out.extend_from_slice(&body);
}

/// Gate rounds: a bet of 1 opens a round, a win of 1 closes it.
async fn gate_worker(id: usize, job: Arc<Job>) -> Result<Tally, AnyError> {
    let mut conn = Conn::connect(&job.authority).await?;
    let mut tally = Tally::default();
    let mut clock = Timestamp::default();
    let (mut round, mut tx) = (String::with_capacity(64), String::with_capacity(64));
    let mut seq: u64 = 0;
    while Instant::now() < job.deadline && job.take_one() && job.take_one() {
        seq += 1;
        let uid = &job.players[(id + seq as usize * 7) % job.players.len()].uid;
        round.clear();
        let _ = write!(round, "{}-{id}-{seq}", job.run);
        for (kind, path) in [(0, "/bet"), (1, "/win")] {
            tx.clear();
            let _ = write!(tx, "{round}-{}", job.mode.kinds()[kind]);
            let started = Instant::now();
            write_gate_request(&mut conn.out, &job, path, clock.now(), &round, &tx, uid);
            let reply = conn.round_trip().await?;
            tally.record(kind, started, &reply)?;
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

/// User + system CPU time this process has used so far.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage writes a whole `rusage` into the pointer on success (0); the
    // value is read only then.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return Duration::ZERO;
        }
        usage.assume_init()
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

async fn run(args: Args) -> Result<(), AnyError> {
    if args.duration == 0 || args.duration > 600 || args.connections == 0 || args.connections > 1024
    {
        return Err("--duration must be 1..=600 s and --connections 1..=1024".into());
    }
    if args.players == 0 {
        return Err("--players must be at least 1".into());
    }
    check_loopback(&args.server).await?;
    let creds: OperatorCredentials = serde_json::from_slice(&std::fs::read(&args.credentials)?)?;
    let run = format!(
        "{:x}",
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis()
    );
    let players = login_players(&args, &creds, &run).await?;
    if args.bind_tournament {
        bind_tournament(&args, &creds, &run).await?;
    }
    let receiver = if args.webhooks {
        let (url, count) = start_receiver(args.webhook_stall)?;
        let mut client = HttpClient::connect(&args.server).await?;
        let events =
            json!({"url": url, "events": ["wallet.transaction.success", "wallet.balance.update"]});
        let path = "/service/webhook/subscribe";
        let (code, _) = call(
            &mut client,
            &creds,
            &format!("{run}-subscribe"),
            path,
            &events,
        )
        .await?;
        if code != 0 {
            return Err(format!(
                "subscribing failed with code {code} (does the server allow private receivers?)"
            )
            .into());
        }
        Some(count)
    } else {
        None
    };
    // The measured phase starts here; a script timing the server watches for this line.
    println!(
        "logged in {} players; sending for {} s",
        players.len(),
        args.duration
    );
    let _ = std::io::stdout().flush();
    let (started, cpu_before) = (Instant::now(), cpu_time());
    let job = Arc::new(Job {
        creds: creds.clone(),
        authority: authority(&args.server)?,
        mode: args.mode,
        players,
        run,
        deadline: started + Duration::from_secs(args.duration),
        budget: AtomicU64::new(args.max_requests),
        deposit_share: args.deposit_share.clamp(0.0, 1.0),
    });
    let tasks: Vec<_> = (0..args.connections)
        .map(|id| tokio::spawn(worker(id, job.clone())))
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await??;
        for (all, t) in all.samples_us.iter_mut().zip(t.samples_us) {
            all.extend(t);
        }
        all.errors.extend(t.errors);
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let total: usize = all.samples_us.iter().map(Vec::len).sum();
    println!(
        "{} connections, {secs:.1} s, {total} requests, {:.0} req/s; generator CPU {:.1} µs/request",
        args.connections,
        total as f64 / secs,
        cpu.as_secs_f64() * 1e6 / total.max(1) as f64,
    );
    let [first, second] = all.samples_us;
    let [first_kind, second_kind] = args.mode.kinds();
    report(first_kind, first, secs);
    report(second_kind, second, secs);
    if !all.errors.is_empty() {
        all.errors.sort_unstable();
        println!(
            "errors: {} (first codes: {:?})",
            all.errors.len(),
            &all.errors[..all.errors.len().min(10)]
        );
    }
    if let Some(count) = receiver {
        // A new connection: the one that subscribed idled past the server's limit.
        let mut client = HttpClient::connect(&args.server).await?;
        let during = count.load(Ordering::Relaxed);
        println!(
            "webhooks: {during} deliveries while sending, {:.0}/s",
            during as f64 / secs
        );
        // Then until the outbox is empty (at most a minute; never, when stalled).
        let mut n = 0;
        let drain_started = Instant::now();
        while !args.webhook_stall && drain_started.elapsed() < Duration::from_secs(60) {
            n += 1;
            let nonce = format!("{}-list-{n}", job.run);
            let (backlog, dropped) = webhook_backlog(&mut client, &creds, &nonce).await?;
            if backlog == 0 {
                let total = count.load(Ordering::Relaxed);
                let all_secs = started.elapsed().as_secs_f64();
                println!(
                    "webhooks: outbox empty {:.1} s after the load; {total} deliveries in \
                     {all_secs:.1} s, {:.0}/s; {dropped} events dropped (outbox full)",
                    drain_started.elapsed().as_secs_f64(),
                    total as f64 / all_secs
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let nonce = format!("{}-unsubscribe", job.run);
        let path = "/service/webhook/unsubscribe";
        call_with(&mut client, &creds, &nonce, Method::GET, path, Vec::new()).await?;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match args.threads {
        0 => Err(std::io::Error::other("--threads must be at least 1")),
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    };
    let result = runtime
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_framed_by_content_length() {
        let resp = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 12\r\n\r\n{\"code\":0,}";
        assert_eq!(parse_head(&resp[..20]).ok().flatten(), None, "incomplete");
        let (head, len, status) = parse_head(resp).ok().flatten().expect("complete head");
        assert_eq!((len, status), (12, 200));
        assert_eq!(&resp[head..head + 2], b"{\"");
        for bad in [
            &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n",
            b"HTTP/1.1 2x0 OK\r\ncontent-length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
        ] {
            assert!(
                parse_head(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn envelope_codes_are_read() {
        let code = |b: &[u8]| envelope_code(b).ok();
        assert_eq!(
            code(br#"{"code":0,"message":"success","data":{}}"#),
            Some(0)
        );
        assert_eq!(
            code(br#"{"code":5,"message":"nonce already used","data":null}"#),
            Some(5)
        );
        // Another field order is parsed in full.
        assert_eq!(code(br#"{"message":"x","code":7,"data":null}"#), Some(7));
        assert_eq!(code(br#"{"code":0,"message":"cut"#), None);
        assert_eq!(code(br#"{"message":"no code"}"#), None);
    }

    #[test]
    fn gate_requests_carry_a_sign_the_server_accepts() {
        let job = Job {
            creds: OperatorCredentials {
                client_id: "demo".into(),
                api_key: "key".into(),
                channel_id: "c".into(),
                app_key: "AK".into(),
                app_secret: "S".into(),
                password: None,
            },
            authority: "127.0.0.1:1".into(),
            mode: Mode::Gate,
            players: Vec::new(),
            run: "r".into(),
            deadline: Instant::now(),
            budget: AtomicU64::new(0),
            deposit_share: 0.0,
        };
        let mut out = Vec::new();
        write_gate_request(&mut out, &job, "/bet", "1700000000", "r-1", "r-1-bet", "7");
        let text = String::from_utf8(out).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with("POST /bet HTTP/1.1\r\n"));
        assert!(head.ends_with(&format!("content-length: {}", body.len())));
        let params = gate::params::GateParams::parse(body.as_bytes()).expect("a gate body");
        let sign = params.str("sign").expect("signed");
        assert!(params.signature_matches(sign, "S"), "{body}");
        assert_eq!(params.int("uid").ok(), Some(7));
        assert_eq!(
            envelope_code(br#"{"success":true,"data":{}}"#).ok(),
            Some(0)
        );
        let refused = br#"{"success":false,"code":20241003,"error_tip":"x"}"#;
        assert_eq!(envelope_code(refused).ok(), Some(20_241_003));
    }

    #[test]
    fn requests_are_signed_http() {
        let job = Job {
            creds: OperatorCredentials {
                client_id: "demo".into(),
                api_key: "key".into(),
                channel_id: "c".into(),
                app_key: "a".into(),
                app_secret: "s".into(),
                password: None,
            },
            authority: "127.0.0.1:1".into(),
            mode: Mode::Platform,
            players: vec![LoadPlayer {
                wallet: "1".into(),
                uid: "1".into(),
            }],
            run: "r".into(),
            deadline: Instant::now(),
            budget: AtomicU64::new(0),
            deposit_share: 1.0,
        };
        assert!(!job.take_one(), "an empty budget stays empty");
        job.budget.store(2, Ordering::Relaxed);
        assert!(job.take_one() && job.take_one() && !job.take_one() && !job.take_one());
        let mut out = Vec::new();
        write_request(
            &mut out,
            &job,
            QUERY,
            "1700000000",
            "n-1",
            br#"{"walletId":"1"}"#,
        );
        let text = String::from_utf8(out).expect("ascii");
        let sig = auth::sign("demo", "1700000000", "n-1", "key");
        assert!(text.starts_with("POST /service/jsonapi/wallet/query HTTP/1.1\r\n"));
        assert!(text.contains(&format!("x-signature: {sig}\r\n")));
        assert!(text.contains("x-nonce: n-1\r\nx-signature"));
        assert!(text.ends_with("content-length: 16\r\n\r\n{\"walletId\":\"1\"}"));
    }
}
