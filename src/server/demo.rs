//! What a new data directory starts with, so that the server runs with no
//! configuration: a demo operator (transfer mode, CNY) and the example games of
//! Publisher Manual §3.1–3.3, online, with the ids, serial numbers and versions shown there.

use super::admin::OperatorCredentials;
use crate::catalog::game::{GameStatus, NewGame};
use crate::engine::{Engine, EngineError};
use crate::identity::secrets;
use crate::identity::types::{NewOperator, WalletMode};
use crate::ids::{ChannelId, ClientId, Currency, GameId, IdError, Label};

pub const DEMO_CLIENT_ID: &str = "demo";
pub const DEMO_CHANNEL: &str = "demo";

/// One of the Publisher Manual's example games.
struct SeedGame {
    record: u64,
    id: &'static str,
    kind: &'static str,
    serial: u32,
    /// Oldest first: the last is the current version.
    versions: &'static [&'static str],
    config: &'static str,
}

const SEED_GAMES: [SeedGame; 3] = [
    SeedGame {
        record: 2,
        id: "slot_zhaocaijinbao",
        kind: "gp_slot_zhaocaijinbao",
        serial: 1,
        versions: &["2025.01.10.0004"],
        config: r#"{"backend":{"type":"gp_slot_zhaocaijinbao"}}"#,
    },
    SeedGame {
        record: 6,
        id: "slot_mayan",
        kind: "gp_slot_mayan",
        serial: 2,
        versions: &["2025.01.16.0001"],
        config: r#"{"backend":{"type":"gp_slot_mayan"}}"#,
    },
    SeedGame {
        record: 8,
        id: "slot_alice",
        kind: "slot_alice",
        serial: 3,
        versions: &["2025.02.23.0001", "2025.03.04.0001", "2025.03.05.0002"],
        config: r#"{"backend":{"type":"slot_alice"}}"#,
    },
];

fn invalid(e: IdError) -> EngineError {
    EngineError::Invalid(e.to_string())
}

/// Registers the Publisher Manual's games if the catalog is empty.
pub fn register_seed_games(engine: &Engine) -> Result<(), EngineError> {
    if !engine.games().is_empty() {
        return Ok(());
    }
    for seed in SEED_GAMES {
        let id = GameId::new(seed.id).map_err(invalid)?;
        let mut versions = seed.versions.iter().map(|v| Label::new(v).map_err(invalid));
        engine.register_game(NewGame {
            record: Some(seed.record),
            id: id.clone(),
            kind: Label::new(seed.kind).map_err(invalid)?,
            serial: seed.serial,
            developer: Label::new("devsz").map_err(invalid)?,
            uri: format!("games/devsz/{id}/client"),
            status: GameStatus::Online,
            config: seed.config.to_owned(),
            version: versions.next().transpose()?,
        })?;
        for version in versions {
            engine.add_game_version(&id, version?)?;
        }
    }
    Ok(())
}

/// Creates the demo operator if there is no operator at all; returns its
/// credentials (with its generated `pitboss login` password) when it did.
/// Hashes a password: call it off any async worker.
pub fn create_demo_operator(engine: &Engine) -> Result<Option<OperatorCredentials>, EngineError> {
    if !engine.operators().is_empty() {
        return Ok(None);
    }
    let password = secrets::random_base36(20)?;
    let op = engine.create_operator(NewOperator {
        client_id: ClientId::new(DEMO_CLIENT_ID).map_err(invalid)?,
        channel: ChannelId::new(DEMO_CHANNEL).map_err(invalid)?,
        currencies: vec![Currency::new("CNY").map_err(invalid)?],
        wallet_mode: WalletMode::Transfer,
        password: password.clone(),
    })?;
    Ok(Some(OperatorCredentials::of(&op, Some(password))))
}
