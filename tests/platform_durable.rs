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
