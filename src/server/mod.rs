//! The HTTP front end: hyper 1.x (HTTP/1.1) on tokio, speaking the platform API of
//! the Publisher Manual (`/service/jsonapi/...`), the two wallet APIs served by the engine (gate:
//! `/getBalance`, `/bet`, `/win`, `/refund`; bank: `/api/bank/...`), and the admin
//! API (`/admin/...`).
//!
//! # Layout
//! - [`run`]: the accept loop, connection limit, graceful drain, periodic upkeep
//!   (expiring stale rounds, paying the prizes of tournament rounds that ended).
//! - [`serve`]: `pitboss serve`: data directory, engine, signals, shutdown.
//! - [`auth`], [`nonce`]: request signatures and replay protection.
//! - [`envelope`]: `{code, message, data}` and the one table of error codes.
//! - [`iso8601`]: timestamps as the APIs write them.
//! - [`tournament_spec`]: the JSON shape of a tournament spec.
//! - [`outbound`]: the client of operators' own wallets (seamless mode), bounded per
//!   operator and in time.
//! - [`webhooks`]: webhook deliveries: body, signature, address guard, the sending task.
//! - `routes`: the platform API, one module per area; [`admin`]: administration.
//! - [`gate`], [`bank`]: the wallet APIs, each with its own signature, codes and
//!   envelopes; [`dialect`]: what the two share.
//! - [`datadir`], [`demo`]: the files the server keeps beside the engine's, and the
//!   demo operator and games of a new data directory.
//! - [`client`], [`cli`]: a minimal HTTP client and the admin commands built on it.
//!
//! The server knows nothing of the engine's locks or files: it calls [`Engine`]
//! methods, awaits their [`Pending`](crate::engine::Pending) results (so no worker
//! blocks on an fsync), and runs Argon2 on the blocking pool.

pub mod admin;
pub mod auth;
pub mod bank;
pub mod cli;
pub mod client;
pub mod datadir;
pub mod demo;
pub mod dialect;
pub mod envelope;
pub mod gate;
pub mod iso8601;
pub mod log_writer;
pub mod metrics;
pub mod nonce;
pub mod outbound;
pub mod remote_wallets;
mod request;
mod routes;
pub mod serve;
pub mod tls;
pub mod tournament_spec;
pub mod webhooks;

use crate::engine::Engine;
use envelope::{ApiError, ApiResult, ErrorCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use nonce::{NonceCache, NonceLimits};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Limits and timings of the server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The token `/admin/...` requests must present.
    pub admin_token: String,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Largest request body; a larger one gets code 10 (HTTP 413).
    pub max_body_bytes: usize,
    /// Time a client has to send a request's headers (also bounds idle keep-alive).
    pub header_read_timeout: Duration,
    /// How long a request's body may take to arrive once its head has: a client that
    /// sends a head and then nothing would otherwise hold a connection slot for ever
    /// (before any signature is checked). Past it the request gets HTTP 408 in its
    /// API's envelope and the connection is closed.
    pub body_read_timeout: Duration,
    /// How long a graceful shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
    /// How often rounds past their time-out are expired and old nonces forgotten.
    pub upkeep_interval: Duration,
    pub nonces: NonceLimits,
    /// Argon2 computations at once (each takes ~19 MiB and tens of ms by default).
    pub max_concurrent_hashes: usize,
    /// Of those, how many unauthenticated requests may take at once (operator logins
    /// to the CLI, `/service/cli/login`); at least 1, at most all of them.
    pub max_unauthenticated_hashes: usize,
    /// How long a request waits for a hashing slot before it is refused (code 10).
    pub hash_queue_wait: Duration,
    /// Calls to operators' own wallets (seamless mode): time limit, bound per operator.
    pub outbound: outbound::OutboundConfig,
    /// How often seamless calls due for another attempt are looked for.
    pub seamless_retry_interval: Duration,
    /// Most seamless retries started per look.
    pub seamless_retries_per_tick: usize,
    /// Webhook deliveries: the address guard, time limit, bounds, pace.
    pub webhooks: webhooks::SenderConfig,
    /// `/health` and `/metrics` are served on the main listener too (`false` when
    /// `serve --metrics-listen` gives them a listener of their own).
    pub metrics_on_main: bool,
    /// Serve HTTPS with this certificate (`serve --tls-cert/--tls-key`); plain HTTP
    /// when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// What calls to operators' wallets and webhook receivers trust (the system's
    /// roots, plus `serve --ca-file`).
    pub outbound_tls: Arc<rustls::ClientConfig>,
}

