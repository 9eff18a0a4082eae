//! Identities: operators (API clients with their keys) and players (with hashed
//! credentials and login sessions). Secrets are stored only as Argon2id hashes;
//! session tokens are 256 random bits that expire and end at logout.
//!
//! # Mutation
//! Like the ledger: a mutation computes the record's whole next value under the
//! write lock, hands it to the journal as an [`IdentityEffect`] while the lock is
//! held, then applies it with the function replay uses. Effects are resulting values
//! keyed by client id or by (channel, player), so replaying one twice changes nothing.
//!
//! Argon2 hashing and verification run before the lock is taken, never under it; an
//! effect carries the finished hash, so replay never hashes.

mod players;
pub mod secrets;
pub mod types;

use crate::ids::{ChannelId, ClientId, PlayerId};
use crate::journal::{Journal, JournalError, Lsn};
use parking_lot::RwLock;
use secrets::Argon2Params;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use types::*;

pub use players::PlayerLogin;

/// Longest accepted player credential or operator password, in bytes (Publisher Manual §6).
pub const MAX_CREDENTIAL_LEN: usize = 256;
/// Most operators the platform holds.
pub const MAX_OPERATORS: usize = 10_000;
/// Most currencies one operator may use.
pub const MAX_CURRENCIES: usize = 16;

/// Identity settings.
#[derive(Clone, Debug)]
pub struct IdentityConfig {
    /// Cost of hashing new credentials and passwords.
    pub argon2: Argon2Params,
    /// How long a session token stays valid.
    pub session_ttl_ms: i64,
    /// Most sessions a player keeps; a login beyond it ends the oldest.
    pub max_sessions_per_player: usize,
    /// Most players across all channels.
    pub max_players: usize,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            argon2: Argon2Params::default(),
            session_ttl_ms: 24 * 60 * 60 * 1000,
            max_sessions_per_player: 8,
            max_players: 10_000_000,
        }
    }
}

/// Identity's errors. A returned error means nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    #[error("operator {0} already exists")]
    OperatorExists(ClientId),
    #[error("channel {0} already belongs to an operator")]
    ChannelTaken(ChannelId),
    #[error("operator {0} not found")]
    OperatorNotFound(ClientId),
    #[error("player {0} not found")]
    PlayerNotFound(PlayerId),
    #[error("wrong credential")]
    WrongCredential,
    #[error("invalid {what}: {why}")]
    Invalid {
        what: &'static str,
        why: &'static str,
    },
    #[error("limit exceeded: {0}")]
    LimitExceeded(&'static str),
    /// The player's credential changed while this request was checking it, twice.
    #[error("the player was changed concurrently; retry")]
    Contended,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the OS random number generator failed: {0}")]
    Rng(String),
    #[error("storage: {0}")]
    Journal(#[from] JournalError),
}

/// What an identity mutation changed: a record's whole value afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
///
/// Variants are only ever added at the end: their index is part of the log format.
pub enum IdentityEffect {
    Operator(Operator),
    /// The player, its credential hash and its sessions, as they are now.
    Player(Player),
    /// Where an operator's players keep their money: the operator as it is now (its
    /// wallet mode), and its remote wallet (`None` in transfer mode).
    Wallet {
        operator: Operator,
        remote: Option<RemoteWallet>,
    },
}

/// Every identity, for snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentitySnapshot {
    pub operators: Vec<Operator>,
    pub players: Vec<Player>,
}

type PlayerKey = (ChannelId, PlayerId);

#[derive(Default)]
struct Players {
    by_key: HashMap<PlayerKey, Player, foldhash::fast::RandomState>,
    /// Session token → its player. Derived from `by_key`; kept in step by `apply`.
    tokens: HashMap<Secret, PlayerKey, foldhash::fast::RandomState>,
    /// Platform uid → its player, for the gate wallet API, which names players by
    /// uid. Derived from `by_key`; kept in step by `apply` (a player's uid never
    /// changes).
    by_uid: HashMap<Uid, PlayerKey, foldhash::fast::RandomState>,
}

