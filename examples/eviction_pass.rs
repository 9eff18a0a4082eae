//! What one archiver pass costs when most wallets are idle: N wallets opened, A of
//! them active (a deposit each between passes), on a durable engine whose archiver
//! runs only when called (`Engine::archive_now`). Prints each pass's time once the
//! log is archived, so what is left is eviction's work: it should follow the
//! active wallets and what they hold, not N.
//!
//! ```sh
//! cargo run --release --example eviction_pass -- 1000000 0      # idle wallets only
//! cargo run --release --example eviction_pass -- 1000000 10000  # 1 % active
//! ```

use pitboss::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let wallets = args.next().unwrap_or(Ok(1_000_000))?;
    let active = args.next().unwrap_or(Ok(0))?.min(wallets);
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut config = EngineConfig::default();
    config.wal.fsync = storage::FsyncPolicy::Never;
    config.history.hot_window = Some(Duration::from_secs(1));
    config.history.archive_every = Duration::from_secs(3600);
    let fs: Arc<dyn storage::FileSystem> = Arc::new(storage::StdFs);
    let engine = Engine::open_with(dir.path(), config, clock.clone(), fs)?;
    let (channel, cny) = (ChannelId::new("c")?, Currency::new("CNY")?);
    let started = Instant::now();
    let mut ids = Vec::with_capacity(wallets);
    for i in 0..wallets {
        ids.push(engine.open_wallet(&channel, &PlayerId::new(&format!("p{i}"))?, &cny)?);
    }
    println!("{wallets} wallets opened in {:.1?}", started.elapsed());
    let pass = |label: &str| -> Result<(), Box<dyn std::error::Error>> {
        clock.advance_ms(1_001);
        let t = Instant::now();
        let report = engine
            .archive_now(clock.now_ms())
            .ok_or("no history store")??;
        if label != "catch-up" {
            println!(
                "{label}: {:.1?} ({} records read, {} transactions evicted)",
                t.elapsed(),
                report.records_read,
                report.evicted.transactions
            );
        }
        Ok(())
    };
    // Archive the wallet openings first.
    while engine.history_status().is_some_and(|h| h.lag_records > 0) {
        pass("catch-up")?;
    }
    for round in 0..5 {
        for (i, &w) in ids.iter().take(active).enumerate() {
            let tx = TxId::new(&format!("d{round}-{i}"))?;
            engine.deposit(
                w,
                &DepositRequest {
                    tx,
                    amount: Amount::new(1),
                },
            )?;
        }
        pass(&format!("pass {round}, {active} active"))?;
    }
    for round in 0..3 {
        pass(&format!("idle pass {round}"))?;
    }
    Ok(())
}
