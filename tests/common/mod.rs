//! Helpers shared by the integration tests: short constructors for ids and requests.
#![allow(dead_code)]

use pitboss::*;

pub fn tx(s: &str) -> TxId {
    TxId::new(s).expect("test tx id")
}

pub fn round(s: &str) -> RoundId {
    RoundId::new(s).expect("test round id")
}

pub fn game(s: &str) -> GameRef {
    GameRef::bare(GameId::new(s).expect("test game id"))
}

pub fn channel(s: &str) -> ChannelId {
    ChannelId::new(s).expect("test channel")
}

pub fn player(s: &str) -> PlayerId {
    PlayerId::new(s).expect("test player")
}

pub fn currency(s: &str) -> Currency {
    Currency::new(s).expect("test currency")
}

pub fn bet(t: &str, r: &str, g: &str, amount: i64) -> BetRequest {
    BetRequest {
        tx: tx(t),
        round: round(r),
        game: game(g),
        amount: Amount::new(amount),
        meta: PlayMeta::default(),
    }
}

pub fn win(t: &str, r: &str, g: &str, amount: i64, keep_open: bool) -> WinRequest {
    WinRequest {
        tx: tx(t),
        round: round(r),
        game: GameId::new(g).expect("test game id"),
        amount: Amount::new(amount),
        breakdown: None,
        keep_open,
    }
}

pub fn deposit(t: &str, amount: i64) -> DepositRequest {
    DepositRequest {
        tx: tx(t),
        amount: Amount::new(amount),
    }
}

/// The variant name of an error, for comparing outcomes without their details.
pub fn kind(e: &EngineError) -> String {
    pitboss::simulation::model::error_kind(e).to_string()
}

/// A page of `size` entries after `offset` (the engine's list queries take one).
pub fn page(offset: i64, size: i64) -> pitboss::paging::Page {
    pitboss::paging::Page::new(offset, size).expect("a valid page")
}
