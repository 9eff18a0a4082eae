//! The operator's own wallet in the seamless tests: a pitboss in transfer mode on a
//! data directory (so that it can be restarted), serving the gate and bank dialects.
#![allow(dead_code)]

use super::http::{engine_config, ADMIN_TOKEN};
use pitboss::identity::types::Operator;
use pitboss::server::ServerConfig;
use pitboss::storage::StdFs;
use pitboss::{
    Amount, ChannelId, Clock, Currency, DepositRequest, Engine, EngineConfig, PlayerId, TxId,
    WalletId,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

pub struct WalletServer {
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    pub engine: Arc<Engine>,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn wallet_engine_config() -> EngineConfig {
    EngineConfig {
        // The tests' clocks jump hours ahead to run retries out: the wallet must not
        // expire the platform's rounds meanwhile.
        round_timeout_ms: i64::MAX / 4,
        ..engine_config()
    }
}

impl WalletServer {
    pub async fn start(dir: &Path, clock: Arc<dyn Clock>) -> WalletServer {
        let engine = Engine::open_with(dir, wallet_engine_config(), clock.clone(), Arc::new(StdFs))
            .expect("open the wallet's data directory");
        let engine = Arc::new(engine);
        let config = ServerConfig::new(ADMIN_TOKEN.to_owned());
        let (addr, tx, task) = super::http::serve(engine.clone(), config).await;
        WalletServer {
            dir: dir.to_owned(),
            clock,
            engine,
            addr,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("wallet server");
        }
    }

    /// Stops the server and the engine, and opens the data directory again.
    pub async fn restart(&mut self) {
        self.stop().await;
        let dir = self.dir.clone();
        let clock = self.clock.clone();
        let engine = std::mem::replace(
            &mut self.engine,
            Arc::new(Engine::in_memory(EngineConfig::default())),
        );
        // Connection tasks let go of the engine as their connections close.
        for _ in 0..500 {
            if Arc::strong_count(&engine) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            Arc::strong_count(&engine),
            1,
            "the old wallet engine is still held"
        );
        drop(engine);
        *self = WalletServer::start(&dir, clock).await;
    }
}

/// Registers `name` with the wallet's operator and deposits `funds`; its uid.
pub fn funded_player(engine: &Engine, operator: &Operator, name: &str, funds: i64) -> u64 {
    let login = engine
        .login_player(operator, &PlayerId::new(name).expect("id"), "pw")
        .expect("wallet login");
    let deposit = DepositRequest {
        tx: tx(&format!("fund-{name}")),
        amount: Amount::new(funds),
    };
    engine.deposit(login.wallet, &deposit).expect("fund");
    login.login.player.uid.0
}

/// What a game server sent for one player: every bet and win id.
#[derive(Clone, Debug, Default)]
pub struct Sent {
    pub bets: Vec<String>,
    pub wins: Vec<String>,
}

pub fn tx(id: &str) -> TxId {
    TxId::new(id).expect("tx id")
}

fn has(engine: &Engine, wallet: Option<WalletId>, id: &str) -> bool {
    wallet.is_some_and(|w| {
        engine
            .transaction(w, &tx(id))
            .expect("transaction query")
            .is_some()
    })
}

fn amount_of(engine: &Engine, wallet: Option<WalletId>, id: &str) -> i64 {
    let wallet = wallet.expect("a wallet");
    let receipt = engine.transaction(wallet, &tx(id)).expect("query");
    receipt.expect("applied").amount.minor_units()
}

/// The platform and the operator's wallet, each with the operator's channel there.
pub struct Sides<'a> {
    pub platform: &'a Engine,
    pub platform_channel: &'a ChannelId,
    pub wallet: &'a Engine,
    pub wallet_channel: &'a ChannelId,
}

impl Sides<'_> {
    /// The reconciliation invariant of docs/seamless.md, once no call is unfinished: for
    /// every transaction id, both sides agree on whether it took effect (a bet is
    /// kept on one side exactly when on the other: never taken twice, never refunded
    /// without having happened; a win is paid on one side exactly when on the other),
    /// and each player's money in the wallet is its funds less the kept bets plus the
    /// paid wins.
    pub fn assert_reconciled(&self, label: &str, players: &[(String, Sent)], funds: i64) {
        let cny = Currency::new("CNY").expect("currency");
        for (name, sent) in players {
            let player = PlayerId::new(name).expect("id");
            let pw = self
                .platform
                .wallet_id(self.platform_channel, &player, &cny);
            let ww = self.wallet.wallet_id(self.wallet_channel, &player, &cny);
            let mut expected = funds;
            for bet in &sent.bets {
                let refund = format!("refund:{bet}");
                let kept_p = has(self.platform, pw, bet) && !has(self.platform, pw, &refund);
                let kept_w = has(self.wallet, ww, bet) && !has(self.wallet, ww, &refund);
                assert_eq!(kept_p, kept_w, "{label}: bet {bet} of {name}");
                if kept_w {
                    expected -= amount_of(self.wallet, ww, bet);
                }
            }
            for win in &sent.wins {
                let paid_p = has(self.platform, pw, win);
                let paid_w = has(self.wallet, ww, win);
                assert_eq!(paid_p, paid_w, "{label}: win {win} of {name}");
                if paid_w {
                    expected += amount_of(self.wallet, ww, win);
                }
            }
            // A bet kept by a round still open in a gate wallet is held there: not
            // available, like every kept bet.
            let balance = self.wallet.balance(ww.expect("wallet")).expect("balance");
            assert_eq!(
                balance.available.minor_units(),
                expected,
                "{label}: {name}'s money in the wallet"
            );
        }
        self.platform.check_invariants();
        self.wallet.check_invariants();
    }
}
