//! Webhooks (Publisher Manual §7): operators' subscriptions, the events they are
//! told, and the outbox of deliveries with its retry schedule (docs/webhooks.md;
//! ARCHITECTURE.md, "Webhooks").
//!
//! The log is the outbox. The engine's own events are not written separately: they
//! are derived from the log record of the change that caused them, by one function
//! ([`event::of_wallet_change`], and the tournament news), both when the change is
//! made and when recovery replays it. So an event exists exactly when its change is
//! committed, and its id (the record's log position and the event's index in it) is
//! the same after any number of restarts. An operator's `publish` is a record of its
//! own. Every attempt's outcome is logged (a whole delivery when it is to be retried),
//! so a restart resumes the schedule where it was.
//!
//! This module knows no HTTP: the server sends deliveries and reports each attempt's
//! outcome ([`Attempt`]).
//!
//! Invariants:
//! - a subscription is told only events of its own channel that it lists, caused by
//!   records logged after its own `Subscribed` record;
//! - at most [`WebhookConfig::max_pending_per_subscription`] deliveries wait per
//!   subscription: an event that does not fit is counted as dropped, and the change
//!   that caused it goes on (a subscriber never slows a bet);
//! - a delivery is attempted by one sender at a time; it leaves the outbox when
//!   delivered, exhausted (into the bounded failed list) or when its subscription ends.

pub mod event;
mod outbox;

use crate::clock::Clock;
use crate::ids::{ChannelId, TourneyId};
use crate::journal::{Journal, JournalError, Logged, Lsn};
use crate::ledger::effect::WalletChange;
use crate::ledger::wallet::Wallet;
use crate::ledger::ChangeObserver;
use crate::paging::Page;
use crate::tournaments::tournament::Winner;
use crate::tournaments::TournamentObserver;
use event::{Event, EventBody, EventId, EventName};
use outbox::SubState;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub use outbox::Counters;

/// A subscription's number (`subscriberId`), unique for the life of the data directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SubscriptionId(pub u64);

/// Length of a subscription's signing key.
pub const SECRET_BYTES: usize = 32;

/// A subscription: where its channel's events go, which ones, and the key they are
/// signed with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub channel: ChannelId,
    /// The receiver, as the server validated it.
    pub url: String,
    pub events: Vec<EventName>,
    /// The signing key (the API shows it once, as `whsec_` + base64).
    pub secret: [u8; SECRET_BYTES],
    /// The log position of its `Subscribed` record: only records after it are told.
    pub since: u64,
}

impl Subscription {
    pub fn wants(&self, name: &str) -> bool {
        self.events.iter().any(|e| e.as_str() == name)
    }
}

/// One event on its way to one subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub sub: SubscriptionId,
    pub event: Arc<Event>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (Unix ms).
    pub next_attempt_ms: i64,
    /// The last failed attempt's error ("" before the first).
    pub last_error: String,
}

/// What the outbox logs (ids and positions are explained in the module docs).
// Built once and moved into the log.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookEffect {
    /// A subscription began (its `since` is this record's own position).
    Subscribed(Subscription),
    /// Every subscription of the channel ended; their deliveries are dropped.
    Unsubscribed { channel: ChannelId },
    /// An operator's event, queued for its subscriptions that list it.
    Published {
        channel: ChannelId,
        name: EventName,
        payload: String,
        created_ms: i64,
    },
    /// The receiver acknowledged the event: it leaves the outbox.
    Delivered { sub: SubscriptionId, event: EventId },
    /// An attempt failed: the delivery, whole, with its next attempt time.
    Retrying(Delivery),
    /// The last retry failed: the delivery moves to the failed list.
    Exhausted(Delivery),
    /// The receiver answered `410 Gone`: the subscription ended.
    Gone { sub: SubscriptionId },
    /// An operator asked for a failed delivery again: it is pending anew.
    Redelivered {
        sub: SubscriptionId,
        event: EventId,
        at_ms: i64,
    },
}

