//! A game as the catalog keeps it: identity, where it is served from, its status and
//! its versions (Publisher Manual §3.1–3.3). Validation of what an administrator submits.

use super::CatalogError;
use crate::ids::{GameId, IdError, Label};
use serde::{Deserialize, Serialize};

/// Longest accepted `uri`, in bytes.
pub const MAX_URI_LEN: usize = 512;
/// Longest accepted `config` (a JSON document kept as a string), in bytes.
pub const MAX_CONFIG_LEN: usize = 16 * 1024;
/// Most versions one game keeps: a limit on everything.
pub const MAX_VERSIONS_PER_GAME: usize = 1024;
/// Most games the catalog holds.
pub const MAX_GAMES: usize = 10_000;

/// A game's life-cycle status (Publisher Manual §3.3 `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GameStatus {
    /// -1: disabled.
    Disabled,
    /// 0: registered, not published.
    Unpublished,
    /// 1: published, not yet online.
    Published,
    /// 2: online; only online games are listed to operators (§3.1).
    Online,
}

impl GameStatus {
    /// The status number of Publisher Manual §3.3.
    pub fn code(self) -> i32 {
        match self {
            GameStatus::Disabled => -1,
            GameStatus::Unpublished => 0,
            GameStatus::Published => 1,
            GameStatus::Online => 2,
        }
    }

    pub fn from_code(code: i64) -> Option<GameStatus> {
        match code {
            -1 => Some(GameStatus::Disabled),
            0 => Some(GameStatus::Unpublished),
            1 => Some(GameStatus::Published),
            2 => Some(GameStatus::Online),
            _ => None,
        }
    }
}

/// A registered game.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Game {
    /// The platform's record number of the game (`id` in Publisher Manual §3.1). Unique.
    pub record: u64,
    pub id: GameId,
    /// The game's algorithm id (`gameType`).
    pub kind: Label,
    /// The game's serial number (`serialNo`). Unique.
    pub serial: u32,
    pub developer: Label,
    /// Relative path the game client is served from.
    pub uri: String,
    pub status: GameStatus,
    /// The game's configuration, a JSON document kept verbatim (the catalog does not
    /// read it; the server checks that it parses).
    pub config: String,
    /// When the game was registered, Unix milliseconds.
    pub created_at_ms: i64,
    /// Every version, oldest first. The last one is the game's current version.
    pub versions: Vec<Label>,
}

impl Game {
    /// The game's current (newest) version, if it has one.
    pub fn version(&self) -> Option<&Label> {
        self.versions.last()
    }
}

/// What an administrator submits to register a game.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewGame {
    /// A record number to use (to reproduce another platform's ids); the next free
    /// one if `None`.
    pub record: Option<u64>,
    pub id: GameId,
    pub kind: Label,
    pub serial: u32,
    pub developer: Label,
    pub uri: String,
    pub status: GameStatus,
    pub config: String,
    /// The first version, if the game ships with one.
    pub version: Option<Label>,
}

impl NewGame {
    pub(super) fn validate(&self) -> Result<(), CatalogError> {
        check_text("uri", &self.uri, MAX_URI_LEN)?;
        if self.config.len() > MAX_CONFIG_LEN {
            return Err(CatalogError::invalid("config", "too long"));
        }
        if self.record == Some(0) {
            return Err(CatalogError::invalid("record id", "must be positive"));
        }
        Ok(())
    }
}

/// A bounded string without control characters (may be empty): the identifier rule
/// of `ids`, as a catalog error.
fn check_text(what: &'static str, s: &str, max: usize) -> Result<(), CatalogError> {
    crate::ids::check_text(s, what, max).map_err(|e| match e {
        IdError::TooLong { .. } => CatalogError::invalid(what, "too long"),
        IdError::ControlCharacter { .. } => {
            CatalogError::invalid(what, "contains a control character")
        }
        IdError::Empty { .. } => CatalogError::invalid(what, "must not be empty"),
    })
}
