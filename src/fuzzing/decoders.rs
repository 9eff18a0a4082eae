//! Fuzz entry points of every decoder of what the engine reads back from disk: log
//! segments and their frames, the effects in them, snapshot sections, and the
//! history store's values. Each must turn any bytes into a value or a typed error,
//! never a panic. (The checksums keep random damage from reaching most of these
//! decoders; the fuzzer goes around them on purpose.)

use crate::clock::{Clock, ManualClock};
use crate::engine::decoders::{self, Domains};
use crate::engine::{EngineConfig, EngineLog};
use crate::journal::Lsn;
use crate::ledger::records::GameRecord;
use crate::ledger::round::ClosedRound;
use crate::ledger::wallet::TxEntry;
use crate::storage::segment::{self, SEGMENT_HEADER_LEN};
use std::sync::Arc;

/// The longest record the fuzzed segments may hold (the log's default is 16 MiB).
const MAX_RECORD_LEN: u32 = 1 << 16;

/// Bytes as a log segment (with a valid header when the first byte is even, so that
/// the fuzzer reaches the frames): every frame is scanned as recovery scans it, a
/// bad one is looked past as recovery does to tell a torn tail from damage, and
/// every good frame's payload is decoded as an effect.
pub fn wal_segment(data: &[u8]) {
    wal_segment_effects(data);
}

/// [`wal_segment`], returning how many frames decoded as effects.
fn wal_segment_effects(data: &[u8]) -> usize {
    let mut decoded = 0;
    let Some((&mode, rest)) = data.split_first() else {
        return 0;
    };
    let mut bytes = Vec::with_capacity(SEGMENT_HEADER_LEN + rest.len());
    if mode % 2 == 0 {
        bytes.extend_from_slice(&segment::encode_header(Lsn(1)));
    }
    bytes.extend_from_slice(rest);
    let Ok(first) = segment::decode_header(&bytes) else {
        return 0;
    };
    let scan = segment::scan(&bytes, first, MAX_RECORD_LEN);
    assert!(
        scan.end <= bytes.len(),
        "the good records lie inside the bytes"
    );
    let mut offset = SEGMENT_HEADER_LEN.min(bytes.len());
    for n in 0..scan.records {
        let lsn = Lsn(first.0 + n);
        let Ok((payload, next)) = segment::read_frame(&bytes, offset, lsn, MAX_RECORD_LEN) else {
            panic!("scan counted a frame that does not read back");
        };
        decoded += usize::from(decoders::effect(lsn, payload).is_ok());
        offset = next;
    }
    if let Some(bad) = scan.bad {
        let next = Lsn(first.0 + scan.records);
        let _ = segment::judge_tail(&bytes, scan.end, bad, next, MAX_RECORD_LEN);
    }
    decoded
}

/// Bytes as one log record's payload, decoded as an effect.
pub fn effect(data: &[u8]) {
    let _ = decoders::effect(Lsn(1), data);
}

/// Bytes as a snapshot's body, read into fresh domains: a typed error or a state.
pub fn snapshot_sections(data: &[u8]) {
    let _ = decoders::snapshot(&fresh_domains(), data, Lsn(1));
}

/// Empty domains of one shard ([`super::ONE_SHARD`]).
fn fresh_domains() -> Domains {
    let config = EngineConfig {
        ledger: super::ONE_SHARD,
        ..EngineConfig::default()
    };
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(1_700_000_000_000));
    let log = Arc::new(EngineLog::memory());
    Domains::new(&config, &clock, &log)
}

/// Bytes as each kind of value the history store keeps (a transaction's outcome, a
/// closed round, a game record, an expiry entry's time).
pub fn history_values(data: &[u8]) {
    let _ = postcard::from_bytes::<TxEntry>(data);
    let _ = postcard::from_bytes::<ClosedRound>(data);
    let _ = postcard::from_bytes::<GameRecord>(data);
    let _ = postcard::take_from_bytes::<i64>(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;
    use crate::ids::{ChannelId, Currency, PlayerId, TxId};
    use crate::ledger::types::DepositRequest;
    use crate::money::Amount;

    /// Real segments and snapshot bodies go through the fuzzed decoders whole (so the
    /// targets' seeds reach past the checksums). With `PITBOSS_WRITE_FUZZ_SEEDS` set,
    /// they are written to `fuzz/regressions/` as the targets' seed inputs.
    #[test]
    fn real_segments_and_snapshots_decode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = EngineConfig::default();
        config.history.hot_window = None;
        let engine = Engine::open(dir.path(), config).expect("open");
        let key = (
            ChannelId::new("c").expect("id"),
            PlayerId::new("p").expect("id"),
            Currency::new("CNY").expect("id"),
        );
        let w = engine.open_wallet(&key.0, &key.1, &key.2).expect("wallet");
        for n in 0..5 {
            let req = DepositRequest {
                tx: TxId::new(&format!("d{n}")).expect("id"),
                amount: Amount::new(100 + n),
            };
            engine.deposit(w, &req).expect("deposit");
        }
        drop(engine);
        let segment = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "log"))
            .expect("a segment");
        let bytes = std::fs::read(segment).expect("read");
        let mut input = vec![0u8];
        input.extend_from_slice(&bytes[SEGMENT_HEADER_LEN..]);
        assert_eq!(wal_segment_effects(&input), 6, "a wallet and five deposits");

        let domains = fresh_domains();
        let wallet = crate::ids::WalletKey {
            channel: key.0,
            player: key.1,
            currency: key.2,
        };
        let id = domains.ledger.open_wallet(wallet).result.expect("wallet");
        let req = DepositRequest {
            tx: TxId::new("d").expect("id"),
            amount: Amount::new(5),
        };
        domains.ledger.deposit(id, &req).result.expect("deposit");
        let mut body = Vec::new();
        decoders::write_snapshot(&domains, &mut body).expect("write");
        let read_back = fresh_domains();
        decoders::snapshot(&read_back, body.as_slice(), Lsn(1)).expect("read");
        assert_eq!(
            read_back.ledger.balance(id).map(|b| b.available),
            Ok(Amount::new(5))
        );

        if std::env::var_os("PITBOSS_WRITE_FUZZ_SEEDS").is_some() {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
            for (target, seed) in [("wal_segment", &input), ("snapshot_sections", &body)] {
                let dir = root.join(target);
                std::fs::create_dir_all(&dir).expect("mkdir");
                std::fs::write(dir.join("seed-real"), seed).expect("write seed");
            }
        }
    }
}
