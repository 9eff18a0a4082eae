//! User endpoints (Publisher Manual §6): register-or-login, credential change, logout.
//! Argon2 runs on the blocking pool (through [`App::hashing`]), never on a worker.

use crate::identity::types::Operator;
use crate::ids::PlayerId;
use crate::server::envelope::{data, ApiError, ApiResult};
use crate::server::request::{json, parse_id};
use crate::server::App;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginBody {
    identifier: String,
    credential: String,
    /// Only the default, account and password, is supported (so `linkId`, which
    /// only other auth types use, is ignored like any unknown field).
    auth_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialBody {
    identifier: String,
    credential: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginOut {
    access_token: String,
    user_id: String,
    group_id: String,
    /// Unix seconds.
    expire_time: i64,
    wallet_id: String,
    wallet_balance: i64,
}

fn identifier(raw: &str) -> Result<PlayerId, ApiError> {
    parse_id("identifier", raw, PlayerId::new)
}

/// §6.1: registers the player if the channel has none by this identifier, else
/// checks its credential; starts a session and opens its wallet in the operator's
/// default currency. `walletBalance` of a seamless operator's player comes from the
/// operator's own wallet.
pub(super) async fn login(app: &App, op: &Arc<Operator>, body: &[u8]) -> ApiResult {
    let body: LoginBody = json(body)?;
    match body.auth_type.as_deref() {
        None | Some("") | Some("password") => {}
        Some(_) => return Err(ApiError::invalid("authType must be \"password\" or absent")),
    }
    let player = identifier(&body.identifier)?;
    let (engine, op2) = (app.engine.clone(), op.clone());
    let pending = app
        .hashing(move || engine.login_player_pending(&op2, &player, &body.credential))
        .await?;
    let s = pending.await?;
    // A seamless operator's players keep their money in its own wallet: ask it. The
    // login itself stands (it is durable) if the wallet does not answer.
    let balance = if app.engine.is_seamless(&op.channel) {
        let player = &s.login.player.identifier;
        app.engine
            .seamless_balance(&op.channel, player, &op.currency)
            .await?
    } else {
        s.balance.available
    };
    data(&LoginOut {
        access_token: s.login.session.token.expose().to_owned(),
        user_id: s.login.player.uid.to_string(),
        group_id: op.channel.to_string(),
        expire_time: s.login.session.expires_at_ms.div_euclid(1000),
        wallet_id: s.wallet.to_string(),
        wallet_balance: balance.minor_units(),
    })
}

/// §6.2: sets a new credential for an existing player of the channel and ends its
/// sessions (the Publisher Manual sends no old credential: the signed operator vouches).
pub(super) async fn update(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: CredentialBody = json(body)?;
    let player = identifier(&body.identifier)?;
    let (engine, channel) = (app.engine.clone(), op.channel.clone());
    let pending = app
        .hashing(move || {
            engine.update_player_credential_pending(&channel, &player, &body.credential)
        })
        .await?;
    pending.await?;
    data(&())
}

/// §6.3: ends every session of the player, if the credential matches.
pub(super) async fn logout(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: CredentialBody = json(body)?;
    let player = identifier(&body.identifier)?;
    let (engine, channel) = (app.engine.clone(), op.channel.clone());
    let pending = app
        .hashing(move || engine.logout_player_pending(&channel, &player, &body.credential))
        .await?;
    pending.await?;
    data(&())
}
