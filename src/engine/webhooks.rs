//! The engine's webhook calls (Publisher Manual §7): subscriptions, `publish`, the
//! failed list and redelivery for operators, and the outbox's side for the sender
//! (the server's delivery task, or an embedder's own).

use super::{Engine, EngineError, Pending};
use crate::ids::ChannelId;
use crate::paging::Page;
use crate::webhooks::event::{EventId, EventName};
use crate::webhooks::{Attempt, Backlog, Delivery, Subscription, SubscriptionId, SubscriptionInfo};
use std::sync::Arc;

impl Engine {
    /// Subscribes `url` (validated by the caller) to `events` of `channel`.
    pub fn subscribe_webhook_pending(
        &self,
        channel: &ChannelId,
        url: String,
        events: Vec<EventName>,
    ) -> Pending<Arc<Subscription>> {
        self.pending(self.domains.webhooks.subscribe(channel, url, events))
    }

    /// Ends every subscription of `channel`; how many ended.
    pub fn unsubscribe_webhooks_pending(&self, channel: &ChannelId) -> Pending<usize> {
        self.pending(self.domains.webhooks.unsubscribe(channel))
    }

    /// Queues an operator's event (its payload a JSON object's text) for its
    /// subscriptions that list it; how many.
    pub fn publish_event_pending(
        &self,
        channel: &ChannelId,
        name: EventName,
        payload: String,
    ) -> Pending<usize> {
        self.pending(self.domains.webhooks.publish(channel, name, payload))
    }

    pub fn webhook_subscriptions(&self, channel: &ChannelId) -> Vec<SubscriptionInfo> {
        self.domains.webhooks.subscriptions(channel)
    }

    /// `channel`'s deliveries whose retries are spent, newest first.
    pub fn failed_deliveries(&self, channel: &ChannelId, page: Page) -> Vec<Delivery> {
        self.domains.webhooks.failed(channel, page)
    }

    /// `channel`'s deliveries still to be made, oldest event first.
    pub fn pending_deliveries(&self, channel: &ChannelId, page: Page) -> Vec<Delivery> {
        self.domains.webhooks.pending(channel, page)
    }

    /// Queues a failed delivery again; how many (one per subscription that had it).
    pub fn redeliver_pending(
        &self,
        channel: &ChannelId,
        sub: Option<SubscriptionId>,
        event: EventId,
    ) -> Pending<usize> {
        self.pending(self.domains.webhooks.redeliver(channel, sub, event))
    }

    /// Up to `limit` deliveries due now (at most `max_in_flight` in flight per
    /// subscription), each in flight until [`webhook_attempted`](Self::webhook_attempted).
    pub fn webhooks_due(
        &self,
        limit: usize,
        max_in_flight: usize,
    ) -> Vec<(Arc<Subscription>, Delivery)> {
        self.domains.webhooks.take_due(
            self.clock.now_ms(),
            self.log.durable_lsn(),
            limit,
            max_in_flight,
        )
    }

    /// The next delivery of `sub` due now, in flight.
    pub fn webhook_next(&self, sub: SubscriptionId) -> Option<Delivery> {
        self.domains
            .webhooks
            .take_next(sub, self.clock.now_ms(), self.log.durable_lsn())
    }

    /// Records an attempt's outcome. Not waited for: the delivery happened already,
    /// and an outcome lost in a crash only means one more delivery after the restart
    /// (deliveries are at least once).
    pub fn webhook_attempted(
        &self,
        sub: SubscriptionId,
        event: EventId,
        attempt: Attempt,
    ) -> Result<(), EngineError> {
        self.domains
            .webhooks
            .attempted(sub, event, attempt)
            .map(|_| ())
            .map_err(EngineError::from)
    }

    /// Totals of the outbox over every subscription.
    pub fn webhook_backlog(&self) -> Backlog {
        self.domains.webhooks.backlog()
    }
}