/// Limits and the retry schedule.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    pub max_subscriptions_per_channel: usize,
    /// Deliveries waiting per subscription; one more event is dropped and counted.
    pub max_pending_per_subscription: usize,
    /// Exhausted deliveries kept per subscription for listing and redelivery.
    pub max_failed_per_subscription: usize,
    /// The delay before each retry; once all are spent the delivery is exhausted.
    pub retry_delays_ms: Vec<i64>,
    /// Each delay is moved by up to this many per mille either way, so that the
    /// retries of many events do not all land at once.
    pub jitter_per_mille: i64,
    /// Largest `publish` payload.
    pub max_payload_bytes: usize,
}

impl Default for WebhookConfig {
    /// 16 subscriptions per operator; 20,000 waiting deliveries each (some hours of a
    /// busy operator's balance events with its receiver down, a few hundred bytes
    /// each); 1,000 failed kept; retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
    /// 10 h, ±10 % (docs/webhooks.md).
    fn default() -> Self {
        const S: i64 = 1000;
        WebhookConfig {
            max_subscriptions_per_channel: 16,
            max_pending_per_subscription: 20_000,
            max_failed_per_subscription: 1_000,
            retry_delays_ms: vec![
                5 * S,
                300 * S,
                1800 * S,
                7200 * S,
                18000 * S,
                36000 * S,
                36000 * S,
            ],
            jitter_per_mille: 100,
            max_payload_bytes: 16 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    #[error("an operator may have at most {max} subscriptions")]
    TooManySubscriptions { max: usize },
    #[error("the payload is larger than {max} bytes")]
    PayloadTooLarge { max: usize },
    #[error("a subscription must list at least one event")]
    NoEvents,
    #[error("no failed delivery {0}")]
    NoSuchDelivery(String),
    /// A redelivery finds the subscription's outbox full: it stays in the failed list.
    #[error("the subscription has {max} deliveries waiting already; try again later")]
    OutboxFull { max: usize },
    #[error("no secret could be drawn: {0}")]
    Rng(String),
    #[error("storage: {0}")]
    Journal(#[from] JournalError),
}

/// What one delivery attempt came to, as the sender saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// A 2xx within the time limit, with `code` 0 when the body had one.
    Delivered,
    /// Anything else: retried on schedule.
    Failed(String),
    /// `410 Gone`: the receiver wants no more; the subscription ends.
    Gone,
}

/// A subscription as listed to its operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionInfo {
    pub sub: Arc<Subscription>,
    pub pending: usize,
    pub failed: usize,
    pub counters: Counters,
}

/// Totals over every subscription, for operators of the platform.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    pub subscriptions: usize,
    pub pending: usize,
    /// Of the pending, those that failed at least once (retried on schedule).
    pub retrying: usize,
    pub in_flight: usize,
    pub failed: usize,
    pub counters: Counters,
}

/// The outbox as a snapshot holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhooksExport {
    pub subscriptions: Vec<ExportedSubscription>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedSubscription {
    pub sub: Subscription,
    pub pending: Vec<Delivery>,
    pub failed: Vec<Delivery>,
    pub counters: Counters,
}

#[derive(Default)]
struct State {
    subs: BTreeMap<SubscriptionId, SubState>,
    /// Each channel's subscriptions (ended ones too, during replay): a change visits
    /// its own channel's, not every operator's. Kept by `insert_subscription` and
    /// `State::drop_ended`, the only places `subs` gains or loses an entry.
    by_channel: HashMap<ChannelId, Vec<SubscriptionId>>,
    next_sub: u64,
    /// During replay only: deliveries whose outcome is final (delivered, exhausted),
    /// which a record replayed later must not queue again. Cleared when replay ends.
    settled: HashSet<(SubscriptionId, EventId)>,
    replaying: bool,
}

impl State {
    /// `channel`'s subscriptions that have not ended.
    fn of_channel<'a>(&'a self, channel: &'a ChannelId) -> impl Iterator<Item = &'a SubState> {
        self.by_channel
            .get(channel)
            .into_iter()
            .flatten()
            .filter_map(|id| self.subs.get(id))
            .filter(|s| s.until.is_none())
    }

    /// Forgets the subscriptions that ended (and their deliveries).
    fn drop_ended(&mut self) {
        self.subs.retain(|_, s| s.until.is_none());
        let subs = &self.subs;
        self.by_channel.retain(|_, ids| {
            ids.retain(|id| subs.contains_key(id));
            !ids.is_empty()
        });
    }
}