impl ServerConfig {
    pub fn new(admin_token: String) -> ServerConfig {
        let cores = crate::cores::available().unwrap_or(2);
        ServerConfig {
            admin_token,
            max_connections: 1024,
            max_body_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
            upkeep_interval: Duration::from_secs(5),
            nonces: NonceLimits::default(),
            max_concurrent_hashes: 2 * cores,
            max_unauthenticated_hashes: 1,
            hash_queue_wait: Duration::from_secs(5),
            outbound: outbound::OutboundConfig::default(),
            seamless_retry_interval: Duration::from_millis(200),
            seamless_retries_per_tick: 256,
            webhooks: webhooks::SenderConfig::default(),
            metrics_on_main: true,
            tls: None,
            outbound_tls: tls::default_client_config(),
        }
    }
}

/// What every request handler shares.
pub(crate) struct App {
    engine: Arc<Engine>,
    nonces: NonceCache,
    admin_token: String,
    /// Slots for Argon2 work: bounds the memory and CPU that logins can take.
    hashing: Semaphore,
    /// The part of `hashing` that requests no one has authenticated may take
    /// (`/service/cli/login`): a flood of them cannot starve operators' player logins.
    unauthenticated_hashing: Semaphore,
    config: ServerConfig,
    metrics: Arc<metrics::Metrics>,
    request_ids: metrics::RequestIds,
    started: std::time::Instant,
}

impl App {
    /// An app over `engine` with the default settings, serving nothing (the
    /// platform fuzz target calls its routes directly).
    pub(crate) fn detached(engine: Arc<Engine>) -> App {
        let config = ServerConfig::new("fuzz-admin-token".into());
        App::new(engine, config, Arc::default())
    }

    fn new(engine: Arc<Engine>, config: ServerConfig, metrics: Arc<metrics::Metrics>) -> App {
        App {
            engine,
            nonces: NonceCache::new(config.nonces),
            admin_token: config.admin_token.clone(),
            hashing: Semaphore::new(config.max_concurrent_hashes.max(1)),
            unauthenticated_hashing: Semaphore::new(
                config
                    .max_unauthenticated_hashes
                    .clamp(1, config.max_concurrent_hashes.max(1)),
            ),
            config,
            metrics,
            request_ids: metrics::RequestIds::default(),
            started: std::time::Instant::now(),
        }
    }

    /// [`App::hashing`] for a request no one has authenticated: it first takes one of
    /// the few slots such requests share, waiting as long.
    async fn hashing_unauthenticated<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _slot = self.hashing_slot(&self.unauthenticated_hashing).await?;
        self.hashing(f).await
    }

    /// Runs `f` (Argon2 work) on the blocking pool, holding a hashing slot.
    async fn hashing<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _slot = self.hashing_slot(&self.hashing).await?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|_| ApiError::internal())
    }

    /// A slot of `slots`, waited for at most `hash_queue_wait` (then code 10).
    async fn hashing_slot<'a>(
        &self,
        slots: &'a Semaphore,
    ) -> Result<tokio::sync::SemaphorePermit<'a>, ApiError> {
        let busy = || ApiError::new(ErrorCode::LimitExceeded, "too many password checks; retry");
        tokio::time::timeout(self.config.hash_queue_wait, slots.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())
    }
}

/// Runs one platform API request as `op`, past authentication, and renders the
/// answer (the platform fuzz target; `App::detached` builds the app).
pub(crate) async fn platform_request_as(
    app: &App,
    op: &Arc<crate::identity::types::Operator>,
    parts: &hyper::http::request::Parts,
    body: &[u8],
) -> Response<Full<Bytes>> {
    envelope::respond(routes::dispatch_as(app, op, parts, body).await)
}

/// Every platform API endpoint, (method, path).
pub(crate) fn platform_endpoints() -> Vec<(hyper::Method, &'static str)> {
    routes::endpoints().collect()
}

/// Serves `listener` until `shutdown` resolves; then stops accepting, lets in-flight
/// requests finish (up to the drain time-out) and returns. The caller shuts the
/// engine down afterwards.
pub async fn run(
    listener: TcpListener,
    engine: Arc<Engine>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    run_with_metrics(listener, engine, config, Arc::default(), shutdown).await;
}