/// Operators by client id, and the same operators by their public `appKey` (the wallet
/// APIs name the operator by it).
#[derive(Default)]
struct Operators {
    by_client: HashMap<ClientId, Arc<Operator>, foldhash::fast::RandomState>,
    /// Derived from `by_client`; kept in step by `apply_operator`.
    by_app_key: HashMap<String, Arc<Operator>, foldhash::fast::RandomState>,
    /// The remote wallets of seamless operators (snapshot section `RemoteWallets`).
    remote: HashMap<ClientId, RemoteWallet, foldhash::fast::RandomState>,
}

pub struct Identity<J> {
    config: IdentityConfig,
    /// Read on every signed request (the API key), written by rare admin calls.
    operators: RwLock<Operators>,
    /// Players and sessions: written at login, logout and credential change. Never
    /// held while hashing.
    players: RwLock<Players>,
    next_uid: AtomicU64,
    /// A hash to verify against when an operator login names no operator, so that
    /// the answer takes as long as for a wrong password (no client-id probing).
    decoy_hash: OnceLock<Option<Secret>>,
    journal: J,
}

fn apply_operator(ops: &mut Operators, op: Operator) {
    let op = Arc::new(op);
    if let Some(old) = ops.by_client.insert(op.client_id.clone(), op.clone()) {
        ops.by_app_key.remove(&old.app_key);
    }
    ops.by_app_key.insert(op.app_key.clone(), op);
}

/// A copy of `client`'s operator, to change and log.
fn operator_copy(ops: &Operators, client: &ClientId) -> Result<Operator, IdentityError> {
    ops.by_client
        .get(client)
        .map(|o| (**o).clone())
        .ok_or_else(|| IdentityError::OperatorNotFound(client.clone()))
}

/// An operator's new wallet mode, and its remote wallet (removed in transfer mode).
fn apply_wallet(ops: &mut Operators, operator: Operator, remote: Option<RemoteWallet>) {
    let client = operator.client_id.clone();
    apply_operator(ops, operator);
    match remote {
        Some(r) => ops.remote.insert(client, r),
        None => ops.remote.remove(&client),
    };
}

fn apply_player(players: &mut Players, player: Player) {
    let key = (player.channel.clone(), player.identifier.clone());
    if let Some(old) = players.by_key.get(&key) {
        for s in &old.sessions {
            players.tokens.remove(&s.token);
        }
    }
    for s in &player.sessions {
        let previous = players.tokens.insert(s.token.clone(), key.clone());
        // Tokens are 256 random bits: one belonging to another player is a bug.
        debug_assert!(
            previous.is_none_or(|k| k == key),
            "a session token of two players"
        );
    }
    players.by_uid.insert(player.uid, key.clone());
    players.by_key.insert(key, player);
}

impl<J: Journal<IdentityEffect>> Identity<J> {
    pub fn new(config: IdentityConfig, journal: J) -> Identity<J> {
        Identity {
            config,
            operators: RwLock::new(Operators::default()),
            players: RwLock::new(Players::default()),
            next_uid: AtomicU64::new(1),
            decoy_hash: OnceLock::new(),
            journal,
        }
    }

    pub fn config(&self) -> &IdentityConfig {
        &self.config
    }