pub struct Webhooks<J> {
    journal: J,
    config: WebhookConfig,
    clock: Arc<dyn Clock>,
    /// Any subscription at all: the one load a bet pays when there is none.
    active: AtomicBool,
    state: Mutex<State>,
    /// Positions for an engine without a log (every record is at position 0 there).
    memory_positions: AtomicU64,
}

impl<J: Journal<WebhookEffect>> Webhooks<J> {
    pub fn new(config: WebhookConfig, clock: Arc<dyn Clock>, journal: J) -> Webhooks<J> {
        Webhooks {
            journal,
            config,
            clock,
            active: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            memory_positions: AtomicU64::new(0),
        }
    }

    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// A record's position as events and subscriptions are ordered by: its log
    /// position, or a counter in an engine without a log.
    fn position(&self, lsn: Lsn) -> u64 {
        if lsn.0 > 0 {
            lsn.0
        } else {
            self.memory_positions.fetch_add(1, Ordering::Relaxed) + 1
        }
    }

    fn refresh_active(&self, state: &State) {
        self.active.store(!state.subs.is_empty(), Ordering::Release);
    }

    /// Subscribes `url` to `events` of `channel` (Publisher Manual §7.1). The URL is
    /// the server's to validate.
    pub fn subscribe(
        &self,
        channel: &ChannelId,
        url: String,
        events: Vec<EventName>,
    ) -> Logged<Arc<Subscription>, WebhookError> {
        if events.is_empty() {
            return Logged::rejected(WebhookError::NoEvents);
        }
        let secret = match crate::identity::secrets::random_bytes::<SECRET_BYTES>() {
            Ok(s) => s,
            Err(e) => return Logged::rejected(WebhookError::Rng(e.to_string())),
        };
        let mut state = self.state.lock();
        let max = self.config.max_subscriptions_per_channel;
        if state.of_channel(channel).count() >= max {
            return Logged::rejected(WebhookError::TooManySubscriptions { max });
        }
        let mut sub = Subscription {
            id: SubscriptionId(state.next_sub.max(1)),
            channel: channel.clone(),
            url,
            events,
            secret,
            since: 0,
        };
        let effect = WebhookEffect::Subscribed(sub.clone());
        // Active before the record is appended: a record appended right after it, by
        // another thread, must not skip `derive` for want of the flag (replay would
        // derive its events, so live and replayed outboxes would differ). Records
        // before it are skipped by `since` anyway.
        self.active.store(true, Ordering::Release);
        let lsn = match self.journal.append(&effect) {
            Ok(lsn) => lsn,
            Err(e) => {
                self.refresh_active(&state);
                return Logged::rejected(e);
            }
        };
        sub.since = self.position(lsn);
        let sub = Arc::new(sub);
        insert_subscription(&mut state, sub.clone());
        self.refresh_active(&state);
        Logged::ok(sub, lsn)
    }

    /// Ends every subscription of `channel` (Publisher Manual §7.2); how many ended.
    pub fn unsubscribe(&self, channel: &ChannelId) -> Logged<usize, WebhookError> {
        let mut state = self.state.lock();
        let ended = state.of_channel(channel).count();
        if ended == 0 {
            return Logged::ok(0, self.journal.appended());
        }
        let effect = WebhookEffect::Unsubscribed {
            channel: channel.clone(),
        };
        let lsn = match self.journal.append(&effect) {
            Ok(lsn) => lsn,
            Err(e) => return Logged::rejected(e),
        };
        for s in state.subs.values_mut() {
            if &s.sub.channel == channel {
                s.until = Some(self.position(lsn));
            }
        }
        state.drop_ended();
        self.refresh_active(&state);
        Logged::ok(ended, lsn)
    }

