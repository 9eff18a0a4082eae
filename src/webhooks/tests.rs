//! The outbox's rules, on the domain alone (the engine's tests cover derivation from
//! real changes and recovery).

use super::*;
use crate::clock::ManualClock;
use crate::journal::MemoryJournal;

fn channel(s: &str) -> ChannelId {
    ChannelId::new(s).unwrap_or_else(|e| panic!("{e}"))
}

fn name(s: &str) -> EventName {
    EventName::new(s).unwrap_or_else(|e| panic!("{e}"))
}

fn hooks(clock: &Arc<ManualClock>) -> Webhooks<MemoryJournal<WebhookEffect>> {
    Webhooks::new(
        WebhookConfig::default(),
        clock.clone(),
        MemoryJournal::new(),
    )
}

fn subscribe(
    w: &Webhooks<MemoryJournal<WebhookEffect>>,
    ch: &str,
    events: &[&str],
) -> SubscriptionId {
    let logged = w.subscribe(
        &channel(ch),
        "http://receiver.example/".into(),
        events.iter().map(|e| name(e)).collect(),
    );
    logged.result.unwrap_or_else(|e| panic!("{e}")).id
}

#[test]
fn event_names_are_checked() {
    assert!(EventName::new("wallet.balance.update").is_ok());
    assert!(EventName::new("a-b_c.9").is_ok());
    for bad in ["", "Upper", "sp ace", "ü", &"x".repeat(65)] {
        assert!(EventName::new(bad).is_err(), "{bad:?}");
    }
    let id = EventId { lsn: 42, index: 1 };
    assert_eq!(id.to_string().parse::<EventId>(), Ok(id));
    assert!("evt_x_1".parse::<EventId>().is_err());
}

/// An event is handed out only once the record of its change is durable: until
/// then a crash can take the change back (the simulator found deliveries made
/// before, of a deposit a failed fsync and a power cut then undid).
#[test]
fn nothing_is_handed_out_before_its_record_is_durable() {
    let clock = Arc::new(ManualClock::new(1_000));
    let w = hooks(&clock);
    let sub = subscribe(&w, "a", &["order.paid"]);
    let queued = w.publish(&channel("a"), name("order.paid"), "{}".into());
    assert_eq!(queued.result, Ok(1));
    let before = Lsn(queued.lsn.0 - 1);
    assert!(w.take_due(1_000, before, 100, 10).is_empty());
    assert!(w.take_next(sub, 1_000, before).is_none());
    let due = w.take_due(1_000, queued.lsn, 100, 10);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].1.event.id.lsn, queued.lsn.0);
}

#[test]
fn publish_reaches_only_the_callers_subscriptions_that_list_the_event() {
    let clock = Arc::new(ManualClock::new(1_000));
    let w = hooks(&clock);
    let a = subscribe(&w, "a", &["order.paid"]);
    let _other_event = subscribe(&w, "a", &["order.lost"]);
    let _other_channel = subscribe(&w, "b", &["order.paid"]);
    let queued = w.publish(&channel("a"), name("order.paid"), "{}".into());
    assert_eq!(queued.result, Ok(1));
    let due = w.take_due(1_000, Lsn(u64::MAX), 100, 10);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].0.id, a);
    // Nobody listens: nothing is logged.
    let before = w.journal.effects().len();
    assert_eq!(
        w.publish(&channel("a"), name("nobody"), "{}".into()).result,
        Ok(0)
    );
    assert_eq!(w.journal.effects().len(), before);
}

