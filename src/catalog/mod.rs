//! The game catalog: games, their versions and their status (Publisher Manual §3.1–3.3), and
//! the currencies the platform knows with their exponents ([`currency`]).
//!
//! Games are global: every registered game is available to every operator (the Publisher Manual
//! lists "the channel's configured games"; per-channel configuration is not modelled).
//!
//! # Mutation
//! Like the ledger: a mutation computes the game's whole next value under the write
//! lock, hands it to the journal as a [`CatalogEffect`] while the lock is held, then
//! applies it with [`apply`], the function replay uses. An effect is a resulting
//! value keyed by game id, so applying one twice changes nothing.

pub mod currency;
pub mod game;

use crate::ids::{Currency, GameId, Label};
use crate::journal::{Journal, JournalError, Lsn};
use crate::paging::Page;
use currency::{CurrencySpec, MAX_CURRENCIES};
use game::{Game, GameStatus, NewGame, MAX_GAMES, MAX_VERSIONS_PER_GAME};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The catalog's errors. A returned error means nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    #[error("game {0} not found")]
    GameNotFound(GameId),
    #[error("game {0} already exists")]
    GameExists(GameId),
    #[error("record id {record} is already used by game {game}")]
    RecordTaken { record: u64, game: GameId },
    #[error("serial number {serial} is already used by game {game}")]
    SerialTaken { serial: u32, game: GameId },
    #[error("game {game} already has version {version}")]
    VersionExists { game: GameId, version: Label },
    #[error("invalid {what}: {why}")]
    Invalid {
        what: &'static str,
        why: &'static str,
    },
    #[error("limit exceeded: {0}")]
    LimitExceeded(&'static str),
    /// A currency's exponent never changes: amounts already held in it would change
    /// value.
    #[error("currency {code} is already registered with exponent {exponent}")]
    CurrencyExists { code: Currency, exponent: u8 },
    #[error("storage: {0}")]
    Journal(#[from] JournalError),
}

impl CatalogError {
    fn invalid(what: &'static str, why: &'static str) -> CatalogError {
        CatalogError::Invalid { what, why }
    }
}

/// What a catalog mutation changed: the game's whole value afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
///
/// Variants are only ever added at the end: their index is part of the log format.
pub enum CatalogEffect {
    Game(Game),
    /// A registered currency (registrations are never changed or removed).
    Currency(CurrencySpec),
}

/// The whole catalog, for snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogSnapshot {
    pub games: Vec<Game>,
}

type Games = BTreeMap<GameId, Game>;
type Currencies = BTreeMap<Currency, u8>;

pub struct Catalog<J> {
    /// Read on every game-list request, written by rare admin calls: a read-write lock.
    games: RwLock<Games>,
    /// Currency → exponent. Read by every bank wallet call; written by rare admin calls.
    currencies: RwLock<Currencies>,
    journal: J,
}

impl<J: Journal<CatalogEffect>> Catalog<J> {
    pub fn new(journal: J) -> Catalog<J> {
        let defaults = currency::defaults().map(|c| (c.code, c.exponent)).collect();
        Catalog {
            games: RwLock::new(Games::new()),
            currencies: RwLock::new(defaults),
            journal,
        }
    }

    /// Applies an effect. Used live (under the write lock the caller holds for the
    /// effect's kind) and by replay.
    fn apply(&self, games: &mut Games, effect: CatalogEffect) {
        match effect {
            CatalogEffect::Game(game) => {
                games.insert(game.id.clone(), game);
            }
            CatalogEffect::Currency(spec) => {
                self.currencies.write().insert(spec.code, spec.exponent);
            }
        }
    }

    /// Registers a game. Its id, record number and serial number must all be unused.
    pub fn register(&self, new: NewGame, now_ms: i64) -> Result<(Game, Lsn), CatalogError> {
        new.validate()?;
        let mut games = self.games.write();
        if games.len() >= MAX_GAMES {
            return Err(CatalogError::LimitExceeded("too many games"));
        }
        if games.contains_key(&new.id) {
            return Err(CatalogError::GameExists(new.id));
        }
        // O(games) scans on a rare admin call keep the state free of derived indexes.
        if let Some(g) = games.values().find(|g| g.serial == new.serial) {
            return Err(CatalogError::SerialTaken {
                serial: new.serial,
                game: g.id.clone(),
            });
        }
        let record = match new.record {
            Some(r) => match games.values().find(|g| g.record == r) {
                Some(g) => {
                    return Err(CatalogError::RecordTaken {
                        record: r,
                        game: g.id.clone(),
                    })
                }
                None => r,
            },
            None => games.values().map(|g| g.record).max().unwrap_or(0) + 1,
        };
        let game = Game {
            record,
            id: new.id,
            kind: new.kind,
            serial: new.serial,
            developer: new.developer,
            uri: new.uri,
            status: new.status,
            config: new.config,
            created_at_ms: now_ms,
            versions: new.version.into_iter().collect(),
        };
        self.commit(&mut games, game)
    }