    /// Queues `payload` (a JSON object's text, validated by the server) as event
    /// `name` for every subscription of `channel` that lists it (Publisher Manual
    /// §7.3); how many. Nothing is logged when none does.
    pub fn publish(
        &self,
        channel: &ChannelId,
        name: EventName,
        payload: String,
    ) -> Logged<usize, WebhookError> {
        let max = self.config.max_payload_bytes;
        if payload.len() > max {
            return Logged::rejected(WebhookError::PayloadTooLarge { max });
        }
        let mut state = self.state.lock();
        if !state
            .of_channel(channel)
            .any(|s| s.sub.wants(name.as_str()))
        {
            return Logged::ok(0, self.journal.appended());
        }
        let created_ms = self.clock.now_ms();
        let effect = WebhookEffect::Published {
            channel: channel.clone(),
            name,
            payload,
            created_ms,
        };
        let lsn = match self.journal.append(&effect) {
            Ok(lsn) => lsn,
            Err(e) => return Logged::rejected(e),
        };
        let position = self.position(lsn);
        let WebhookEffect::Published { name, payload, .. } = effect else {
            return Logged::ok(0, lsn);
        };
        let body = EventBody::Published { name, payload };
        let queued = self.queue(&mut state, channel, position, vec![(0, body)], created_ms);
        Logged::ok(queued, lsn)
    }

    /// Queues a record's events for the subscriptions of `channel` that list them and
    /// began before `position`; how many deliveries were queued.
    fn queue(
        &self,
        state: &mut State,
        channel: &ChannelId,
        position: u64,
        events: Vec<(u32, EventBody)>,
        created_ms: i64,
    ) -> usize {
        let max = self.config.max_pending_per_subscription;
        let mut queued = 0;
        let State {
            subs,
            by_channel,
            settled,
            ..
        } = state;
        let Some(ids) = by_channel.get(channel) else {
            return 0;
        };
        for (index, body) in events {
            let event = Arc::new(Event {
                id: EventId {
                    lsn: position,
                    index,
                },
                created_ms,
                body,
            });
            for id in ids {
                let Some(s) = subs.get_mut(id) else {
                    continue;
                };
                let live = s.until.is_none_or(|until| position < until);
                if !live || s.sub.since >= position || !s.sub.wants(event.body.name()) {
                    continue;
                }
                if settled.contains(&(s.sub.id, event.id)) || s.pending.contains_key(&event.id) {
                    continue;
                }
                if s.pending.len() >= max {
                    s.counters.dropped += 1;
                    continue;
                }
                s.upsert(Delivery {
                    sub: s.sub.id,
                    event: event.clone(),
                    attempts: 0,
                    next_attempt_ms: created_ms,
                    last_error: String::new(),
                });
                queued += 1;
            }
        }
        queued
    }

    /// Whether `channel` has a subscription (the hot path's filter, after one load).
    fn channel_subscribed(&self, state: &State, channel: &ChannelId) -> bool {
        state.by_channel.contains_key(channel)
    }

    /// `channel`'s subscriptions.
    pub fn subscriptions(&self, channel: &ChannelId) -> Vec<SubscriptionInfo> {
        let state = self.state.lock();
        state
            .of_channel(channel)
            .map(|s| SubscriptionInfo {
                sub: s.sub.clone(),
                pending: s.pending.len(),
                failed: s.failed.len(),
                counters: s.counters,
            })
            .collect()
    }

    /// `channel`'s exhausted deliveries, newest first.
    pub fn failed(&self, channel: &ChannelId, page: Page) -> Vec<Delivery> {
        let state = self.state.lock();
        let mut all: Vec<Delivery> = state
            .of_channel(channel)
            .flat_map(|s| s.failed.iter().cloned())
            .collect();
        all.sort_by(|a, b| b.event.id.cmp(&a.event.id).then(a.sub.cmp(&b.sub)));
        page.of(all.into_iter()).collect()
    }

    /// `channel`'s deliveries not yet delivered nor exhausted (waiting or being
    /// attempted), oldest event first.
    pub fn pending(&self, channel: &ChannelId, page: Page) -> Vec<Delivery> {
        let state = self.state.lock();
        let mut all: Vec<Delivery> = state
            .of_channel(channel)
            .flat_map(|s| s.pending.values().cloned())
            .collect();
        all.sort_by(|a, b| a.event.id.cmp(&b.event.id).then(a.sub.cmp(&b.sub)));
        page.of(all.into_iter()).collect()
    }