#[test]
fn a_failing_delivery_follows_the_schedule_then_is_exhausted_and_can_be_redelivered() {
    let clock = Arc::new(ManualClock::new(0));
    let w = hooks(&clock);
    let sub = subscribe(&w, "a", &["x"]);
    let _ = w.publish(&channel("a"), name("x"), "{}".into());
    let schedule = w.config().retry_delays_ms.clone();
    for (i, delay) in schedule.iter().enumerate() {
        let due = w.take_due(clock.now_ms(), Lsn(u64::MAX), 10, 10);
        assert_eq!(due.len(), 1, "attempt {}", i + 1);
        let event = due[0].1.event.id;
        let _ = w.attempted(sub, event, Attempt::Failed("503".into()));
        assert_eq!(w.backlog().retrying, 1);
        // Not due before the delay less its jitter…
        let early = delay - delay / 10 - 1;
        assert!(w
            .take_due(clock.now_ms() + early, Lsn(u64::MAX), 10, 10)
            .is_empty());
        // …and due after it plus its jitter.
        clock.advance_ms(delay + delay / 10 + 1);
    }
    let due = w.take_due(clock.now_ms(), Lsn(u64::MAX), 10, 10);
    assert_eq!(due.len(), 1, "the eighth and last attempt");
    let event = due[0].1.event.id;
    let _ = w.attempted(sub, event, Attempt::Failed("503".into()));
    clock.advance_ms(100 * 3_600_000);
    assert!(w.take_due(clock.now_ms(), Lsn(u64::MAX), 10, 10).is_empty());
    let failed = w.failed(&channel("a"), crate::paging::Page::first(10));
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 8);
    assert_eq!(failed[0].last_error, "503");
    // Another channel cannot redeliver it.
    assert!(w.redeliver(&channel("b"), None, event).result.is_err());
    assert_eq!(w.redeliver(&channel("a"), None, event).result, Ok(1));
    let due = w.take_due(clock.now_ms(), Lsn(u64::MAX), 10, 10);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].1.attempts, 0);
    let _ = w.attempted(sub, event, Attempt::Delivered);
    assert!(w
        .failed(&channel("a"), crate::paging::Page::first(10))
        .is_empty());
    assert_eq!(w.backlog().pending, 0);
}

#[test]
fn gone_ends_the_subscription_and_a_full_outbox_drops_and_counts() {
    let clock = Arc::new(ManualClock::new(0));
    let config = WebhookConfig {
        max_pending_per_subscription: 3,
        ..WebhookConfig::default()
    };
    let w = Webhooks::new(config, clock.clone(), MemoryJournal::new());
    let sub = subscribe(&w, "a", &["x"]);
    for _ in 0..5 {
        let _ = w.publish(&channel("a"), name("x"), "{}".into());
    }
    let info = w.subscriptions(&channel("a"));
    assert_eq!(info[0].pending, 3);
    assert_eq!(info[0].counters.dropped, 2);
    let due = w.take_due(0, Lsn(u64::MAX), 1, 10);
    let _ = w.attempted(sub, due[0].1.event.id, Attempt::Gone);
    assert!(w.subscriptions(&channel("a")).is_empty());
    assert_eq!(w.backlog(), Backlog::default());
}

#[test]
fn the_subscription_limit_is_per_channel() {
    let clock = Arc::new(ManualClock::new(0));
    let w = hooks(&clock);
    for _ in 0..16 {
        subscribe(&w, "a", &["x"]);
    }
    let refused = w.subscribe(&channel("a"), "http://r/".into(), vec![name("x")]);
    assert_eq!(
        refused.result.err(),
        Some(WebhookError::TooManySubscriptions { max: 16 })
    );
    subscribe(&w, "b", &["x"]);
    assert_eq!(w.unsubscribe(&channel("a")).result, Ok(16));
    assert_eq!(w.subscriptions(&channel("b")).len(), 1);
}

/// Replay meets a delivery's outcome and the record that derives its event in either
/// order (parallel lanes), and ends in the same outbox as the live one.
#[test]
fn replay_in_any_order_ends_where_live_did() {
    let clock = Arc::new(ManualClock::new(0));
    let live = hooks(&clock);
    let sub = subscribe(&live, "a", &["x"]);
    for _ in 0..4 {
        let _ = live.publish(&channel("a"), name("x"), "{}".into());
    }
    let due = live.take_due(0, Lsn(u64::MAX), 10, 10);
    let _ = live.attempted(sub, due[0].1.event.id, Attempt::Delivered);
    let _ = live.attempted(sub, due[1].1.event.id, Attempt::Failed("x".into()));
    let effects = live.journal.effects();
    let outbox = |w: &Webhooks<MemoryJournal<WebhookEffect>>| {
        let mut e = w.export();
        for s in &mut e.subscriptions {
            s.counters = Counters::default();
        }
        e
    };
    // Positions are 1-based log positions in a memory journal.
    for order in [false, true] {
        let again = hooks(&clock);
        again.begin_replay();
        let mut numbered: Vec<(u64, WebhookEffect)> = effects
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, e)| (i as u64 + 1, e))
            .collect();
        if order {
            // Outcomes first (the subscription must come before anything).
            numbered[1..].reverse();
        }
        for (lsn, e) in numbered {
            again.replay(Lsn(lsn), e);
        }
        again.finish_replay();
        assert_eq!(outbox(&again), outbox(&live), "reversed: {order}");
    }
}
