//! Operators, players and games on the durable engine survive a reopen, from the log
//! alone and from a snapshot.

mod common;

use common::*;
use pitboss::catalog::game::{GameStatus, NewGame};
use pitboss::identity::types::{NewOperator, WalletMode};
use pitboss::*;

fn new_operator() -> NewOperator {
    NewOperator {
        client_id: ClientId::new("op1").expect("client"),
        channel: channel("ch1"),
        currencies: vec![currency("CNY")],
        wallet_mode: WalletMode::Transfer,
        password: "pw-123456".into(),
    }
}

fn game(id: &str) -> NewGame {
    NewGame {
        record: None,
        id: GameId::new(id).expect("game"),
        kind: Label::new(id).expect("label"),
        serial: 1,
        developer: Label::new("devsz").expect("label"),
        uri: format!("games/devsz/{id}/client"),
        status: GameStatus::Online,
        config: "{}".into(),
        version: Some(Label::new("2025.01.01.0001").expect("label")),
    }
}

fn config() -> EngineConfig {
    let mut c = EngineConfig::default();
    c.identity.argon2 = pitboss::identity::secrets::Argon2Params::insecure_for_tests();
    c
}

#[test]
fn operators_players_and_games_survive_reopen() {
    for snapshot in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = {
            let engine = Engine::open(dir.path(), config()).expect("open");
            let op = engine.create_operator(new_operator()).expect("operator");
            engine.register_game(game("slot_alice")).expect("game");
            if snapshot {
                engine.shutdown().expect("shutdown");
            }
            op.api_key
        };
        let engine = Engine::open(dir.path(), config()).expect("reopen");
        let op = engine
            .operator(&ClientId::new("op1").expect("client"))
            .unwrap_or_else(|| panic!("operator lost (snapshot: {snapshot})"));
        assert_eq!(op.api_key, key, "snapshot: {snapshot}");
        assert_eq!(engine.operators().len(), 1);
        assert!(
            engine
                .game(&GameId::new("slot_alice").expect("game"))
                .is_some(),
            "game lost (snapshot: {snapshot})"
        );
    }
}

#[test]
fn an_operators_wallet_mode_and_remote_wallet_survive_reopen() {
    use pitboss::identity::types::{RemoteWallet, WalletDialect};
    let client = ClientId::new("op1").expect("client");
    let remote = RemoteWallet::new(WalletDialect::Bank, "https://wallet.example/api").expect("url");
    for snapshot in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let engine = Engine::open(dir.path(), config()).expect("open");
            engine.create_operator(new_operator()).expect("operator");
            let op = engine
                .set_operator_wallet(&client, WalletMode::Seamless, Some(remote.clone()))
                .expect("seamless");
            assert_eq!(op.wallet_mode, WalletMode::Seamless);
            // Refused changes change nothing.
            let mismatched = engine.set_operator_wallet(&client, WalletMode::Seamless, None);
            assert!(mismatched.is_err());
            let unknown = ClientId::new("nobody").expect("client");
            assert!(engine
                .set_operator_wallet(&unknown, WalletMode::Transfer, None)
                .is_err());
            if snapshot {
                engine.shutdown().expect("shutdown");
            }
        }
        let engine = Engine::open(dir.path(), config()).expect("reopen");
        let op = engine.operator(&client).expect("operator");
        assert_eq!(op.wallet_mode, WalletMode::Seamless, "snapshot: {snapshot}");
        assert_eq!(engine.operator_wallet(&client), Some(remote.clone()));
        // Back to transfer mode: the remote wallet is gone, durably too.
        engine
            .set_operator_wallet(&client, WalletMode::Transfer, None)
            .expect("transfer");
        drop(engine);
        let engine = Engine::open(dir.path(), config()).expect("reopen again");
        assert_eq!(engine.operator_wallet(&client), None);
        let op = engine.operator(&client).expect("operator");
        assert_eq!(op.wallet_mode, WalletMode::Transfer);
    }
}

#[test]
fn wallet_urls_are_checked() {
    use pitboss::identity::types::{RemoteWallet, WalletDialect};
    for good in ["http://127.0.0.1:8080", "https://wallet.example/api/v1"] {
        assert!(
            RemoteWallet::new(WalletDialect::Gate, good).is_some(),
            "{good}"
        );
    }
    let long = format!("https://{}", "a".repeat(2048));
    for bad in [
        "",
        "ftp://x",
        "https://",
        "https:///x",
        "http://a b",
        "https://x\n",
        &long,
    ] {
        assert!(
            RemoteWallet::new(WalletDialect::Gate, bad).is_none(),
            "{bad:?}"
        );
    }
}