    /// Puts `channel`'s failed delivery of `event` (to `sub`, or to every
    /// subscription that has it) back in the outbox, due now; how many.
    pub fn redeliver(
        &self,
        channel: &ChannelId,
        sub: Option<SubscriptionId>,
        event: EventId,
    ) -> Logged<usize, WebhookError> {
        let mut state = self.state.lock();
        let targets: Vec<SubscriptionId> = state
            .of_channel(channel)
            .filter(|s| sub.is_none_or(|id| id == s.sub.id))
            .filter(|s| s.failed.iter().any(|d| d.event.id == event))
            .map(|s| s.sub.id)
            .collect();
        if targets.is_empty() {
            return Logged::rejected(WebhookError::NoSuchDelivery(event.to_string()));
        }
        // All or nothing: every target must have room.
        let max = self.config.max_pending_per_subscription;
        if targets
            .iter()
            .any(|id| state.subs.get(id).is_some_and(|s| s.pending.len() >= max))
        {
            return Logged::rejected(WebhookError::OutboxFull { max });
        }
        let at_ms = self.clock.now_ms();
        let mut lsn = Lsn(0);
        for id in &targets {
            let effect = WebhookEffect::Redelivered {
                sub: *id,
                event,
                at_ms,
            };
            lsn = match self.journal.append(&effect) {
                Ok(lsn) => lsn,
                Err(e) => return Logged::rejected(e),
            };
            self.apply(&mut state, lsn, effect);
        }
        Logged::ok(targets.len(), lsn)
    }

    /// Up to `limit` deliveries due at `now_ms` of events whose records are durable
    /// (through `durable`), at most `max_in_flight` per subscription in flight,
    /// each marked in flight until its outcome is reported.
    /// Subscriptions take turns, so a busy one does not starve the others.
    pub fn take_due(
        &self,
        now_ms: i64,
        durable: Lsn,
        limit: usize,
        max_in_flight: usize,
    ) -> Vec<(Arc<Subscription>, Delivery)> {
        if !self.active.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut state = self.state.lock();
        let mut out = Vec::new();
        loop {
            let before = out.len();
            for s in state.subs.values_mut() {
                if out.len() >= limit {
                    return out;
                }
                if s.in_flight() >= max_in_flight {
                    continue;
                }
                if let Some(d) = s.take_due(now_ms, durable.0) {
                    out.push((s.sub.clone(), d));
                }
            }
            if out.len() == before {
                return out;
            }
        }
    }

    /// The next delivery of `sub` due at `now_ms`, marked in flight: a sender that
    /// finished one goes on with the next without waiting for the driver's tick.
    pub fn take_next(&self, sub: SubscriptionId, now_ms: i64, durable: Lsn) -> Option<Delivery> {
        self.state
            .lock()
            .subs
            .get_mut(&sub)?
            .take_due(now_ms, durable.0)
    }

    /// Records the outcome of an attempt at a delivery taken by
    /// [`take_due`](Self::take_due) or [`take_next`](Self::take_next): logged, then
    /// applied. If it cannot be logged the delivery waits again, unchanged.
    pub fn attempted(
        &self,
        sub: SubscriptionId,
        event: EventId,
        attempt: Attempt,
    ) -> Result<Lsn, WebhookError> {
        let mut state = self.state.lock();
        let Some(s) = state.subs.get_mut(&sub) else {
            // The subscription ended meanwhile: nothing left to record.
            return Ok(Lsn(0));
        };
        let Some(current) = s.pending.get(&event) else {
            return Ok(Lsn(0));
        };
        let effect = match attempt {
            Attempt::Delivered => WebhookEffect::Delivered { sub, event },
            Attempt::Gone => WebhookEffect::Gone { sub },
            Attempt::Failed(error) => {
                let mut d = current.clone();
                d.attempts += 1;
                d.last_error = error;
                match self.retry_delay_ms(&d) {
                    Some(delay) => {
                        d.next_attempt_ms = self.clock.now_ms().saturating_add(delay);
                        WebhookEffect::Retrying(d)
                    }
                    None => WebhookEffect::Exhausted(d),
                }
            }
        };
        match self.journal.append(&effect) {
            Ok(lsn) => {
                self.apply(&mut state, lsn, effect);
                self.refresh_active(&state);
                Ok(lsn)
            }
            Err(e) => {
                if let Some(s) = state.subs.get_mut(&sub) {
                    s.put_back(event);
                }
                Err(e.into())
            }
        }
    }

