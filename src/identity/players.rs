//! Players: register-or-login, credential change, logout, and session look-up
//! (Publisher Manual §6). Credentials are verified and hashed before the lock is taken.

use super::types::{Player, Secret, Session, Uid};
use super::{apply_player, check_credential, secrets, Identity, IdentityEffect, IdentityError};
use super::{PlayerKey, Players};
use crate::ids::{ChannelId, PlayerId};
use crate::journal::{Journal, Lsn};
use std::sync::atomic::Ordering;

/// The outcome of a login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerLogin {
    pub player: Player,
    /// The session this login started.
    pub session: Session,
    /// True when this login registered the player.
    pub registered: bool,
}

/// How many times a request re-checks a player that changed while it was hashing.
const ATTEMPTS: usize = 3;

impl<J: Journal<IdentityEffect>> Identity<J> {
    pub fn player(&self, channel: &ChannelId, id: &PlayerId) -> Option<Player> {
        let key = (channel.clone(), id.clone());
        self.players.read().by_key.get(&key).cloned()
    }

    /// True when `channel` has a player `id`.
    pub fn has_player(&self, channel: &ChannelId, id: &PlayerId) -> bool {
        let key = (channel.clone(), id.clone());
        self.players.read().by_key.contains_key(&key)
    }

    /// The platform uid of `channel`'s player `id` (no copy of the player).
    pub fn uid_of(&self, channel: &ChannelId, id: &PlayerId) -> Option<Uid> {
        let key = (channel.clone(), id.clone());
        self.players.read().by_key.get(&key).map(|p| p.uid)
    }

    /// The channel and identifier of the player with platform uid `uid`.
    pub fn player_by_uid(&self, uid: Uid) -> Option<(ChannelId, PlayerId)> {
        self.players.read().by_uid.get(&uid).cloned()
    }

    /// The player whose unexpired session `token` is.
    pub fn session_player(&self, token: &str, now_ms: i64) -> Option<(Player, Session)> {
        let players = self.players.read();
        let key = players.tokens.get(&Secret::new(token.to_owned()))?;
        let player = players.by_key.get(key)?;
        let session = player
            .sessions
            .iter()
            .find(|s| s.token.expose() == token && s.expires_at_ms > now_ms)?;
        Some((player.clone(), session.clone()))
    }

    /// Logs a player in, registering it first if the channel has no player `id`
    /// (Publisher Manual §6.1). A known player must present its credential.
    pub fn login(
        &self,
        channel: &ChannelId,
        id: &PlayerId,
        credential: &str,
        now_ms: i64,
    ) -> Result<(PlayerLogin, Lsn), IdentityError> {
        check_credential("credential", credential)?;
        let key = (channel.clone(), id.clone());
        for _ in 0..ATTEMPTS {
            let known = self.stored_hash(&key);
            let registering = known.is_none();
            let hash = match known {
                Some(hash) if secrets::verify(credential, &hash)? => hash,
                Some(_) => return Err(IdentityError::WrongCredential),
                None => self.config.argon2.hash(credential)?,
            };
            let session = Session {
                token: Secret::new(secrets::random_hex::<32>()?),
                created_at_ms: now_ms,
                expires_at_ms: now_ms.saturating_add(self.config.session_ttl_ms),
            };
            let mut players = self.players.write();
            let mut player = match players.by_key.get(&key) {
                Some(p) if !registering && p.credential_hash == hash => p.clone(),
                // Registered, or its credential changed, while we were hashing: again.
                Some(_) => continue,
                None if registering => self.new_player(&players, &key, hash, now_ms)?,
                None => continue,
            };
            self.keep_live_sessions(&mut player, now_ms, 1);
            player.sessions.push(session.clone());
            let (player, lsn) = self.commit(&mut players, player)?;
            let login = PlayerLogin {
                player,
                session,
                registered: registering,
            };
            return Ok((login, lsn));
        }
        Err(IdentityError::Contended)
    }

    /// Sets a new credential for an existing player of the channel, and ends its
    /// sessions. The Publisher Manual sends only the identifier and the new credential: the
    /// operator, authenticated by its signature, vouches for the change.
    pub fn update_credential(
        &self,
        channel: &ChannelId,
        id: &PlayerId,
        credential: &str,
    ) -> Result<(Player, Lsn), IdentityError> {
        check_credential("credential", credential)?;
        let key = (channel.clone(), id.clone());
        if self.stored_hash(&key).is_none() {
            return Err(IdentityError::PlayerNotFound(id.clone()));
        }
        let hash = self.config.argon2.hash(credential)?;
        let mut players = self.players.write();
        let mut player = players
            .by_key
            .get(&key)
            .cloned()
            .ok_or_else(|| IdentityError::PlayerNotFound(id.clone()))?;
        player.credential_hash = hash;
        player.sessions.clear();
        self.commit(&mut players, player)
    }

    /// Ends every session of the player, if `credential` is its credential. Returns
    /// how many live sessions were ended.
    pub fn logout(
        &self,
        channel: &ChannelId,
        id: &PlayerId,
        credential: &str,
        now_ms: i64,
    ) -> Result<(usize, Lsn), IdentityError> {
        check_credential("credential", credential)?;
        let key = (channel.clone(), id.clone());
        for _ in 0..ATTEMPTS {
            let hash = self
                .stored_hash(&key)
                .ok_or_else(|| IdentityError::PlayerNotFound(id.clone()))?;
            if !secrets::verify(credential, &hash)? {
                return Err(IdentityError::WrongCredential);
            }
            let mut players = self.players.write();
            let mut player = match players.by_key.get(&key) {
                Some(p) if p.credential_hash == hash => p.clone(),
                _ => continue,
            };
            let ended = player
                .sessions
                .iter()
                .filter(|s| s.expires_at_ms > now_ms)
                .count();
            player.sessions.clear();
            let (_, lsn) = self.commit(&mut players, player)?;
            return Ok((ended, lsn));
        }
        Err(IdentityError::Contended)
    }

    fn stored_hash(&self, key: &PlayerKey) -> Option<Secret> {
        let players = self.players.read();
        players.by_key.get(key).map(|p| p.credential_hash.clone())
    }

    fn new_player(
        &self,
        players: &Players,
        key: &PlayerKey,
        hash: Secret,
        now_ms: i64,
    ) -> Result<Player, IdentityError> {
        if players.by_key.len() >= self.config.max_players {
            return Err(IdentityError::LimitExceeded("too many players"));
        }
        Ok(Player {
            uid: Uid(self.next_uid.fetch_add(1, Ordering::Relaxed)),
            channel: key.0.clone(),
            identifier: key.1.clone(),
            credential_hash: hash,
            created_at_ms: now_ms,
            sessions: Vec::new(),
        })
    }

    /// Drops expired sessions, and the oldest live ones so that `room` more fit.
    fn keep_live_sessions(&self, player: &mut Player, now_ms: i64, room: usize) {
        player.sessions.retain(|s| s.expires_at_ms > now_ms);
        let keep = self.config.max_sessions_per_player.saturating_sub(room);
        let excess = player.sessions.len().saturating_sub(keep);
        player.sessions.drain(..excess);
    }

    /// Journals the player's new value, then applies it, under the caller's lock.
    fn commit(
        &self,
        players: &mut Players,
        player: Player,
    ) -> Result<(Player, Lsn), IdentityError> {
        debug_assert!(player.sessions.len() <= self.config.max_sessions_per_player.max(1));
        let lsn = self
            .journal
            .append(&IdentityEffect::Player(player.clone()))?;
        apply_player(players, player.clone());
        Ok((player, lsn))
    }
}
