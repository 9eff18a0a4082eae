//! A short fuzz run that needs no nightly toolchain: the fuzz entry points get random
//! bytes from proptest, plus every input committed under `fuzz/regressions/<target>/`
//! (crashes found by cargo-fuzz, and seeds that reach deep paths).

use proptest::prelude::*;
use std::path::Path;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn ledger_ops_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        pitboss::fuzzing::ledger_ops(&data);
    }

    #[test]
    fn webhook_outbox_replays_to_the_live_state(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        pitboss::fuzzing::webhook_outbox(&data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn wal_segments_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        pitboss::fuzzing::wal_segment(&data);
    }

    #[test]
    fn effects_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        pitboss::fuzzing::effect(&data);
    }

    #[test]
    fn snapshot_sections_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        pitboss::fuzzing::snapshot_sections(&data);
    }

    #[test]
    fn history_values_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        pitboss::fuzzing::history_values(&data);
    }
}

proptest! {
    // Each case opens an engine and a history store: fewer cases.
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn simulations_from_bytes_pass(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        pitboss::fuzzing::simulation(&data);
    }
}

#[cfg(feature = "server")]
proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn gate_requests_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        pitboss::fuzzing::gate_requests(&data);
    }

    #[test]
    fn bank_requests_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        pitboss::fuzzing::bank_requests(&data);
    }

    #[test]
    fn tournament_specs_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        pitboss::fuzzing::tournament_spec(&data);
    }

    #[test]
    fn platform_requests_answer_json(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        pitboss::fuzzing::platform_requests(&data);
    }

    #[test]
    fn wallet_answers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        pitboss::fuzzing::wallet_answers(&data);
    }
}

/// Runs `target` on every file under `fuzz/regressions/<name>/`; how many there were.
fn replay(name: &str, target: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(name);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut count = 0;
    for entry in entries.flatten() {
        let data = std::fs::read(entry.path()).expect("read regression input");
        target(&data);
        count += 1;
    }
    count
}

#[test]
fn committed_fuzz_inputs_replay_clean() {
    assert!(replay("ledger_ops", pitboss::fuzzing::ledger_ops) > 0);
    assert!(replay("webhook_outbox", pitboss::fuzzing::webhook_outbox) > 0);
    assert!(replay("simulation", pitboss::fuzzing::simulation) > 0);
    assert!(replay("wal_segment", pitboss::fuzzing::wal_segment) > 0);
    assert!(replay("effect", pitboss::fuzzing::effect) > 0);
    assert!(replay("snapshot_sections", pitboss::fuzzing::snapshot_sections) > 0);
    assert!(replay("history_values", pitboss::fuzzing::history_values) > 0);
    #[cfg(feature = "server")]
    {
        assert!(replay("gate_requests", pitboss::fuzzing::gate_requests) > 0);
        assert!(replay("bank_requests", pitboss::fuzzing::bank_requests) > 0);
        assert!(replay("tournament_spec", pitboss::fuzzing::tournament_spec) > 0);
        assert!(replay("wallet_answers", pitboss::fuzzing::wallet_answers) > 0);
        assert!(replay("platform_requests", pitboss::fuzzing::platform_requests) > 0);
    }
}
