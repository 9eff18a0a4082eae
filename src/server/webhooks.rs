//! Sending webhook deliveries (Publisher Manual §7.4; docs/webhooks.md): the body,
//! the Standard Webhooks headers and signature, the guard against server-side request
//! forgery, and the task that drains the engine's outbox.
//!
//! What an attempt's answer means (the engine logs it and keeps the schedule):
//! - a 2xx within [`SenderConfig::timeout`] is delivered, unless its body is JSON with
//!   a `code` other than 0 (Publisher Manual §7.4.4: such a code is a failure);
//! - `410 Gone` ends the subscription;
//! - anything else (another status, a redirect, no answer in time, a broken
//!   connection, a receiver address that is not allowed) is retried on schedule.
//!
//! The guard: a receiver's host is resolved, and an address that is loopback,
//! private, link-local, CGNAT, multicast, unspecified or broadcast is refused, at
//! subscription and again at every connection: the sender's connector resolves through
//! [`GuardedResolver`] and connects only to what it returns, so the address checked is
//! the address connected to, and a name that resolves differently the second time
//! cannot slip through. Redirects are not followed. `serve --webhook-allow-private`
//! lifts the guard. `https` receivers are verified against the system's roots and
//! `serve --ca-file`.

use crate::engine::Engine;
use crate::webhooks::event::{Event, EventBody};
use crate::webhooks::{Attempt, Delivery, Subscription, SubscriptionId, SECRET_BYTES};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::value::RawValue;
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
pub const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
pub const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");

/// Longest receiver URL.
pub const MAX_URL_BYTES: usize = 2048;
/// Most of a receiver's answer that is read (enough for any `{code, message}`).
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// How deliveries are sent.
#[derive(Clone, Debug)]
pub struct SenderConfig {
    /// Receivers at private, loopback and similar addresses are allowed (tests,
    /// on-premises setups). Off by default.
    pub allow_private: bool,
    /// An attempt not answered within this failed (Publisher Manual §7.4.4: 5 s).
    pub timeout: Duration,
    /// Deliveries in flight per subscription: a stalled receiver holds at most
    /// these, and the others' deliveries go on.
    pub max_in_flight_per_subscription: usize,
    /// How often the outbox is looked at for deliveries that are due.
    pub interval: Duration,
    /// Most deliveries started per look (each sender then goes on with its
    /// subscription's next due delivery by itself).
    pub per_tick: usize,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            allow_private: false,
            timeout: Duration::from_secs(5),
            max_in_flight_per_subscription: 32,
            interval: Duration::from_millis(20),
            per_tick: 1024,
        }
    }
}

/// A receiver URL, checked: `http://host[:port]/path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receiver {
    pub host: String,
    pub port: u16,
    pub path_and_query: String,
}

/// Checks a receiver URL's form: `http` or `https`, a host, no credentials.
pub fn parse_url(url: &str) -> Result<Receiver, String> {
    if url.len() > MAX_URL_BYTES {
        return Err(format!("url is longer than {MAX_URL_BYTES} bytes"));
    }
    let uri: Uri = url.parse().map_err(|e| format!("url: {e}"))?;
    let default_port = match uri.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => return Err("url must be an http or https URL".into()),
    };
    let authority = uri.authority().ok_or("url has no host")?;
    if authority.as_str().contains('@') {
        return Err("url must not carry credentials".into());
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err("url has no host".into());
    }
    Ok(Receiver {
        host: host.to_string(),
        port: authority.port_u16().unwrap_or(default_port),
        path_and_query: uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string()),
    })
}

/// True for an address a receiver must not have unless private ones are allowed.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || a == 0
                // CGNAT, 100.64.0.0/10.
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7 and link-local fe80::/10.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// `host`'s addresses, every one allowed, or why not.
async fn allowed_addresses(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    // Any forbidden address refuses the name: a name that mixes them is an attempt
    // to get one through.
    if let Some(bad) = addrs.iter().find(|a| !allow_private && forbidden(a.ip())) {
        return Err(format!(
            "{host} resolves to {}, a private or local address; receivers must be public \
             (serve --webhook-allow-private lifts this)",
            bad.ip()
        ));
    }
    Ok(addrs)
}

/// Checks that `r`'s host resolves to allowed addresses (at subscription).
pub async fn resolve(r: &Receiver, allow_private: bool) -> Result<SocketAddr, String> {
    let addrs = allowed_addresses(&r.host, r.port, allow_private).await?;
    addrs
        .first()
        .copied()
        .ok_or_else(|| format!("{} has no address", r.host))
}

/// The sender's resolver: the connector connects only to the addresses it returns,
/// so the guard checks exactly what is connected to, at every connection.
#[derive(Clone, Copy, Debug)]
pub struct GuardedResolver {
    allow_private: bool,
}

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            // The connector sets the URL's port on what is returned.
            allowed_addresses(name.as_str(), 0, allow_private)
                .await
                .map(Vec::into_iter)
                .map_err(std::io::Error::other)
        })
    }
}