    /// Creates an operator with fresh random keys. Hashes the password first (slow,
    /// outside the lock).
    pub fn create_operator(
        &self,
        new: NewOperator,
        now_ms: i64,
    ) -> Result<(Operator, Lsn), IdentityError> {
        check_credential("password", &new.password)?;
        let mut currencies = new.currencies.into_iter();
        let currency = currencies.next().ok_or(IdentityError::Invalid {
            what: "currencies",
            why: "at least one is needed",
        })?;
        let other_currencies: Vec<_> = currencies.collect();
        if other_currencies.len() >= MAX_CURRENCIES {
            return Err(IdentityError::LimitExceeded("too many currencies"));
        }
        let op = Operator {
            client_id: new.client_id,
            channel: new.channel,
            api_key: Secret::new(secrets::random_base36(32)?),
            app_key: secrets::random_hex::<16>()?,
            app_secret: Secret::new(secrets::random_hex::<32>()?),
            currency,
            other_currencies,
            wallet_mode: new.wallet_mode,
            password_hash: self.config.argon2.hash(&new.password)?,
            created_at_ms: now_ms,
        };
        let mut ops = self.operators.write();
        if ops.by_client.contains_key(&op.client_id) {
            return Err(IdentityError::OperatorExists(op.client_id));
        }
        if ops.by_client.values().any(|o| o.channel == op.channel) {
            return Err(IdentityError::ChannelTaken(op.channel));
        }
        // 128 random bits: a repeat is a broken RNG, not bad luck.
        if ops.by_app_key.contains_key(&op.app_key) {
            return Err(IdentityError::Rng("an appKey was generated twice".into()));
        }
        if ops.by_client.len() >= MAX_OPERATORS {
            return Err(IdentityError::LimitExceeded("too many operators"));
        }
        let effect = IdentityEffect::Operator(op.clone());
        let lsn = self.journal.append(&effect)?;
        apply_operator(&mut ops, op.clone());
        Ok((op, lsn))
    }

    pub fn operator(&self, client: &ClientId) -> Option<Arc<Operator>> {
        self.operators.read().by_client.get(client).cloned()
    }

    /// The operator whose public `appKey` is `app_key` (the wallet APIs' caller).
    pub fn operator_by_app_key(&self, app_key: &str) -> Option<Arc<Operator>> {
        self.operators.read().by_app_key.get(app_key).cloned()
    }

    /// The operator of `channel`.
    pub fn operator_of(&self, channel: &ChannelId) -> Option<Arc<Operator>> {
        let ops = self.operators.read();
        ops.by_client
            .values()
            .find(|o| &o.channel == channel)
            .cloned()
    }

    /// Every operator, by client id.
    pub fn operators(&self) -> Vec<Arc<Operator>> {
        let mut out: Vec<_> = self.operators.read().by_client.values().cloned().collect();
        out.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        out
    }

    /// The operator, if `password` is its password (`pitboss login`). Verifies
    /// outside every lock.
    pub fn operator_login(
        &self,
        client: &ClientId,
        password: &str,
    ) -> Result<Arc<Operator>, IdentityError> {
        let Some(op) = self.operator(client) else {
            let decoy = self
                .decoy_hash
                .get_or_init(|| self.config.argon2.hash("decoy").ok());
            if let Some(hash) = decoy {
                let _ = secrets::verify(password, hash);
            }
            return Err(IdentityError::OperatorNotFound(client.clone()));
        };
        if password.len() > MAX_CREDENTIAL_LEN || !secrets::verify(password, &op.password_hash)? {
            return Err(IdentityError::WrongCredential);
        }
        Ok(op)
    }

    /// Sets where an operator's players keep their money: transfer mode (no remote
    /// wallet), or seamless mode with its wallet's dialect and URL.
    pub fn set_wallet(
        &self,
        client: &ClientId,
        mode: WalletMode,
        remote: Option<RemoteWallet>,
    ) -> Result<(Operator, Lsn), IdentityError> {
        let wrong = |why| IdentityError::Invalid {
            what: "wallet",
            why,
        };
        match (mode, &remote) {
            (WalletMode::Transfer, Some(_)) => {
                return Err(wrong("transfer mode has no remote wallet"))
            }
            (WalletMode::Seamless, None) => return Err(wrong("seamless mode needs a wallet URL")),
            _ => {}
        }
        let mut ops = self.operators.write();
        let mut operator = operator_copy(&ops, client)?;
        operator.wallet_mode = mode;
        let effect = IdentityEffect::Wallet {
            operator: operator.clone(),
            remote: remote.clone(),
        };
        let lsn = self.journal.append(&effect)?;
        apply_wallet(&mut ops, operator.clone(), remote);
        Ok((operator, lsn))
    }