    /// The delay before the next attempt of `d` (whose `attempts` failed so far), or
    /// `None` when the schedule is spent. The jitter is a function of the delivery,
    /// so the schedule is reproducible (the time it gives is logged anyway).
    fn retry_delay_ms(&self, d: &Delivery) -> Option<i64> {
        let step = usize::try_from(d.attempts).ok()?.checked_sub(1)?;
        let base = *self.config.retry_delays_ms.get(step)?;
        let spread = base / 1000 * self.config.jitter_per_mille;
        if spread <= 0 {
            return Some(base);
        }
        let seed = d.event.id.lsn
            ^ (u64::from(d.event.id.index) << 40)
            ^ (d.sub.0 << 20)
            ^ u64::from(d.attempts);
        let r = splitmix64(seed) % (2 * spread as u64 + 1);
        Some(base - spread + r as i64)
    }

    /// Totals over every subscription.
    pub fn backlog(&self) -> Backlog {
        let state = self.state.lock();
        let mut b = Backlog::default();
        for s in state.subs.values() {
            b.subscriptions += 1;
            b.pending += s.pending.len();
            b.retrying += s.pending.values().filter(|d| d.attempts > 0).count();
            b.in_flight += s.in_flight();
            b.failed += s.failed.len();
            b.counters.delivered += s.counters.delivered;
            b.counters.exhausted += s.counters.exhausted;
            b.counters.dropped += s.counters.dropped;
            b.counters.forgotten += s.counters.forgotten;
        }
        b
    }

    /// Applies a logged effect at position `lsn` (live, after it was logged; or
    /// replayed). Idempotent, and indifferent to the order in which it meets the
    /// events that parallel replay derives (see `settled`).
    fn apply(&self, state: &mut State, lsn: Lsn, effect: WebhookEffect) {
        let max_failed = self.config.max_failed_per_subscription;
        match effect {
            WebhookEffect::Subscribed(mut sub) => {
                sub.since = self.position(lsn);
                if !state.subs.contains_key(&sub.id) {
                    insert_subscription(state, Arc::new(sub));
                }
            }
            WebhookEffect::Unsubscribed { channel } => {
                let position = self.position(lsn);
                for s in state.subs.values_mut() {
                    if s.sub.channel == channel && s.until.is_none() {
                        s.until = Some(position);
                    }
                }
                if !state.replaying {
                    state.drop_ended();
                }
            }
            WebhookEffect::Published {
                channel,
                name,
                payload,
                created_ms,
            } => {
                let position = self.position(lsn);
                let body = EventBody::Published { name, payload };
                self.queue(state, &channel, position, vec![(0, body)], created_ms);
            }
            WebhookEffect::Delivered { sub, event } => {
                if state.replaying {
                    state.settled.insert((sub, event));
                }
                if let Some(s) = state.subs.get_mut(&sub) {
                    if s.remove(event).is_some() {
                        s.counters.delivered += 1;
                    }
                }
            }
            WebhookEffect::Retrying(d) => {
                let settled = state.settled.contains(&(d.sub, d.event.id));
                if let (false, Some(s)) = (settled, state.subs.get_mut(&d.sub)) {
                    s.land(d.event.id);
                    s.upsert(d);
                }
            }
            WebhookEffect::Exhausted(d) => {
                if state.replaying {
                    state.settled.insert((d.sub, d.event.id));
                }
                if let Some(s) = state.subs.get_mut(&d.sub) {
                    s.remove(d.event.id);
                    s.counters.exhausted += 1;
                    s.push_failed(d, max_failed);
                }
            }
            WebhookEffect::Gone { sub } => {
                let position = self.position(lsn);
                if let Some(s) = state.subs.get_mut(&sub) {
                    s.until = Some(position);
                }
                if !state.replaying {
                    state.drop_ended();
                }
            }
            WebhookEffect::Redelivered { sub, event, at_ms } => {
                state.settled.remove(&(sub, event));
                if let Some(s) = state.subs.get_mut(&sub) {
                    if let Some(mut d) = s.take_failed(event) {
                        d.attempts = 0;
                        d.next_attempt_ms = at_ms;
                        d.last_error.clear();
                        // A fresh start: it must replace whatever older state is kept.
                        s.remove(event);
                        s.upsert(d);
                    }
                }
            }
        }
    }