/// A subscription's secret as shown to its operator: `whsec_` + base64.
pub fn secret_text(secret: &[u8; SECRET_BYTES]) -> String {
    format!("whsec_{}", BASE64.encode(secret))
}

/// `v1,` + base64(HMAC-SHA256(secret, id + "." + timestamp + "." + body)).
pub fn signature(secret: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryBody<'a, P: Serialize> {
    subscriber_id: u64,
    event: &'a str,
    created_at: String,
    payload: P,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WinnerOut<'a> {
    rank: u64,
    wallet_id: String,
    user_identity: &'a str,
    amount: i64,
}

impl<'a> From<&'a crate::tournaments::tournament::Winner> for WinnerOut<'a> {
    fn from(w: &'a crate::tournaments::tournament::Winner) -> Self {
        WinnerOut {
            rank: w.rank,
            wallet_id: w.wallet.to_string(),
            user_identity: w.player.as_str(),
            amount: w.amount.minor_units(),
        }
    }
}

/// The payload of an engine event (amounts in minor units, as the platform API's
/// wallet endpoints give them).
fn payload(body: &EventBody) -> serde_json::Value {
    use serde_json::json;
    match body {
        EventBody::Balance {
            wallet,
            key,
            balance,
        } => json!({
            "walletId": wallet.to_string(),
            "userIdentity": key.player.as_str(),
            "currency": key.currency.as_str(),
            "total": balance.total.minor_units(),
            "available": balance.available.minor_units(),
        }),
        EventBody::Transaction {
            wallet,
            key,
            tx,
            kind,
            amount,
            total,
        } => json!({
            "walletId": wallet.to_string(),
            "userIdentity": key.player.as_str(),
            "currency": key.currency.as_str(),
            "transactionId": tx.as_str(),
            "type": format!("{kind:?}").to_lowercase(),
            "amount": amount.minor_units(),
            "total": total.minor_units(),
        }),
        EventBody::RoundIncomplete {
            wallet,
            key,
            round,
            game,
            status,
            error,
        } => json!({
            "walletId": wallet.to_string(),
            "userIdentity": key.player.as_str(),
            "currency": key.currency.as_str(),
            "roundId": round.as_str(),
            "gameId": game.as_str(),
            "gameStatus": status,
            "error": error,
        }),
        EventBody::TournamentRoundEnded {
            tourney,
            round,
            winners,
        } => json!({
            "tournamentId": tourney.as_str(),
            "round": round,
            "winners": winners.iter().map(WinnerOut::from).collect::<Vec<_>>(),
        }),
        EventBody::PrizePaid {
            tourney,
            round,
            winner,
        } => json!({
            "tournamentId": tourney.as_str(),
            "round": round,
            "winner": WinnerOut::from(winner),
        }),
        // Rendered from its own text by `body`.
        EventBody::Published { .. } => serde_json::Value::Null,
    }
}

/// The delivery body of Publisher Manual §7.4.2: `{subscriberId, event, createdAt,
/// payload}`. The same bytes for every attempt of an event.
pub fn body(sub: SubscriptionId, event: &Event) -> Vec<u8> {
    let created_at = crate::server::iso8601::iso8601(event.created_ms);
    let name = event.body.name();
    let rendered = match &event.body {
        EventBody::Published { payload, .. } => {
            // The server checked it is a JSON object when it was published.
            let raw = RawValue::from_string(payload.clone()).ok();
            serde_json::to_vec(&DeliveryBody {
                subscriber_id: sub.0,
                event: name,
                created_at,
                payload: raw,
            })
        }
        other => serde_json::to_vec(&DeliveryBody {
            subscriber_id: sub.0,
            event: name,
            created_at,
            payload: payload(other),
        }),
    };
    rendered.unwrap_or_default()
}

/// Sends deliveries.
pub struct Sender {
    http: Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>,
    config: SenderConfig,
    clock: Arc<dyn crate::clock::Clock>,
}