    /// Sets the keys the wallet APIs are signed with (`appKey`, `appSecret`): an
    /// operator whose own wallet already verifies calls with keys it was given, or a
    /// wallet standing in for another platform's (tests), keeps them. The appKey must
    /// be no other operator's; both are 16 to 128 characters of `[A-Za-z0-9_-]`.
    pub fn set_wallet_keys(
        &self,
        client: &ClientId,
        app_key: &str,
        app_secret: &str,
    ) -> Result<(Operator, Lsn), IdentityError> {
        let well_formed = |s: &str| {
            (16..=128).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !well_formed(app_key) || !well_formed(app_secret) {
            return Err(IdentityError::Invalid {
                what: "appKey and appSecret",
                why: "16 to 128 characters of letters, digits, '_' and '-'",
            });
        }
        let mut ops = self.operators.write();
        let mut operator = operator_copy(&ops, client)?;
        if ops
            .by_app_key
            .get(app_key)
            .is_some_and(|o| &o.client_id != client)
        {
            return Err(IdentityError::Invalid {
                what: "appKey",
                why: "another operator has it",
            });
        }
        operator.app_key = app_key.to_owned();
        operator.app_secret = Secret::new(app_secret.to_owned());
        let effect = IdentityEffect::Operator(operator.clone());
        let lsn = self.journal.append(&effect)?;
        apply_operator(&mut ops, operator.clone());
        Ok((operator, lsn))
    }

    /// The remote wallet of a seamless operator.
    pub fn remote_wallet(&self, client: &ClientId) -> Option<RemoteWallet> {
        self.operators.read().remote.get(client).cloned()
    }

    /// Every remote wallet, for snapshots.
    pub fn export_remote_wallets(&self) -> Vec<(ClientId, RemoteWallet)> {
        let ops = self.operators.read();
        let mut out: Vec<_> = ops
            .remote
            .iter()
            .map(|(c, r)| (c.clone(), r.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Adds a snapshot's remote wallets (after its operators were imported).
    pub fn import_remote_wallets(&self, wallets: Vec<(ClientId, RemoteWallet)>) {
        let mut ops = self.operators.write();
        for (client, remote) in wallets {
            ops.remote.insert(client, remote);
        }
    }

    /// Applies a logged effect during recovery. Idempotent.
    pub fn replay(&self, effect: IdentityEffect) {
        match effect {
            IdentityEffect::Operator(op) => apply_operator(&mut self.operators.write(), op),
            IdentityEffect::Wallet { operator, remote } => {
                apply_wallet(&mut self.operators.write(), operator, remote)
            }
            IdentityEffect::Player(p) => {
                self.next_uid.fetch_max(p.uid.0 + 1, Ordering::Relaxed);
                apply_player(&mut self.players.write(), p);
            }
        }
    }

    pub fn export(&self) -> IdentitySnapshot {
        let operators = self.operators().iter().map(|o| (**o).clone()).collect();
        let players = self.players.read().by_key.values().cloned().collect();
        IdentitySnapshot { operators, players }
    }

    /// Replaces every identity with a snapshot's.
    pub fn import(&self, snapshot: IdentitySnapshot) {
        let mut ops = self.operators.write();
        *ops = Operators::default();
        for op in snapshot.operators {
            apply_operator(&mut ops, op);
        }
        let mut players = self.players.write();
        *players = Players::default();
        for p in snapshot.players {
            self.next_uid.fetch_max(p.uid.0 + 1, Ordering::Relaxed);
            apply_player(&mut players, p);
        }
    }
}

/// A credential or password: non-empty, at most [`MAX_CREDENTIAL_LEN`] bytes.
fn check_credential(what: &'static str, s: &str) -> Result<(), IdentityError> {
    if s.is_empty() {
        return Err(IdentityError::Invalid {
            what,
            why: "must not be empty",
        });
    }
    if s.len() > MAX_CREDENTIAL_LEN {
        return Err(IdentityError::Invalid {
            what,
            why: "longer than 256 bytes",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
