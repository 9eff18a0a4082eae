//! One subscription's deliveries: pending (waiting for their time, or being attempted)
//! and failed (retries exhausted, kept for listing and redelivery). Pure data; the
//! bounds are the caller's.
//!
//! Invariants:
//! - every pending delivery is either in `due` (waiting, keyed by its next attempt
//!   time) or in `in_flight`, never both;
//! - `failed` holds at most the configured number, oldest first.

use super::event::EventId;
use super::{Delivery, Subscription};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// What became of a subscription's events, for operators and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub delivered: u64,
    /// Retries exhausted (each is in the failed list until pushed out of it).
    pub exhausted: u64,
    /// Not queued: the subscription's outbox was full.
    pub dropped: u64,
    /// Failed deliveries pushed out of the full failed list.
    pub forgotten: u64,
}

pub(super) struct SubState {
    pub sub: Arc<Subscription>,
    /// The log position of the record that ended it (replay keeps ended ones until it
    /// is over: a record before the end still derives events for it).
    pub until: Option<u64>,
    pub pending: HashMap<EventId, Delivery>,
    due: BTreeSet<(i64, EventId)>,
    in_flight: HashSet<EventId>,
    pub failed: VecDeque<Delivery>,
    pub counters: Counters,
}

impl SubState {
    pub fn new(sub: Arc<Subscription>) -> SubState {
        SubState {
            sub,
            until: None,
            pending: HashMap::new(),
            due: BTreeSet::new(),
            in_flight: HashSet::new(),
            failed: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    /// Adds or replaces a pending delivery (a replaced one keeps the larger attempt
    /// count: replay may meet a delivery's states out of order).
    pub fn upsert(&mut self, d: Delivery) {
        let id = d.event.id;
        if let Some(old) = self.pending.get(&id) {
            if old.attempts > d.attempts {
                return;
            }
            self.due.remove(&(old.next_attempt_ms, id));
        }
        if !self.in_flight.contains(&id) {
            self.due.insert((d.next_attempt_ms, id));
        }
        self.pending.insert(id, d);
    }

    pub fn remove(&mut self, id: EventId) -> Option<Delivery> {
        let d = self.pending.remove(&id)?;
        self.due.remove(&(d.next_attempt_ms, id));
        self.in_flight.remove(&id);
        Some(d)
    }

    /// The earliest waiting delivery due at `now_ms` whose event's record is
    /// durable (at or below `durable_lsn`), marked in flight. An event whose record
    /// is not yet durable waits: a crash could still take its change away, and then
    /// the receiver would have been told of a change that never happened. (Such
    /// events are the newest, so they sit at the end of the due order and the scan
    /// past them is short.)
    pub fn take_due(&mut self, now_ms: i64, durable_lsn: u64) -> Option<Delivery> {
        let &(at, id) = self
            .due
            .iter()
            .take_while(|(at, _)| *at <= now_ms)
            .find(|(_, id)| id.lsn <= durable_lsn)?;
        self.due.remove(&(at, id));
        self.in_flight.insert(id);
        self.pending.get(&id).cloned()
    }

    /// A delivery taken by [`take_due`](Self::take_due) is waiting again (its
    /// attempt's outcome could not be logged).
    pub fn put_back(&mut self, id: EventId) {
        if self.in_flight.remove(&id) {
            if let Some(d) = self.pending.get(&id) {
                self.due.insert((d.next_attempt_ms, id));
            }
        }
    }

    /// A delivery's attempt is over (its new state follows by [`upsert`](Self::upsert)).
    pub fn land(&mut self, id: EventId) {
        self.in_flight.remove(&id);
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Keeps an exhausted delivery, pushing the oldest out past `max`.
    pub fn push_failed(&mut self, d: Delivery, max: usize) {
        self.failed.retain(|f| f.event.id != d.event.id);
        self.failed.push_back(d);
        while self.failed.len() > max {
            self.failed.pop_front();
            self.counters.forgotten += 1;
        }
    }

    pub fn take_failed(&mut self, id: EventId) -> Option<Delivery> {
        let at = self.failed.iter().position(|f| f.event.id == id)?;
        self.failed.remove(at)
    }

    /// Every pending delivery, waiting again (a snapshot or restart forgets flights).
    pub fn pending_deliveries(&self) -> Vec<Delivery> {
        let mut out: Vec<Delivery> = self.pending.values().cloned().collect();
        out.sort_by_key(|d| d.event.id);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ChannelId;
    use crate::webhooks::event::{Event, EventBody, EventName};

    fn sub() -> Arc<Subscription> {
        Arc::new(Subscription {
            id: super::super::SubscriptionId(1),
            channel: ChannelId::new("ch").unwrap_or_else(|e| panic!("{e}")),
            url: "http://example.com/".into(),
            events: vec![],
            secret: [0; 32],
            since: 0,
        })
    }

    fn delivery(lsn: u64, attempts: u32, at: i64) -> Delivery {
        Delivery {
            sub: super::super::SubscriptionId(1),
            event: Arc::new(Event {
                id: EventId { lsn, index: 0 },
                created_ms: 0,
                body: EventBody::Published {
                    name: EventName::new("x").unwrap_or_else(|e| panic!("{e}")),
                    payload: "{}".into(),
                },
            }),
            attempts,
            next_attempt_ms: at,
            last_error: String::new(),
        }
    }

    #[test]
    fn due_deliveries_come_out_in_time_order_once() {
        let mut s = SubState::new(sub());
        s.upsert(delivery(1, 0, 30));
        s.upsert(delivery(2, 0, 10));
        s.upsert(delivery(3, 0, 20));
        assert!(s.take_due(5, u64::MAX).is_none());
        let order: Vec<u64> = std::iter::from_fn(|| s.take_due(100, u64::MAX))
            .map(|d| d.event.id.lsn)
            .collect();
        assert_eq!(order, [2, 3, 1]);
        assert_eq!(s.in_flight(), 3);
        // A newer state of an in-flight delivery does not make it waiting twice.
        s.upsert(delivery(2, 1, 50));
        assert!(s.take_due(100, u64::MAX).is_none());
        s.put_back(EventId { lsn: 2, index: 0 });
        assert_eq!(s.take_due(100, u64::MAX).map(|d| d.attempts), Some(1));
    }

    /// An event whose record is not durable yet waits, without holding back the
    /// durable ones behind it.
    #[test]
    fn an_event_waits_for_its_record_to_be_durable() {
        let mut s = SubState::new(sub());
        s.upsert(delivery(7, 0, 10));
        s.upsert(delivery(3, 0, 20));
        assert_eq!(s.take_due(100, 5).map(|d| d.event.id.lsn), Some(3));
        assert!(s.take_due(100, 6).is_none());
        assert_eq!(s.take_due(100, 7).map(|d| d.event.id.lsn), Some(7));
    }

    #[test]
    fn an_older_state_never_replaces_a_newer_one() {
        let mut s = SubState::new(sub());
        s.upsert(delivery(1, 3, 30));
        s.upsert(delivery(1, 0, 0));
        assert_eq!(s.take_due(10, u64::MAX), None);
        assert_eq!(s.take_due(30, u64::MAX).map(|d| d.attempts), Some(3));
    }

    #[test]
    fn the_failed_list_keeps_the_newest() {
        let mut s = SubState::new(sub());
        for lsn in 1..=5 {
            s.push_failed(delivery(lsn, 8, 0), 3);
        }
        let kept: Vec<u64> = s.failed.iter().map(|d| d.event.id.lsn).collect();
        assert_eq!(kept, [3, 4, 5]);
        assert_eq!(s.counters.forgotten, 2);
        assert!(s.take_failed(EventId { lsn: 4, index: 0 }).is_some());
        assert!(s.take_failed(EventId { lsn: 4, index: 0 }).is_none());
    }
}
