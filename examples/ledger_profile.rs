//! A fixed ledger workload for instruction counting: 10,000 wallets, then N bets
//! (each opening a round) or N bet+win pairs, on one thread, in memory. Criterion
//! (`benches/ledger.rs`) gives the wall-clock figures; this gives repeatable
//! instruction counts on a noisy machine:
//!
//! ```sh
//! cargo build --release --example ledger_profile
//! valgrind --tool=callgrind target/release/examples/ledger_profile 200000 bet
//! callgrind_annotate --inclusive=yes callgrind.out.* | grep 'Engine::bet \['
//! ```
//!
//! Divide `Engine::bet`'s (and `Engine::win`'s) inclusive count by N.

use pitboss::*;
use std::hint::black_box;
use std::time::Instant;

const WALLETS: usize = 10_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(100_000), |s| s.parse())?;
    let with_wins = match args.next().as_deref() {
        None | Some("bet") => false,
        Some("betwin") => true,
        Some(other) => return Err(format!("workload {other}: bet or betwin").into()),
    };
    let engine = Engine::in_memory(EngineConfig::default());
    let (channel, cny) = (ChannelId::new("bench")?, Currency::new("CNY")?);
    let mut wallets = Vec::with_capacity(WALLETS);
    for i in 0..WALLETS {
        let w = engine.open_wallet(&channel, &PlayerId::new(&format!("player-{i}"))?, &cny)?;
        let seed = DepositRequest {
            tx: TxId::new("seed")?,
            amount: Amount::new(1 << 40),
        };
        engine.deposit(w, &seed)?;
        wallets.push(w);
    }
    // Requests are built before the timed loop: it measures the ledger, not format!.
    let game = GameRef::bare(GameId::new("slot_alice")?);
    let mut work = Vec::with_capacity(n);
    for i in 0..n {
        let bet = BetRequest {
            tx: TxId::new(&format!("b{i}"))?,
            round: RoundId::new(&format!("r{i}"))?,
            game: game.clone(),
            amount: Amount::new(100),
            meta: PlayMeta::default(),
        };
        let win = WinRequest {
            tx: TxId::new(&format!("w{i}"))?,
            round: bet.round.clone(),
            game: game.id.clone(),
            amount: Amount::new(50),
            breakdown: None,
            keep_open: false,
        };
        work.push((bet, win));
    }
    let start = Instant::now();
    for (i, (bet, win)) in work.iter().enumerate() {
        let wallet = wallets[i % WALLETS];
        black_box(engine.bet(wallet, bet)?);
        if with_wins {
            black_box(engine.win(wallet, win)?);
        }
    }
    let elapsed = start.elapsed();
    eprintln!(
        "{n} iterations in {elapsed:?}: {:.0} ns each",
        elapsed.as_nanos() as f64 / n.max(1) as f64
    );
    Ok(())
}