impl Sender {
    /// A sender trusting `tls` for `https` receivers.
    pub fn new(
        config: SenderConfig,
        clock: Arc<dyn crate::clock::Clock>,
        tls: Arc<rustls::ClientConfig>,
    ) -> Sender {
        let resolver = GuardedResolver {
            allow_private: config.allow_private,
        };
        let mut connector = HttpConnector::new_with_resolver(resolver);
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.timeout));
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(config.max_in_flight_per_subscription.max(1))
            .build(super::tls::https_connector(connector, tls));
        Sender {
            http,
            config,
            clock,
        }
    }

    pub fn config(&self) -> &SenderConfig {
        &self.config
    }

    /// One attempt at `d`: what the receiver's answer means.
    pub async fn attempt(&self, sub: &Subscription, d: &Delivery) -> Attempt {
        let exchange = async {
            let body = body(sub.id, &d.event);
            let id = d.event.id.to_string();
            let timestamp = self.clock.now_secs();
            let signature = signature(&sub.secret, &id, timestamp, &body);
            // The URL as subscribed: the connector's resolver applies the guard, and
            // an https receiver is verified under its own name.
            let request = Request::builder()
                .method(Method::POST)
                .uri(sub.url.as_str())
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .header(WEBHOOK_ID, id)
                .header(WEBHOOK_TIMESTAMP, timestamp)
                .header(WEBHOOK_SIGNATURE, signature)
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| e.to_string())?;
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| format!("transport: {e}"))?;
            let status = response.status().as_u16();
            // An answer cut off or longer than the bound may hide a non-zero code:
            // not a delivery (a retry is safe, the event keeps its id).
            let answer = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .map_err(|e| format!("HTTP {status}, its answer unreadable: {e}"))?;
            Ok::<_, String>((status, answer))
        };
        match tokio::time::timeout(self.config.timeout, exchange).await {
            Err(_) => Attempt::Failed(format!(
                "no answer within {} ms",
                self.config.timeout.as_millis()
            )),
            Ok(Err(e)) => Attempt::Failed(e),
            Ok(Ok((status, answer))) => verdict(status, &answer),
        }
    }

    /// Delivers `d`, then the subscription's next due deliveries, one after another,
    /// until none is due (or the outcome cannot be logged).
    pub async fn work(&self, engine: &Engine, sub: Arc<Subscription>, mut d: Delivery) {
        loop {
            let attempt = self.attempt(&sub, &d).await;
            let gone = attempt == Attempt::Gone;
            if let Err(e) = engine.webhook_attempted(sub.id, d.event.id, attempt) {
                eprintln!("pitboss: a webhook delivery's outcome could not be logged: {e}");
                return;
            }
            if gone {
                return;
            }
            match engine.webhook_next(sub.id) {
                Some(next) => d = next,
                None => return,
            }
        }
    }
}

/// What a receiver's answer means (module docs).
pub fn verdict(status: u16, answer: &[u8]) -> Attempt {
    if status == 410 {
        return Attempt::Gone;
    }
    if !(200..300).contains(&status) {
        return Attempt::Failed(format!("HTTP {status}"));
    }
    let code = serde_json::from_slice::<serde_json::Value>(answer)
        .ok()
        .and_then(|v| v.get("code").cloned());
    match code {
        None => Attempt::Delivered,
        Some(c) if c.as_i64() == Some(0) => Attempt::Delivered,
        Some(c) => Attempt::Failed(format!("HTTP {status} with code {c}")),
    }
}

/// The delivery task: every interval, starts the deliveries that are due, each
/// sender then draining its subscription's due deliveries. Bounded by the per-tick
/// limit and by the in-flight limit per subscription.
pub async fn deliveries(engine: Arc<Engine>, sender: Arc<Sender>) {
    let mut tick = tokio::time::interval(sender.config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let due = engine.webhooks_due(
            sender.config.per_tick,
            sender.config.max_in_flight_per_subscription.max(1),
        );
        for (sub, d) in due {
            let (engine, sender) = (engine.clone(), sender.clone());
            tokio::spawn(async move { sender.work(&engine, sub, d).await });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        let r = parse_url("http://example.com:8080/hook?x=1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.host, "example.com");
        assert_eq!(r.port, 8080);
        assert_eq!(r.path_and_query, "/hook?x=1");
        assert_eq!(parse_url("http://[::1]/").map(|r| r.host), Ok("::1".into()));
        for bad in [
            "ftp://example.com/",
            "example.com",
            "http://user:pw@example.com/",
            &format!("http://example.com/{}", "a".repeat(MAX_URL_BYTES)),
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn private_addresses_are_forbidden() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
        ] {
            let ip: IpAddr = bad.parse().unwrap_or_else(|e| panic!("{bad}: {e}"));
            assert!(forbidden(ip), "{bad}");
        }
        for good in ["8.8.8.8", "100.128.0.1", "2001:4860:4860::8888"] {
            let ip: IpAddr = good.parse().unwrap_or_else(|e| panic!("{good}: {e}"));
            assert!(!forbidden(ip), "{good}");
        }
    }

    /// The Standard Webhooks specification's own example.
    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        let secret = BASE64
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap_or_else(|e| panic!("{e}"));
        let body = br#"{"test": 2432232314}"#;
        let sig = signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn answers_mean_what_the_manual_says() {
        assert_eq!(verdict(200, b""), Attempt::Delivered);
        assert_eq!(verdict(204, b"ok"), Attempt::Delivered);
        assert_eq!(
            verdict(200, br#"{"code":0,"message":"ok"}"#),
            Attempt::Delivered
        );
        assert!(matches!(verdict(200, br#"{"code":7}"#), Attempt::Failed(_)));
        assert!(matches!(verdict(301, b""), Attempt::Failed(_)));
        assert!(matches!(verdict(500, b""), Attempt::Failed(_)));
        assert_eq!(verdict(410, b""), Attempt::Gone);
    }
}
