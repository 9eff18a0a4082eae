//! `/health` and `/metrics` (Prometheus text exposition), and the request ids every
//! answer carries. Registries are values (prometheus-client), so each server has its
//! own.
//!
//! Every label is bounded: a route is one of the server's own paths (any other path
//! is `other`, every admin path `/admin`), a code one of the APIs' codes.

use crate::engine::{Engine, EngineStatus};
use crate::storage::SyncObserver;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub const HEALTH: &str = "/health";
pub const METRICS: &str = "/metrics";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    /// The API's own code: the envelope's `code`, the gate or bank dialect's code.
    code: i64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 50 µs to ~1.6 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// Every metric the server exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<RouteLabels>,
    fsync_seconds: Histogram,
    group_commit_records: Histogram,
    gauges: Gauges,
    /// The log writer, whose dropped lines are counted (set by `pitboss serve`).
    log_dropped: std::sync::OnceLock<super::log_writer::BatchedStdout>,
}

#[derive(Debug, Default)]
struct Gauges {
    up: Gauge,
    appended_lsn: Gauge,
    durable_lsn: Gauge,
    wallets: Gauge,
    open_rounds: Gauge,
    incomplete_games: Gauge,
    seamless_unfinished: Gauge,
    seamless_retrying: Gauge,
    webhook_retrying: Gauge,
    webhook_subscriptions: Gauge,
    webhook_pending: Gauge,
    webhook_in_flight: Gauge,
    webhook_failed: Gauge,
    webhook_delivered: Gauge,
    webhook_exhausted: Gauge,
    webhook_dropped: Gauge,
    snapshot_age_seconds: Gauge,
    log_lines_dropped: Gauge,
    history_archived_lsn: Gauge,
    history_archiver_lag: Gauge,
    history_evicted_transactions: Gauge,
    history_evicted_records: Gauge,
    history_disk_bytes: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("pitboss");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by route and the API's code",
            requests.clone(),
        );
        let latency: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "request_seconds",
            "Time from a request's head to its answer, by route",
            latency.clone(),
        );
        let fsync_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        registry.register(
            "log_fsync_seconds",
            "Time the log's fsync of one batch took",
            fsync_seconds.clone(),
        );
        let group_commit_records = Histogram::new(exponential_buckets(1.0, 2.0, 14));
        registry.register(
            "log_group_commit_records",
            "Records made durable together (one fsync)",
            group_commit_records.clone(),
        );
        let gauges = Gauges::default();
        let g = &gauges;
        let gauge_list: [(&str, &str, &Gauge); 23] = [
            (
                "up",
                "1 while the log accepts writes, 0 once it failed closed",
                &g.up,
            ),
            (
                "log_appended_lsn",
                "Position of the newest record appended",
                &g.appended_lsn,
            ),
            (
                "log_durable_lsn",
                "Position up to which the log is durable",
                &g.durable_lsn,
            ),
            ("wallets", "Wallets ever opened", &g.wallets),
            (
                "open_rounds",
                "Rounds in progress (status 2)",
                &g.open_rounds,
            ),
            (
                "incomplete_games",
                "Rounds of status 3 or 4",
                &g.incomplete_games,
            ),
            (
                "seamless_unfinished_calls",
                "Calls to operators' wallets not yet final",
                &g.seamless_unfinished,
            ),
            (
                "seamless_retrying_calls",
                "Unfinished calls to operators' wallets that failed at least once",
                &g.seamless_retrying,
            ),
            (
                "webhook_retrying",
                "Webhook deliveries waiting after a failed attempt",
                &g.webhook_retrying,
            ),
            (
                "webhook_subscriptions",
                "Webhook subscriptions",
                &g.webhook_subscriptions,
            ),
            (
                "webhook_pending",
                "Webhook deliveries waiting or being attempted",
                &g.webhook_pending,
            ),
            (
                "webhook_in_flight",
                "Webhook deliveries being attempted",
                &g.webhook_in_flight,
            ),
            (
                "webhook_failed",
                "Webhook deliveries whose retries are spent (kept for redelivery)",
                &g.webhook_failed,
            ),
            (
                "webhook_delivered",
                "Webhook deliveries made since start-up or the last snapshot's count",
                &g.webhook_delivered,
            ),
            (
                "webhook_exhausted",
                "Webhook deliveries that spent their retries",
                &g.webhook_exhausted,
            ),
            (
                "webhook_dropped",
                "Webhook events dropped because a subscription's outbox was full",
                &g.webhook_dropped,
            ),
            (
                "snapshot_age_seconds",
                "Since the last snapshot was written or loaded (-1: none)",
                &g.snapshot_age_seconds,
            ),
            (
                "log_lines_dropped",
                "Log lines dropped because the log writer's queue was full",
                &g.log_lines_dropped,
            ),
            (
                "history_archived_lsn",
                "Log position the history store is durable through (-1: no store)",
                &g.history_archived_lsn,
            ),
            (
                "history_archiver_lag",
                "Durable log records the history archiver has not stored yet",
                &g.history_archiver_lag,
            ),
            (
                "history_evicted_transactions",
                "Transaction entries that left memory for the history store since start-up",
                &g.history_evicted_transactions,
            ),
            (
                "history_evicted_records",
                "Game records that left memory for the history store since start-up",
                &g.history_evicted_records,
            ),
            (
                "history_disk_bytes",
                "Size of the history store on disk",
                &g.history_disk_bytes,
            ),
        ];
        for (name, help, gauge) in gauge_list {
            registry.register(name, help, gauge.clone());
        }
        Metrics {
            registry,
            requests,
            latency,
            fsync_seconds,
            group_commit_records,
            gauges,
            log_dropped: std::sync::OnceLock::new(),
        }
    }

    /// Exports the log writer's count of dropped lines.
    pub fn count_dropped_log_lines(&self, counter: super::log_writer::BatchedStdout) {
        let _ = self.log_dropped.set(counter);
    }

    /// Counts one answered request.
    pub fn request(&self, route: &'static str, code: i64, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels { route, code })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition text, with the engine's gauges read now.
    pub fn render(&self, engine: &Engine) -> String {
        self.set_gauges(&engine.status());
        let mut out = String::with_capacity(8 * 1024);
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    fn set_gauges(&self, s: &EngineStatus) {
        let g = &self.gauges;
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        g.up.set(i64::from(s.failure.is_none()));
        g.appended_lsn.set(n(s.appended_lsn.0));
        g.durable_lsn.set(n(s.durable_lsn.0));
        g.wallets.set(n(s.wallets));
        g.open_rounds.set(n(s.open_rounds));
        g.incomplete_games.set(n(s.incomplete_games));
        g.seamless_unfinished.set(n(s.seamless_unfinished as u64));
        g.seamless_retrying.set(n(s.seamless_retrying as u64));
        let w = &s.webhooks;
        g.webhook_subscriptions.set(n(w.subscriptions as u64));
        g.webhook_pending.set(n(w.pending as u64));
        g.webhook_retrying.set(n(w.retrying as u64));
        g.webhook_in_flight.set(n(w.in_flight as u64));
        g.webhook_failed.set(n(w.failed as u64));
        g.webhook_delivered.set(n(w.counters.delivered));
        g.webhook_exhausted.set(n(w.counters.exhausted));
        g.webhook_dropped.set(n(w.counters.dropped));
        g.snapshot_age_seconds
            .set(s.snapshot_age.map_or(-1, |a| n(a.as_secs())));
        if let Some(c) = self.log_dropped.get() {
            g.log_lines_dropped.set(n(c.dropped_lines()));
        }
        let h = s.history.unwrap_or_default();
        let archived = s.history.map_or(-1, |h| n(h.archived_lsn.0));
        g.history_archived_lsn.set(archived);
        g.history_archiver_lag.set(n(h.lag_records));
        g.history_evicted_transactions
            .set(n(h.evicted_transactions));
        g.history_evicted_records.set(n(h.evicted_records));
        g.history_disk_bytes.set(n(h.disk_bytes));
    }
}

impl SyncObserver for Metrics {
    fn batch_durable(&self, records: u64, fsync: Option<Duration>) {
        self.group_commit_records.observe(records as f64);
        if let Some(d) = fsync {
            self.fsync_seconds.observe(d.as_secs_f64());
        }
    }
}

/// `{status, durableLsn, uptimeSeconds}`, and whether the log accepts writes.
pub fn health_body(engine: &Engine, uptime: Duration) -> (bool, Vec<u8>) {
    let (ok, status, lsn) = match engine.health() {
        Ok(lsn) => (true, "ok".to_string(), lsn.0),
        Err(e) => (false, format!("failed: {e}"), engine.status().durable_lsn.0),
    };
    let body = serde_json::json!({
        "status": status,
        "durableLsn": lsn,
        "uptimeSeconds": uptime.as_secs(),
    });
    (ok, body.to_string().into_bytes())
}

/// Request ids: a random prefix per process and a counter, so that ids from two runs
/// of the server do not collide in one log store.
#[derive(Debug)]
pub struct RequestIds {
    prefix: u32,
    next: AtomicU64,
}

impl Default for RequestIds {
    fn default() -> Self {
        let prefix = crate::identity::secrets::random_bytes::<4>()
            .map(u32::from_le_bytes)
            .unwrap_or(0);
        RequestIds {
            prefix,
            next: AtomicU64::new(1),
        }
    }
}

impl RequestIds {
    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-{n:x}", self.prefix)
    }
}
