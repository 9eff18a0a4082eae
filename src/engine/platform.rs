//! The engine's platform calls: the game catalog and identities (operators, players,
//! sessions), blocking and `_pending` like the wallet calls.

use super::{wallet_key, Engine, EngineError, Pending};
use crate::catalog::currency::CurrencySpec;
use crate::catalog::game::{Game, GameStatus, NewGame};
use crate::identity::types::{
    NewOperator, Operator, Player, RemoteWallet, Session, Uid, WalletMode,
};
use crate::identity::PlayerLogin;
use crate::ids::{ChannelId, ClientId, Currency, GameId, Label, PlayerId, WalletId};
use crate::journal::Logged;
use crate::ledger::types::{Balance, GameRef};
use crate::paging::Page;
use std::sync::Arc;

/// A player's login: the session, and the wallet in the operator's default currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerSession {
    pub login: PlayerLogin,
    pub wallet: WalletId,
    pub balance: Balance,
}

impl Engine {
    /// The player whose unexpired session `token` is, with that session.
    pub fn session_player(&self, token: &str) -> Option<(Player, Session)> {
        let now_ms = self.clock.now_ms();
        self.domains.identity.session_player(token, now_ms)
    }

    /// Registers a game (an administrator's call).
    pub fn register_game(&self, new: NewGame) -> Result<Game, EngineError> {
        self.register_game_pending(new).wait()
    }

    pub fn register_game_pending(&self, new: NewGame) -> Pending<Game> {
        self.pending(self.domains.catalog.register(new, self.clock.now_ms()))
    }

    /// Adds a version to a game; it becomes the game's current version.
    pub fn add_game_version(&self, game: &GameId, version: Label) -> Result<Game, EngineError> {
        self.add_game_version_pending(game, version).wait()
    }

    pub fn add_game_version_pending(&self, game: &GameId, version: Label) -> Pending<Game> {
        self.pending(self.domains.catalog.add_version(game, version))
    }

    pub fn set_game_status(&self, game: &GameId, status: GameStatus) -> Result<Game, EngineError> {
        self.set_game_status_pending(game, status).wait()
    }

    pub fn set_game_status_pending(&self, game: &GameId, status: GameStatus) -> Pending<Game> {
        self.pending(self.domains.catalog.set_status(game, status))
    }

    pub fn game(&self, game: &GameId) -> Option<Game> {
        self.domains.catalog.get(game)
    }

    /// Every registered game, newest first.
    pub fn games(&self) -> Vec<Game> {
        self.domains.catalog.list()
    }

    /// A page of a game's versions, newest first.
    pub fn game_versions(&self, game: &GameId, page: Page) -> Result<Vec<Label>, EngineError> {
        Ok(self.domains.catalog.versions(game, page)?)
    }

    /// The game as a round records it (id, algorithm, current version, developer),
    /// with its status; `None` for a game the catalog does not know.
    pub fn game_ref(&self, game: &GameId) -> Option<(GameRef, GameStatus)> {
        self.domains.catalog.read_game(game, |g| {
            let game = GameRef {
                id: g.id.clone(),
                kind: g.kind.clone(),
                version: g.version().cloned().unwrap_or_default(),
                developer: g.developer.clone(),
            };
            (game, g.status)
        })
    }

    /// Registers a currency with its exponent (an administrator's call). Registering
    /// a known currency again with the same exponent changes nothing.
    pub fn register_currency(&self, spec: CurrencySpec) -> Result<CurrencySpec, EngineError> {
        self.register_currency_pending(spec).wait()
    }

    pub fn register_currency_pending(&self, spec: CurrencySpec) -> Pending<CurrencySpec> {
        self.pending(self.domains.catalog.register_currency(spec))
    }

    /// The exponent of a registered currency.
    pub fn currency_exponent(&self, currency: &Currency) -> Option<u8> {
        self.domains.catalog.currency_exponent(currency)
    }

    /// Every registered currency, by code.
    pub fn currencies(&self) -> Vec<CurrencySpec> {
        self.domains.catalog.currencies()
    }

    /// Creates an operator with fresh keys. Hashes its password (slow: call it off
    /// any async worker). Every currency must be registered.
    pub fn create_operator(&self, new: NewOperator) -> Result<Operator, EngineError> {
        self.create_operator_pending(new).wait()
    }

    pub fn create_operator_pending(&self, new: NewOperator) -> Pending<Operator> {
        if let Some(unknown) = new
            .currencies
            .iter()
            .find(|c| self.currency_exponent(c).is_none())
        {
            let e = EngineError::Invalid(format!("currency {unknown} is not registered"));
            return self.pending(Logged::<Operator, EngineError>::rejected(e));
        }
        self.pending(
            self.domains
                .identity
                .create_operator(new, self.clock.now_ms()),
        )
    }

    pub fn operator(&self, client: &ClientId) -> Option<Arc<Operator>> {
        self.domains.identity.operator(client)
    }

    pub fn operators(&self) -> Vec<Arc<Operator>> {
        self.domains.identity.operators()
    }

