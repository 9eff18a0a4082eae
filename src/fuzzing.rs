//! Entry points for fuzzers: each turns arbitrary bytes into calls on the public
//! API and asserts invariants. The cargo-fuzz targets in `fuzz/` are thin shims over
//! these; `tests/fuzz_smoke.rs` runs them on random and committed inputs in CI.

#[cfg(feature = "server")]
mod wallet_apis;
#[cfg(feature = "server")]
pub use wallet_apis::{bank_requests, gate_requests};
#[cfg(feature = "server")]
mod platform_requests;
#[cfg(feature = "server")]
pub use platform_requests::platform_requests;
#[cfg(feature = "server")]
mod tournament_spec;
#[cfg(feature = "server")]
pub use tournament_spec::tournament_spec;
mod webhook_outbox;
pub use webhook_outbox::webhook_outbox;
mod decoders;
pub use decoders::{effect, history_values, snapshot_sections, wal_segment};

/// The deterministic simulator with its choices read from `data` (at most 300
/// steps): any failure it finds panics, with the steps that led to it.
pub fn simulation(data: &[u8]) {
    if let Err(failure) = crate::simulation::run_bytes(data, 300) {
        panic!("{failure}");
    }
}
#[cfg(feature = "server")]
mod wallet_answers;
#[cfg(feature = "server")]
pub use wallet_answers::wallet_answers;

use crate::engine::{Engine, EngineConfig};

/// One shard and one record stripe: for the targets that build an engine or
/// domains per input, the defaults' hundreds cost more to build than the input's
/// work (profiled).
const ONE_SHARD: crate::ledger::LedgerConfig = crate::ledger::LedgerConfig {
    shards: 1,
    record_stripes: 1,
};
use crate::ids::*;
use crate::ledger::types::*;
use crate::money::Amount;

/// Reads fuzz bytes as a stream of small values.
struct Bytes<'a> {
    data: &'a [u8],
}

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    /// An amount that is usually small, sometimes extreme.
    fn amount(&mut self) -> Option<Amount> {
        Some(Amount::new(match self.byte()? {
            0 => i64::MAX,
            1 => i64::MIN,
            2 => -1,
            3 => 0,
            4 => i64::from_le_bytes(self.take8()?),
            b => i64::from(b) * 10,
        }))
    }

    fn take8(&mut self) -> Option<[u8; 8]> {
        let (head, rest) = self.data.split_at_checked(8)?;
        self.data = rest;
        head.try_into().ok()
    }

    /// A short string from a small alphabet, or raw bytes (possibly invalid).
    fn text(&mut self) -> Option<String> {
        let b = self.byte()?;
        if b < 200 {
            return Some(format!("id{}", b % 6));
        }
        let len = usize::from(self.byte()?) % 160;
        let (head, rest) = self.data.split_at_checked(len).unwrap_or((self.data, &[]));
        self.data = rest;
        Some(String::from_utf8_lossy(head).into_owned())
    }
}

/// Drives an in-memory engine with operations decoded from `data`. Panics only if an
/// invariant breaks (which is what a fuzzer is looking for).
pub fn ledger_ops(data: &[u8]) {
    let engine = Engine::in_memory(EngineConfig::default());
    let mut input = Bytes { data };
    let mut wallets = Vec::new();
    while let Some(op) = input.byte() {
        if step(&engine, &mut wallets, op, &mut input).is_none() {
            break;
        }
    }
    engine.check_invariants();
}

/// One operation; `None` when the input ran out. Errors from the engine are fine:
/// the point is that they are errors, not panics, and that invariants hold.
fn step(engine: &Engine, wallets: &mut Vec<WalletId>, op: u8, input: &mut Bytes<'_>) -> Option<()> {
    if wallets.is_empty() || op.is_multiple_of(11) {
        let (c, p) = (input.text()?, input.text()?);
        if let (Ok(c), Ok(p), Ok(cur)) =
            (ChannelId::new(&c), PlayerId::new(&p), Currency::new("CNY"))
        {
            wallets.push(engine.open_wallet(&c, &p, &cur).ok()?);
        }
        return Some(());
    }
    let w = wallets[usize::from(input.byte()?) % wallets.len()];
    let tx = TxId::new(&input.text()?);
    let round = RoundId::new(&input.text()?);
    let (Ok(tx), Ok(round)) = (tx, round) else {
        return Some(());
    };
    let amount = input.amount()?;
    let game = GameRef::bare(GameId::new(if op & 1 == 0 { "g0" } else { "g1" }).ok()?);
    let _ = match op % 11 {
        1 => engine.deposit(w, &DepositRequest { tx, amount }),
        2 => engine.withdraw(
            w,
            &WithdrawRequest {
                tx,
                amount: WithdrawAmount::Exact(amount),
            },
        ),
        3 => engine.withdraw(
            w,
            &WithdrawRequest {
                tx,
                amount: WithdrawAmount::All,
            },
        ),
        4 | 5 => engine.bet(
            w,
            &BetRequest {
                tx,
                round,
                game,
                amount,
                meta: PlayMeta::default(),
            },
        ),
        6 | 7 => {
            let keep_open = op & 16 != 0;
            engine.win(
                w,
                &WinRequest {
                    tx,
                    round,
                    game: game.id,
                    amount,
                    breakdown: None,
                    keep_open,
                },
            )
        }
        8 => engine.refund(
            w,
            &RefundRequest {
                tx,
                bet_tx: TxId::from_round(&round),
            },
        ),
        9 => engine.end_round(w, &EndRoundRequest { tx, round }),
        _ => {
            let _ = engine.expire_stale_rounds();
            engine.prize(w, &PrizeRequest { tx, amount })
        }
    };
    Some(())
}