/// [`run`], counting into `metrics` (which `serve_metrics` may also serve on a
/// listener of its own). Attaches `metrics` to the engine's log.
pub async fn run_with_metrics(
    listener: TcpListener,
    engine: Arc<Engine>,
    config: ServerConfig,
    metrics: Arc<metrics::Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    engine.observe_log(metrics.clone());
    let app = Arc::new(App::new(engine, config, metrics));
    let slots = Arc::new(Semaphore::new(app.config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(app.config.header_read_timeout)
        .keep_alive(true);
    let header_limit = app.config.header_read_timeout;
    let upkeep = tokio::spawn(upkeep(app.clone()));
    let outbound = outbound::OutboundClient::new(
        app.config.outbound.clone(),
        app.engine.shared_clock(),
        app.config.outbound_tls.clone(),
    );
    app.engine
        .attach_remote_wallets(Arc::new(remote_wallets::HttpRemoteWallets::new(Arc::new(
            outbound,
        ))));
    let retries = tokio::spawn(seamless_retries(app.clone()));
    let sender = webhooks::Sender::new(
        app.config.webhooks.clone(),
        app.engine.shared_clock(),
        app.config.outbound_tls.clone(),
    );
    let deliveries = tokio::spawn(webhooks::deliveries(app.engine.clone(), Arc::new(sender)));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let Some(stream) = next_connection(&listener, shutdown.as_mut()).await else {
            break;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = app.config.tls.clone();
        let service = service_fn(move |req| handle(app.clone(), req));
        match tls {
            None => {
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    let _ = conn.await;
                    drop(slot);
                });
            }
            Some(tls) => {
                // The handshake runs in the connection's task, bounded like a
                // request's head; the connection is watched for the drain once it is up.
                let (watcher, http) = (graceful.watcher(), http.clone());
                let handshake_limit = header_limit;
                tokio::spawn(async move {
                    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                    let accepted =
                        tokio::time::timeout(handshake_limit, acceptor.accept(stream)).await;
                    if let Ok(Ok(stream)) = accepted {
                        let conn = http.serve_connection(TokioIo::new(stream), service);
                        let _ = watcher.watch(conn).await;
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    upkeep.abort();
    retries.abort();
    deliveries.abort();
    let drain = app.config.drain_timeout;
    let _ = tokio::time::timeout(drain, graceful.shutdown()).await;
}

/// Answers one request, counts it, logs one line for it and gives it an
/// `X-Request-Id`.
async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = std::time::Instant::now();
    let route = route_label(req.uri().path());
    let operator = operator_label(req.headers());
    let (mut response, code) = answer(&app, req).await;
    let elapsed = started.elapsed();
    app.metrics.request(route, code, elapsed);
    let request_id = app.request_ids.next();
    if let Ok(value) = hyper::header::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    tracing::info!(
        target: "pitboss::request",
        route,
        operator = %operator,
        code,
        status = response.status().as_u16(),
        latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        request_id = %request_id,
    );
    Ok(response)
}

const REQUEST_ID: hyper::header::HeaderName =
    hyper::header::HeaderName::from_static("x-request-id");

/// Every endpoint the server speaks, (method, path), from the tables its dispatch
/// uses: what `docs/openapi.json` must describe, no more and no less.
pub fn endpoints() -> Vec<(hyper::Method, &'static str)> {
    use hyper::Method;
    let mut out: Vec<(Method, &'static str)> = routes::endpoints().collect();
    for path in [gate::GET_BALANCE, gate::BET, gate::WIN, gate::REFUND] {
        out.push((Method::POST, path));
    }
    for path in [
        bank::BALANCE,
        bank::DEPOSIT,
        bank::WITHDRAW,
        bank::SINGLE_TRANSACTION,
    ] {
        out.push((Method::POST, path));
    }
    for (path, methods) in admin::ROUTES {
        out.extend(methods.iter().map(|m| (m.clone(), *path)));
    }
    out.push((Method::POST, admin::CLI_LOGIN));
    for path in [metrics::HEALTH, metrics::METRICS, OPENAPI, CONSOLE] {
        out.push((Method::GET, path));
    }
    out
}

/// The OpenAPI 3.1 description of every endpoint, served at [`OPENAPI`].
pub const OPENAPI_JSON: &str = include_str!("../../docs/openapi.json");
pub const OPENAPI: &str = "/openapi.json";

/// The operator console (read-only HTML and JS, no build step, no CDN).
pub const CONSOLE: &str = "/console";
const CONSOLE_HTML: &str = include_str!("console.html");

/// The route a path is counted and logged under: one of the server's own paths, so
/// that labels stay bounded whatever paths clients send.
fn route_label(path: &str) -> &'static str {
    const OWN: [&str; 13] = [
        gate::GET_BALANCE,
        gate::BET,
        gate::WIN,
        gate::REFUND,
        bank::BALANCE,
        bank::DEPOSIT,
        bank::WITHDRAW,
        bank::SINGLE_TRANSACTION,
        admin::CLI_LOGIN,
        metrics::HEALTH,
        metrics::METRICS,
        OPENAPI,
        CONSOLE,
    ];
    if let Some(own) = OWN.iter().find(|p| **p == path) {
        return own;
    }
    if path.starts_with("/admin/") {
        return "/admin";
    }
    routes::known_path(path).unwrap_or("other")
}

/// Who a request says it comes from, for its log line: the platform API's
/// `X-Client-ID` or the bank API's `X-API-Key` (both public identifiers, never a
/// secret), else `-` (a gate request names its operator inside the signed body).
fn operator_label(headers: &hyper::HeaderMap) -> String {
    [auth::CLIENT_ID_NAME, bank::sign::API_KEY]
        .iter()
        .find_map(|name| headers.get(name))
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .unwrap_or("-")
        .to_owned()
}

/// The answer to one request and its API code (0, or the dialect's success code,
/// when it succeeded).
async fn answer(app: &App, req: Request<Incoming>) -> (Response<Full<Bytes>>, i64) {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    // The wallet APIs answer in their own envelopes, even when the body is refused.
    if let Some(op) = gate::operation_of(path) {
        let body = read_body(body, &app.config).await;
        let body = body.map_err(|e| e.status);
        return gate::dispatch(app, op, &parts.method, body).await;
    }
    if let Some(call) = bank::call_of(path) {
        let body = read_body(body, &app.config).await;
        let body = body.map_err(|e| e.status);
        let (method, headers) = (&parts.method, &parts.headers);
        return bank::dispatch(app, call, path, method, headers, body).await;
    }
    if parts.method == hyper::Method::GET && (path == OPENAPI || path == CONSOLE) {
        let (text, kind) = if path == OPENAPI {
            (OPENAPI_JSON, "application/json")
        } else {
            (CONSOLE_HTML, "text/html; charset=utf-8")
        };
        let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(kind),
        );
        return (response, 0);
    }
    if app.config.metrics_on_main && (path == metrics::HEALTH || path == metrics::METRICS) {
        let answer = observability(&app.engine, &app.metrics, app.started, path);
        return (answer, 0);
    }
    let result: ApiResult = match read_body(body, &app.config).await {
        Err(e) => Err(e),
        Ok(body) if parts.uri.path().starts_with("/admin/") => {
            admin::dispatch(app, &parts, &body).await
        }
        Ok(body) if parts.uri.path() == admin::CLI_LOGIN => {
            admin::cli_login(app, &parts, &body).await
        }
        Ok(body) => routes::dispatch(app, &parts, &body).await,
    };
    let code = match &result {
        Ok(_) => 0,
        Err(e) => i64::from(e.code.code()),
    };
    (envelope::respond(result), code)
}

/// `/health` (200 while the log accepts writes, 503 once it failed closed) or
/// `/metrics`.
fn observability(
    engine: &Engine,
    metrics: &metrics::Metrics,
    started: std::time::Instant,
    path: &str,
) -> Response<Full<Bytes>> {
    if path == metrics::HEALTH {
        let (ok, body) = metrics::health_body(engine, started.elapsed());
        let status = if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return dialect::json_response(status, body);
    }
    let text = metrics.render(engine);
    let mut response = Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Why a request's body was refused, from the status `read_body` gave it (for the
/// wallet dialects, which answer in their own envelopes).
fn body_refusal(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large",
        StatusCode::REQUEST_TIMEOUT => "the request body did not arrive in time",
        _ => "the request body could not be read",
    }
}

/// The whole request body, refused once it passes `config.max_body_bytes` or takes
/// longer than `config.body_read_timeout` to arrive.
async fn read_body(body: Incoming, config: &ServerConfig) -> Result<Bytes, ApiError> {
    let limit = config.body_read_timeout;
    match tokio::time::timeout(limit, read_frames(body, config.max_body_bytes)).await {
        Ok(read) => read,
        Err(_) => Err(ApiError::invalid(format!(
            "the request body did not arrive within {} s",
            limit.as_secs()
        ))
        .with_status(StatusCode::REQUEST_TIMEOUT)),
    }
}

/// The whole request body, refused once it passes `limit` bytes. A body that arrives
/// in one frame (the usual case) is handed on as it is: no list of frames, no copy.
async fn read_frames(mut body: Incoming, limit: usize) -> Result<Bytes, ApiError> {
    let mut first = Bytes::new();
    // Only bodies of several frames are copied into one buffer.
    let mut joined: Option<Vec<u8>> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::invalid("could not read the request body"))?;
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers: not part of the body
        };
        let so_far = joined.as_ref().map_or(first.len(), Vec::len);
        if so_far.saturating_add(chunk.len()) > limit {
            return Err(ApiError::new(
                ErrorCode::LimitExceeded,
                format!("request body larger than {limit} bytes"),
            )
            .with_status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        match &mut joined {
            Some(joined) => joined.extend_from_slice(&chunk),
            None if first.is_empty() => first = chunk,
            None => joined = Some([&first[..], &chunk[..]].concat()),
        }
    }
    let body = joined.map_or(first, Bytes::from);
    debug_assert!(body.len() <= limit);
    Ok(body)
}

/// The next connection, or `None` once `shutdown` resolves. An accept that fails
/// (out of file descriptors and the like) backs off and tries again: keep serving.
async fn next_connection(
    listener: &TcpListener,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Option<tokio::net::TcpStream> {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => return Some(stream),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            () = &mut shutdown => return None,
        }
    }
}

/// Serves only `/health` and `/metrics` on `listener` (`serve --metrics-listen`),
/// until `shutdown` resolves.
pub async fn run_metrics_listener(
    listener: TcpListener,
    engine: Arc<Engine>,
    metrics: Arc<metrics::Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let started = std::time::Instant::now();
    tokio::pin!(shutdown);
    while let Some(stream) = next_connection(&listener, shutdown.as_mut()).await {
        let (engine, metrics) = (engine.clone(), metrics.clone());
        let service = service_fn(move |req: Request<Incoming>| {
            let path = req.uri().path().to_owned();
            let response = if path == metrics::HEALTH || path == metrics::METRICS {
                observability(&engine, &metrics, started, &path)
            } else {
                envelope::respond(Err(ApiError::new(
                    ErrorCode::NotFound,
                    format!("no endpoint {path} here: /health and /metrics only"),
                )))
            };
            async move { Ok::<_, Infallible>(response) }
        });
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The retry driver of seamless calls: every interval, starts the calls that are due
/// (a bounded number), each on its own task. An attempt's own time limit bounds each
/// task; the per-operator bound of the outbound client bounds how many call at once.
async fn seamless_retries(app: Arc<App>) {
    let mut tick = tokio::time::interval(app.config.seamless_retry_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for call in app
            .engine
            .seamless_due(app.config.seamless_retries_per_tick)
        {
            let engine = app.engine.clone();
            tokio::spawn(async move { engine.seamless_attempt(call).await });
        }
    }
}

/// Periodic upkeep: expires rounds past their time-out (on the blocking pool: it
/// waits for durability) and forgets expired nonces.
async fn upkeep(app: Arc<App>) {
    let mut tick = tokio::time::interval(app.config.upkeep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let engine = app.engine.clone();
        // Both block on the log: they run on the blocking pool, never on a worker.
        let done = tokio::task::spawn_blocking(move || {
            (
                engine.expire_stale_rounds().err(),
                engine.tick_tournaments().err(),
            )
        });
        match done.await {
            Ok((expiry, tournaments)) => {
                if let Some(e) = expiry {
                    eprintln!("pitboss: expiring stale rounds failed: {e}");
                }
                if let Some(e) = tournaments {
                    eprintln!("pitboss: paying tournament prizes failed: {e}");
                }
            }
            Err(e) => eprintln!("pitboss: the upkeep task failed: {e}"),
        }
        app.nonces.sweep(app.engine.clock().now_secs());
    }
}