    /// Adds a version; it becomes the game's current version.
    pub fn add_version(&self, id: &GameId, version: Label) -> Result<(Game, Lsn), CatalogError> {
        if version.as_str().is_empty() {
            return Err(CatalogError::invalid("version", "must not be empty"));
        }
        let mut games = self.games.write();
        let mut game = games
            .get(id)
            .cloned()
            .ok_or_else(|| CatalogError::GameNotFound(id.clone()))?;
        if game.versions.contains(&version) {
            return Err(CatalogError::VersionExists {
                game: id.clone(),
                version,
            });
        }
        if game.versions.len() >= MAX_VERSIONS_PER_GAME {
            return Err(CatalogError::LimitExceeded("too many versions"));
        }
        game.versions.push(version);
        self.commit(&mut games, game)
    }

    pub fn set_status(&self, id: &GameId, status: GameStatus) -> Result<(Game, Lsn), CatalogError> {
        let mut games = self.games.write();
        let mut game = games
            .get(id)
            .cloned()
            .ok_or_else(|| CatalogError::GameNotFound(id.clone()))?;
        game.status = status;
        self.commit(&mut games, game)
    }

    /// Journals the game's new value, then applies it, under the caller's write lock.
    fn commit(&self, games: &mut Games, game: Game) -> Result<(Game, Lsn), CatalogError> {
        let out = game.clone();
        let effect = CatalogEffect::Game(game);
        let lsn = self.journal.append(&effect)?;
        self.apply(games, effect);
        debug_assert_eq!(games.get(&out.id), Some(&out));
        Ok((out, lsn))
    }

    pub fn get(&self, id: &GameId) -> Option<Game> {
        self.games.read().get(id).cloned()
    }

    /// `f` of the game, under the read lock: for callers that need a few fields of
    /// it on a hot path (a gate bet) without cloning the whole game.
    pub fn read_game<T>(&self, id: &GameId, f: impl FnOnce(&Game) -> T) -> Option<T> {
        self.games.read().get(id).map(f)
    }

    /// Registers a currency. Registering one again with the same exponent changes
    /// nothing (and logs nothing); with another exponent it is refused.
    pub fn register_currency(
        &self,
        spec: CurrencySpec,
    ) -> Result<(CurrencySpec, Lsn), CatalogError> {
        // The games lock orders catalog writers; the currency lock is taken inside it.
        let mut games = self.games.write();
        match self.currency_exponent(&spec.code) {
            Some(exponent) if exponent == spec.exponent => {
                return Ok((spec, self.journal.appended()))
            }
            Some(exponent) => {
                return Err(CatalogError::CurrencyExists {
                    code: spec.code,
                    exponent,
                })
            }
            None if self.currencies.read().len() >= MAX_CURRENCIES => {
                return Err(CatalogError::LimitExceeded("too many currencies"))
            }
            None => {}
        }
        let effect = CatalogEffect::Currency(spec.clone());
        let lsn = self.journal.append(&effect)?;
        self.apply(&mut games, effect);
        Ok((spec, lsn))
    }

    /// The exponent of a registered currency.
    pub fn currency_exponent(&self, code: &Currency) -> Option<u8> {
        self.currencies.read().get(code).copied()
    }

    /// Every registered currency, by code.
    pub fn currencies(&self) -> Vec<CurrencySpec> {
        let currencies = self.currencies.read();
        currencies
            .iter()
            .map(|(code, exponent)| CurrencySpec {
                code: code.clone(),
                exponent: *exponent,
            })
            .collect()
    }

    /// Adds a snapshot's currencies to the registry (the defaults stay).
    pub fn import_currencies(&self, specs: Vec<CurrencySpec>) {
        let mut currencies = self.currencies.write();
        for spec in specs {
            currencies.insert(spec.code, spec.exponent);
        }
    }

    /// Every game, newest first (by registration time, then record number).
    pub fn list(&self) -> Vec<Game> {
        let mut out: Vec<Game> = self.games.read().values().cloned().collect();
        out.sort_by_key(|g| std::cmp::Reverse((g.created_at_ms, g.record)));
        out
    }

    /// A page of a game's versions, newest first: page `page` of `size` entries.
    pub fn versions(&self, id: &GameId, page: Page) -> Result<Vec<Label>, CatalogError> {
        let games = self.games.read();
        let game = games
            .get(id)
            .ok_or_else(|| CatalogError::GameNotFound(id.clone()))?;
        Ok(page.of(game.versions.iter().rev()).cloned().collect())
    }

    /// Applies a logged effect during recovery. Idempotent.
    pub fn replay(&self, effect: CatalogEffect) {
        self.apply(&mut self.games.write(), effect);
    }

    pub fn export(&self) -> CatalogSnapshot {
        CatalogSnapshot {
            games: self.games.read().values().cloned().collect(),
        }
    }

    /// Replaces the whole catalog with a snapshot's.
    pub fn import(&self, snapshot: CatalogSnapshot) {
        let mut games = self.games.write();
        games.clear();
        for game in snapshot.games {
            self.apply(&mut games, CatalogEffect::Game(game));
        }
    }
}

#[cfg(test)]
mod tests;
