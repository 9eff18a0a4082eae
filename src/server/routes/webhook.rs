//! Webhook endpoints (Publisher Manual §7, under `/service/webhook/`): subscribe,
//! unsubscribe and publish as the manual gives them, and three of our own that an
//! operator needs to run them: the subscription list, the failed deliveries and
//! redelivery (docs/webhooks.md). Everything is the caller's channel's only.

use super::{page, PageBody};
use crate::identity::types::Operator;
use crate::server::envelope::{data, ApiError, ApiResult};
use crate::server::iso8601::iso8601;
use crate::server::request::{json, json_or_default, parse_id};
use crate::server::webhooks::{parse_url, resolve, secret_text};
use crate::server::App;
use crate::webhooks::event::{EventId, EventName};
use crate::webhooks::SubscriptionId;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct SubscribeBody {
    url: String,
    events: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubscribeOut {
    subscriber_id: u64,
    /// Shown once: the key deliveries are signed with.
    secret: String,
}

/// Publisher Manual §7.1. The URL's host must resolve to public addresses only,
/// unless the server allows private ones.
pub async fn subscribe(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: SubscribeBody = json(body)?;
    let receiver = parse_url(&body.url).map_err(ApiError::invalid)?;
    let mut events = Vec::with_capacity(body.events.len());
    for e in &body.events {
        let name = parse_id("events", e, EventName::new)?;
        if !events.contains(&name) {
            events.push(name);
        }
    }
    // Resolving takes a round trip: last, once everything else is known to be good.
    resolve(&receiver, app.config.webhooks.allow_private)
        .await
        .map_err(ApiError::invalid)?;
    let sub = app
        .engine
        .subscribe_webhook_pending(&op.channel, body.url, events)
        .await?;
    data(&SubscribeOut {
        subscriber_id: sub.id.0,
        secret: secret_text(&sub.secret),
    })
}

#[derive(Serialize)]
struct CountOut {
    count: usize,
}

/// Publisher Manual §7.2: ends every subscription of the caller.
pub async fn unsubscribe(app: &App, op: &Operator) -> ApiResult {
    let count = app.engine.unsubscribe_webhooks_pending(&op.channel).await?;
    data(&CountOut { count })
}

#[derive(Deserialize)]
struct PublishBody<'a> {
    event: String,
    #[serde(borrow)]
    payload: &'a RawValue,
}

/// Publisher Manual §7.3: the payload must be a JSON object; it is delivered as sent.
pub async fn publish(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: PublishBody = json(body)?;
    let name = parse_id("event", &body.event, EventName::new)?;
    let payload = body.payload.get();
    if !payload.trim_start().starts_with('{') {
        return Err(ApiError::invalid("payload must be a JSON object"));
    }
    let count = app
        .engine
        .publish_event_pending(&op.channel, name, payload.to_string())
        .await?;
    data(&CountOut { count })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionOut<'a> {
    subscriber_id: u64,
    url: &'a str,
    events: Vec<&'a str>,
    pending: usize,
    failed: usize,
    delivered: u64,
    exhausted: u64,
    dropped: u64,
}

#[derive(Serialize)]
struct ListOut<T> {
    list: Vec<T>,
}

/// The caller's subscriptions with their outbox counts.
pub fn list(app: &App, op: &Operator) -> ApiResult {
    let subs = app.engine.webhook_subscriptions(&op.channel);
    let list = subs
        .iter()
        .map(|s| SubscriptionOut {
            subscriber_id: s.sub.id.0,
            url: &s.sub.url,
            events: s.sub.events.iter().map(EventName::as_str).collect(),
            pending: s.pending,
            failed: s.failed,
            delivered: s.counters.delivered,
            exhausted: s.counters.exhausted,
            dropped: s.counters.dropped,
        })
        .collect();
    data(&ListOut { list })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FailedOut {
    subscriber_id: u64,
    event_id: String,
    event: String,
    created_at: String,
    attempts: u32,
    last_error: String,
}

/// The caller's deliveries whose retries are spent, newest first.
pub fn failed(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: PageBody = json_or_default(body)?;
    let page = page(body.offset, body.limit)?;
    let list = app
        .engine
        .failed_deliveries(&op.channel, page)
        .into_iter()
        .map(|d| FailedOut {
            subscriber_id: d.sub.0,
            event_id: d.event.id.to_string(),
            event: d.event.body.name().to_string(),
            created_at: iso8601(d.event.created_ms),
            attempts: d.attempts,
            last_error: d.last_error,
        })
        .collect();
    data(&ListOut { list })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RedeliverBody {
    event_id: String,
    subscriber_id: Option<u64>,
}

/// Puts a failed delivery back in the outbox, due now.
pub async fn redeliver(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: RedeliverBody = json(body)?;
    let event: EventId = body
        .event_id
        .parse()
        .map_err(|()| ApiError::invalid("eventId: not an event id (evt_<n>_<n>)"))?;
    let count = app
        .engine
        .redeliver_pending(&op.channel, body.subscriber_id.map(SubscriptionId), event)
        .await?;
    data(&CountOut { count })
}
