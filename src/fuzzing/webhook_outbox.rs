//! Fuzz entry point of the webhook outbox: arbitrary bytes as a sequence of
//! subscriptions, publishes, derived events (tournament news, as another domain's
//! record announces them), deliveries and their outcomes, redeliveries and time
//! passing; then the log replayed into a fresh outbox with each derived event applied
//! late, as a replay lane behind the reader applies it. Panics if the replayed outbox
//! differs from the live one, or if a bound is broken.

use super::Bytes;
use crate::clock::{Clock, ManualClock};
use crate::ids::{ChannelId, PlayerId, TourneyId, WalletId};
use crate::journal::{Journal, JournalError, Lsn};
use crate::money::Amount;
use crate::tournaments::tournament::Winner;
use crate::tournaments::TournamentObserver;
use crate::webhooks::event::EventName;
use crate::webhooks::{Attempt, WebhookConfig, WebhookEffect, Webhooks, WebhooksExport};
use parking_lot::Mutex;
use std::sync::Arc;

/// One log record, as the harness keeps them: the outbox's own, or another domain's
/// record that derives a `tournament.round.ended`.
#[derive(Clone)]
enum Record {
    Webhook(WebhookEffect),
    News { channel: ChannelId, round: u32 },
}

/// The harness's log: positions are 1-based indexes.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Record>>>);

impl Journal<WebhookEffect> for Log {
    fn append(&self, effect: &WebhookEffect) -> Result<Lsn, JournalError> {
        let mut records = self.0.lock();
        records.push(Record::Webhook(effect.clone()));
        Ok(Lsn(records.len() as u64))
    }

    fn appended(&self) -> Lsn {
        Lsn(self.0.lock().len() as u64)
    }
}

const OPS: usize = 64;
const CHANNELS: [&str; 2] = ["a", "b"];
const EVENTS: [&str; 2] = ["tournament.round.ended", "order.paid"];

/// Small bounds, so that inputs reach them; `roomy` outboxes never fill, so that runs
/// reach the comparison with replay (a run that dropped an event skips it).
fn config(roomy: bool) -> WebhookConfig {
    WebhookConfig {
        max_subscriptions_per_channel: 3,
        max_pending_per_subscription: if roomy { 1_000 } else { 6 },
        max_failed_per_subscription: 2,
        retry_delays_ms: vec![10, 20],
        ..WebhookConfig::default()
    }
}

/// The outbox with what replay may legitimately differ in left out: counters (a
/// replayed drop or delivery counts again), and times of events derived again (they
/// carry the time they were derived).
fn comparable(mut e: WebhooksExport) -> WebhooksExport {
    for s in &mut e.subscriptions {
        s.counters = Default::default();
        for d in s.pending.iter_mut().chain(s.failed.iter_mut()) {
            let mut event = (*d.event).clone();
            event.created_ms = 0;
            d.event = Arc::new(event);
            if d.attempts == 0 {
                d.next_attempt_ms = 0;
            }
        }
    }
    e
}

pub fn webhook_outbox(data: &[u8]) {
    let roomy = data.first().is_some_and(|b| b & 1 == 1);
    let mut input = Bytes { data };
    let clock = Arc::new(ManualClock::new(1_000_000));
    let log = Log::default();
    let live = Webhooks::new(config(roomy), clock.clone(), log.clone());
    let tourney = TourneyId::random();
    let winners = |round: u32| {
        vec![Winner {
            rank: 1,
            wallet: WalletId(1),
            player: PlayerId::new("p").unwrap_or_else(|_| unreachable!("a valid id")),
            amount: Amount::new(i64::from(round)),
        }]
    };
    let channel = |b: u8| {
        ChannelId::new(CHANNELS[usize::from(b) % CHANNELS.len()])
            .unwrap_or_else(|_| unreachable!("a valid id"))
    };
    let name = |b: u8| {
        EventName::new(EVENTS[usize::from(b) % EVENTS.len()])
            .unwrap_or_else(|_| unreachable!("a valid name"))
    };
    let mut in_flight = Vec::new();
    let mut round = 0u32;
    for _ in 0..OPS {
        let Some(op) = input.byte() else { break };
        let arg = input.byte().unwrap_or(0);
        match op % 8 {
            0 => {
                let events = if arg & 4 == 0 {
                    vec![name(0)]
                } else {
                    vec![name(0), name(1)]
                };
                let _ = live.subscribe(&channel(arg), "http://receiver/".into(), events);
            }
            1 if arg.is_multiple_of(8) => {
                let _ = live.unsubscribe(&channel(arg));
            }
            2 => {
                let _ = live.publish(&channel(arg), name(1), "{}".into());
            }
            3 => {
                // Another domain's record, and the news it announces.
                round += 1;
                let lsn = {
                    let mut records = log.0.lock();
                    records.push(Record::News {
                        channel: channel(arg),
                        round,
                    });
                    Lsn(records.len() as u64)
                };
                live.round_ended(lsn, &channel(arg), &tourney, round, &winners(round));
            }
            4 => in_flight.extend(live.take_due(
                clock.now_ms(),
                Lsn(u64::MAX),
                usize::from(arg % 4) + 1,
                2,
            )),
            5 => {
                if !in_flight.is_empty() {
                    let (sub, d) = in_flight.swap_remove(usize::from(arg) % in_flight.len());
                    let attempt = match arg % 5 {
                        0 | 1 => Attempt::Delivered,
                        2 | 3 => Attempt::Failed("x".into()),
                        _ => Attempt::Gone,
                    };
                    let _ = live.attempted(sub.id, d.event.id, attempt);
                }
            }
            6 => {
                let c = channel(arg);
                let failed = live.failed(&c, crate::paging::Page::first(10));
                if let Some(d) = failed.get(usize::from(arg / 2) % failed.len().max(1)) {
                    let _ = live.redeliver(&c, Some(d.sub), d.event.id);
                }
            }
            _ => clock.advance_ms(i64::from(arg) % 40),
        }
        let max = config(roomy).max_pending_per_subscription;
        for c in CHANNELS {
            let c = ChannelId::new(c).unwrap_or_else(|_| unreachable!("a valid id"));
            for s in live.subscriptions(&c) {
                assert!(s.pending <= max, "an outbox past its bound");
                assert!(s.failed <= config(roomy).max_failed_per_subscription);
            }
        }
    }
    // Drops make replay legitimately differ (it may fit what live dropped): compare
    // only runs that dropped nothing.
    if live.backlog().counters.dropped > 0 {
        return;
    }
    let records = log.0.lock().clone();
    let replayed = Webhooks::new(config(roomy), clock.clone(), Log::default());
    replayed.begin_replay();
    // Derived events applied late: each waits a few records (a lane behind the reader).
    let mut late: Vec<(usize, Lsn, ChannelId, u32)> = Vec::new();
    for (i, record) in records.into_iter().enumerate() {
        let lsn = Lsn(i as u64 + 1);
        match record {
            Record::Webhook(e) => replayed.replay(lsn, e),
            Record::News { channel, round } => {
                let delay = usize::from(input.byte().unwrap_or(0) % 5);
                late.push((i + delay, lsn, channel, round));
            }
        }
        late.retain(|(due, lsn, channel, round)| {
            if *due > i {
                return true;
            }
            replayed.round_ended(*lsn, channel, &tourney, *round, &winners(*round));
            false
        });
    }
    for (_, lsn, channel, round) in late {
        replayed.round_ended(lsn, &channel, &tourney, round, &winners(round));
    }
    replayed.finish_replay();
    assert_eq!(comparable(replayed.export()), comparable(live.export()));
}
