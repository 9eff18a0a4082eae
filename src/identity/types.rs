//! The records identity keeps: operators (API clients), players, and sessions.

use crate::ids::{ChannelId, ClientId, Currency, PlayerId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A secret string (API key, app secret, password hash, session token). Its `Debug`
/// does not print it, so that secrets never reach a log by accident.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Secret {
        Secret(s)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Where an operator's players keep their money (ARCHITECTURE.md, "Wallet modes").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WalletMode {
    /// In the platform's ledger; the operator deposits and withdraws (Publisher Manual §4).
    Transfer,
    /// In the operator's own wallet, called for every round (the bank and gate wallet API documents).
    Seamless,
}

/// Which wallet API a seamless operator's own wallet speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WalletDialect {
    /// `/getBalance`, `/bet`, `/win`, `/refund` (the gate wallet API).
    Gate,
    /// `/api/bank/...` (the bank wallet API).
    Bank,
}

/// Where a seamless operator keeps its players' money: its wallet's dialect and base
/// URL (`http` or `https`, at most [`RemoteWallet::MAX_URL_LEN`] bytes).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RemoteWallet {
    pub dialect: WalletDialect,
    pub url: String,
}

impl RemoteWallet {
    pub const MAX_URL_LEN: usize = 2048;

    /// Checks the URL's form: `http://` or `https://`, a host, no spaces or control
    /// characters, within the length limit.
    pub fn new(dialect: WalletDialect, url: &str) -> Option<RemoteWallet> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))?;
        let ok = url.len() <= Self::MAX_URL_LEN
            && !rest.is_empty()
            && !rest.starts_with('/')
            && !url.chars().any(|c| c.is_control() || c.is_whitespace());
        ok.then(|| RemoteWallet {
            dialect,
            url: url.to_owned(),
        })
    }
}

/// An operator: a channel (brand) and the credentials it calls the platform with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    pub client_id: ClientId,
    pub channel: ChannelId,
    /// Signs platform API requests (Publisher Manual §1); never sent on the wire by clients.
    pub api_key: Secret,
    /// Public key of the wallet dialects (`app_key`, `X-API-Key`).
    pub app_key: String,
    /// Signs the wallet dialects' requests.
    pub app_secret: Secret,
    /// The default currency: players' wallets are opened in it at login.
    pub currency: Currency,
    /// Further currencies the operator may use.
    pub other_currencies: Vec<Currency>,
    pub wallet_mode: WalletMode,
    /// Argon2id hash (PHC string) of the password `pitboss login` checks.
    pub password_hash: Secret,
    pub created_at_ms: i64,
}

impl Operator {
    /// Every currency, the default first.
    pub fn currencies(&self) -> impl Iterator<Item = &Currency> {
        std::iter::once(&self.currency).chain(self.other_currencies.iter())
    }
}

/// What an administrator submits to create an operator. Keys are generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOperator {
    pub client_id: ClientId,
    pub channel: ChannelId,
    /// At least one; the first is the default.
    pub currencies: Vec<Currency>,
    pub wallet_mode: WalletMode,
    pub password: String,
}

/// A player's platform-assigned number (`userId` in Publisher Manual §6, `uid` in the gate wallet API document).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Uid(pub u64);

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A player of one channel, with the sessions it has open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Player {
    pub uid: Uid,
    pub channel: ChannelId,
    /// The operator's identifier of the player.
    pub identifier: PlayerId,
    /// Argon2id hash (PHC string) of the player's credential.
    pub credential_hash: Secret,
    pub created_at_ms: i64,
    /// Unexpired sessions, oldest first (expired ones are dropped at the next change).
    pub sessions: Vec<Session>,
}

/// A login session: a 256-bit random token, valid until it expires or the player
/// logs out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// 64 lowercase hex digits.
    pub token: Secret,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}