    /// Sets where an operator's players keep their money: transfer mode (`remote`
    /// `None`), or seamless mode with its own wallet's dialect and URL.
    pub fn set_operator_wallet(
        &self,
        client: &ClientId,
        mode: WalletMode,
        remote: Option<RemoteWallet>,
    ) -> Result<Operator, EngineError> {
        self.set_operator_wallet_pending(client, mode, remote)
            .wait()
    }

    pub fn set_operator_wallet_pending(
        &self,
        client: &ClientId,
        mode: WalletMode,
        remote: Option<RemoteWallet>,
    ) -> Pending<Operator> {
        let pending = self.pending(self.domains.identity.set_wallet(client, mode, remote));
        self.sync_remote_channels();
        pending
    }

    /// Sets the keys an operator's wallet-API calls are signed with (see
    /// [`Identity::set_wallet_keys`](crate::identity::Identity::set_wallet_keys)).
    pub fn set_operator_wallet_keys_pending(
        &self,
        client: &ClientId,
        app_key: &str,
        app_secret: &str,
    ) -> Pending<Operator> {
        self.pending(
            self.domains
                .identity
                .set_wallet_keys(client, app_key, app_secret),
        )
    }

    /// The remote wallet of a seamless operator.
    pub fn operator_wallet(&self, client: &ClientId) -> Option<RemoteWallet> {
        self.domains.identity.remote_wallet(client)
    }

    /// The operator of `channel`.
    pub fn operator_of_channel(&self, channel: &ChannelId) -> Option<Arc<Operator>> {
        self.domains.identity.operator_of(channel)
    }

    /// The operator whose public `appKey` is `app_key` (the wallet APIs name it so).
    pub fn operator_by_app_key(&self, app_key: &str) -> Option<Arc<Operator>> {
        self.domains.identity.operator_by_app_key(app_key)
    }

    /// True when `channel` has a player `player` (registered by `user/login`).
    pub fn has_player(&self, channel: &ChannelId, player: &PlayerId) -> bool {
        self.domains.identity.has_player(channel, player)
    }

    /// The channel and identifier of the player with platform uid `uid`.
    pub fn player_by_uid(&self, uid: Uid) -> Option<(ChannelId, PlayerId)> {
        self.domains.identity.player_by_uid(uid)
    }

    /// The operator, if `password` is its password. Verifies a hash: slow.
    pub fn operator_login(
        &self,
        client: &ClientId,
        password: &str,
    ) -> Result<Arc<Operator>, EngineError> {
        Ok(self.domains.identity.operator_login(client, password)?)
    }

    /// Registers or logs in a player of `operator` and opens its wallet in the
    /// operator's default currency (Publisher Manual §6.1). Hashes: slow.
    pub fn login_player(
        &self,
        operator: &Operator,
        player: &PlayerId,
        credential: &str,
    ) -> Result<PlayerSession, EngineError> {
        self.login_player_pending(operator, player, credential)
            .wait()
    }

    /// [`Engine::login_player`] without the durability wait (it still hashes).
    pub fn login_player_pending(
        &self,
        operator: &Operator,
        player: &PlayerId,
        credential: &str,
    ) -> Pending<PlayerSession> {
        let channel = &operator.channel;
        let now_ms = self.clock.now_ms();
        let (login, login_lsn) = match self
            .domains
            .identity
            .login(channel, player, credential, now_ms)
        {
            Ok(done) => done,
            Err(e) => return self.pending::<PlayerSession, _>(Err(e)),
        };
        let opened =
            self.domains
                .ledger
                .open_wallet(wallet_key(channel, player, &operator.currency));
        let lsn = login_lsn.max(opened.lsn);
        let session = opened.result.map_err(EngineError::from).and_then(|wallet| {
            let balance = self.domains.ledger.balance(wallet)?;
            Ok(PlayerSession {
                login,
                wallet,
                balance,
            })
        });
        Pending::new(session, lsn, self.log.clone())
    }

    /// Sets a new credential for an existing player and ends its sessions.
    pub fn update_player_credential(
        &self,
        channel: &ChannelId,
        player: &PlayerId,
        credential: &str,
    ) -> Result<Player, EngineError> {
        self.update_player_credential_pending(channel, player, credential)
            .wait()
    }

    pub fn update_player_credential_pending(
        &self,
        channel: &ChannelId,
        player: &PlayerId,
        credential: &str,
    ) -> Pending<Player> {
        self.pending(
            self.domains
                .identity
                .update_credential(channel, player, credential),
        )
    }

    /// Ends every session of a player whose credential is `credential`; returns how
    /// many live sessions ended.
    pub fn logout_player(
        &self,
        channel: &ChannelId,
        player: &PlayerId,
        credential: &str,
    ) -> Result<usize, EngineError> {
        self.logout_player_pending(channel, player, credential)
            .wait()
    }

    pub fn logout_player_pending(
        &self,
        channel: &ChannelId,
        player: &PlayerId,
        credential: &str,
    ) -> Pending<usize> {
        let now_ms = self.clock.now_ms();
        self.pending(
            self.domains
                .identity
                .logout(channel, player, credential, now_ms),
        )
    }
}