    /// Applies a logged effect during recovery.
    pub fn replay(&self, lsn: Lsn, effect: WebhookEffect) {
        let mut state = self.state.lock();
        state.replaying = true;
        self.apply(&mut state, lsn, effect);
        self.refresh_active(&state);
    }

    /// Marks the start of recovery: until [`finish_replay`](Self::finish_replay),
    /// ended subscriptions are kept (records before their end still derive events
    /// for them) and final outcomes are remembered.
    pub fn begin_replay(&self) {
        self.state.lock().replaying = true;
    }

    /// Ends recovery: drops what ended and forgets the replay's bookkeeping.
    pub fn finish_replay(&self) {
        let mut state = self.state.lock();
        state.replaying = false;
        state.settled = HashSet::new();
        state.drop_ended();
        self.refresh_active(&state);
    }

    /// The outbox for a snapshot (in-flight deliveries as waiting ones).
    pub fn export(&self) -> WebhooksExport {
        let state = self.state.lock();
        WebhooksExport {
            subscriptions: state
                .subs
                .values()
                .filter(|s| s.until.is_none())
                .map(|s| ExportedSubscription {
                    sub: (*s.sub).clone(),
                    pending: s.pending_deliveries(),
                    failed: s.failed.iter().cloned().collect(),
                    counters: s.counters,
                })
                .collect(),
        }
    }

    /// Loads a snapshot's outbox (before the log after it is replayed).
    pub fn import(&self, export: WebhooksExport) {
        let mut state = self.state.lock();
        for e in export.subscriptions {
            let sub = Arc::new(e.sub);
            insert_subscription(&mut state, sub.clone());
            if let Some(s) = state.subs.get_mut(&sub.id) {
                for d in e.pending {
                    s.upsert(d);
                }
                s.failed = e.failed.into();
                s.counters = e.counters;
            }
        }
        self.refresh_active(&state);
    }

    /// Queues the events of a record (a wallet change, tournament news) if its
    /// channel has a subscription: the observers' common path.
    fn derive(
        &self,
        lsn: Lsn,
        channel: &ChannelId,
        events: impl FnOnce() -> Vec<(u32, EventBody)>,
    ) {
        if !self.active.load(Ordering::Acquire) {
            return;
        }
        let mut state = self.state.lock();
        if !self.channel_subscribed(&state, channel) {
            return;
        }
        let events = events();
        if events.is_empty() {
            return;
        }
        let position = self.position(lsn);
        let now = self.clock.now_ms();
        self.queue(&mut state, channel, position, events, now);
    }
}

fn insert_subscription(state: &mut State, sub: Arc<Subscription>) {
    state.next_sub = state.next_sub.max(sub.id.0 + 1);
    if state.subs.contains_key(&sub.id) {
        return;
    }
    state
        .by_channel
        .entry(sub.channel.clone())
        .or_default()
        .push(sub.id);
    state.subs.insert(sub.id, SubState::new(sub));
}

/// A well-mixed 64-bit hash (SplitMix64's finalizer): the retry jitter.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl<J: Journal<WebhookEffect>> ChangeObserver for Webhooks<J> {
    fn wallet_changing(&self, lsn: Lsn, before: &Wallet, change: &WalletChange) {
        self.derive(lsn, &before.key.channel, || {
            event::of_wallet_change(before, change)
        });
    }
}

impl<J: Journal<WebhookEffect>> TournamentObserver for Webhooks<J> {
    fn round_ended(
        &self,
        lsn: Lsn,
        channel: &ChannelId,
        tourney: &TourneyId,
        round: u32,
        winners: &[Winner],
    ) {
        self.derive(lsn, channel, || {
            vec![(
                0,
                EventBody::TournamentRoundEnded {
                    tourney: tourney.clone(),
                    round,
                    winners: winners.to_vec(),
                },
            )]
        });
    }

    fn prize_paid(
        &self,
        lsn: Lsn,
        channel: &ChannelId,
        tourney: &TourneyId,
        round: u32,
        winner: &Winner,
    ) {
        self.derive(lsn, channel, || {
            vec![(
                0,
                EventBody::PrizePaid {
                    tourney: tourney.clone(),
                    round,
                    winner: winner.clone(),
                },
            )]
        });
    }
}

#[cfg(test)]
mod tests;
