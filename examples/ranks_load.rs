//! Leaderboard pages over HTTP at scale: a round with N players (default 1,000,000),
//! then signed `tournament/ranks` calls for pages of 100 at random offsets, one at a
//! time on a keep-alive connection, with p50 / p99 / max latency.
//!
//! ```sh
//! cargo run --release --example ranks_load -- 1000000 2000
//! ```
//!
//! The players' scores are offered to the tournament as game records made here (no
//! wallets or bets: scoring reads only the record), on an in-memory engine; the server
//! is `pitboss::server::run` on 127.0.0.1:0 in this process, and the client signs every
//! call as an operator does.

use hyper::Method;
use pitboss::ledger::records::GameRecord;
use pitboss::ledger::round::RoundEnd;
use pitboss::server::client::HttpClient;
use pitboss::server::{auth, demo, tournament_spec, ServerConfig};
use pitboss::*;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let players: u64 = args.next().map_or(Ok(1_000_000), |s| s.parse())?;
    let requests: usize = args.next().map_or(Ok(2_000), |s| s.parse())?;
    let now_ms = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let clock = Arc::new(ManualClock::new(now_ms));
    let engine = Arc::new(Engine::in_memory_with_clock(
        EngineConfig::default(),
        clock.clone(),
    ));
    demo::register_seed_games(&engine)?;
    let creds = demo::create_demo_operator(&engine)?.ok_or("a new engine has an operator")?;
    let channel = ChannelId::new(&creds.channel_id)?;
    let start = now_ms / 1000 + 1;
    let spec = serde_json::json!({"version": "1.0", "name": "big", "start": start,
        "end": start + 86_400, "rounds": [{"name": "r1", "start": start, "end": start + 86_400,
            "initial": {"type": "fixed", "value": 0},
            "strategy": {"type": 0, "rules": {
                "bet": {"enabled": true, "type": "rate", "rate": 1}}}}]});
    let spec = tournament_spec::parse(spec.to_string().as_bytes())?;
    let tournament = engine.create_tournament(&channel, &spec)?;
    let game = GameId::new("slot_alice")?;
    engine.bind_game(&channel, &tournament.summary.id, &game)?;
    clock.set_ms((start + 1) * 1000);

    let filled = Instant::now();
    let game_ref = GameRef::bare(game);
    let currency = Currency::new("CNY")?;
    for p in 0..players {
        let record = GameRecord {
            id: RecordId(p + 1),
            channel: channel.clone(),
            player: PlayerId::new(&format!("player-{p}"))?,
            currency: currency.clone(),
            wallet: WalletId(p + 1),
            round: RoundId::new(&format!("r-{p}"))?,
            game: game_ref.clone(),
            transaction_id: TxId::new(&format!("b-{p}"))?,
            starting_credit: Amount::new(1_000_000),
            ending_credit: Amount::new(1_000_000),
            base_win: Amount::ZERO,
            free_win: Amount::ZERO,
            bonus_win: Amount::ZERO,
            jackpot_win: Amount::ZERO,
            total_win: Amount::ZERO,
            // Distinct scores spread over a wide range, with ties every 1,000.
            total_bet: Amount::new(1 + (p.wrapping_mul(7_919) % 1_000_000) as i64),
            meta: PlayMeta::default(),
            play_time_secs: start + 1,
            created_at_ms: (start + 1) * 1000,
            end: RoundEnd::Settled,
        };
        engine.score_record(&record)?;
    }
    println!(
        "{players} players scored in {:.1} s",
        filled.elapsed().as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let config = ServerConfig::new("ranks-load-admin-token".into());
        let server = tokio::spawn(pitboss::server::run(
            listener,
            engine.clone(),
            config,
            std::future::pending::<()>(),
        ));
        let mut client = HttpClient::connect(&url).await?;
        let mut latencies_us = Vec::with_capacity(requests);
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..requests {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let offset = seed % players.saturating_sub(100).max(1);
            let body = serde_json::json!({"tourneyId": tournament.summary.id.as_str(),
                "currentRound": 1, "offset": offset, "limit": 100});
            let ts = (clock.now_ms() / 1000).to_string();
            let nonce = format!("ranks-{i}");
            let headers = auth::signed_headers(&creds.client_id, &creds.api_key, &ts, &nonce)?;
            let started = Instant::now();
            let reply = client
                .send(
                    Method::POST,
                    "/service/jsonapi/tournament/ranks",
                    &headers,
                    body.to_string().into_bytes(),
                )
                .await?;
            latencies_us.push(started.elapsed().as_micros() as u64);
            let v: serde_json::Value = serde_json::from_slice(&reply.body)?;
            let rows = v["data"].as_array().map_or(0, Vec::len);
            if v["code"] != 0 || rows != 100 {
                return Err(format!("unexpected answer: {}", v["message"]).into());
            }
        }
        latencies_us.sort_unstable();
        let pick =
            |q: f64| latencies_us[((latencies_us.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
        println!(
            "{requests} pages of 100 at random offsets: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            pick(0.5),
            pick(0.99),
            pick(1.0)
        );
        server.abort();
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
