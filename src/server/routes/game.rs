//! Game endpoints (Publisher Manual §3): the catalog, game records, incomplete games and
//! expiring them. Everything is filtered to the caller's channel.

use crate::catalog::game::{Game, GameStatus};
use crate::identity::types::Operator;
use crate::ids::{GameId, PlayerId};
use crate::ledger::records::{GameRecord, PageDirection, RecordQuery};
use crate::ledger::{ExpireScope, Expiry, IncompleteGame};
use crate::paging::{self, Page};
use crate::server::envelope::{data, data_with_cursor, ApiError, ApiResult, ErrorCode};
use crate::server::iso8601::iso8601;
use crate::server::request::{self, json, json_or_default, parse_filter, parse_id};
use crate::server::App;
use hyper::Uri;
use serde::{Deserialize, Serialize};

/// A game in the list (§3.1).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GameSummary<'a> {
    id: u64,
    game_id: &'a str,
    game_type: &'a str,
    serial_no: u32,
    developer_id: &'a str,
    version: &'a str,
    uri: &'a str,
}

/// A game's details (§3.3).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GameInfo<'a> {
    #[serde(flatten)]
    summary: GameSummary<'a>,
    status: i32,
    config: &'a str,
    create_at: String,
}

pub(crate) fn summary(g: &Game) -> GameSummary<'_> {
    GameSummary {
        id: g.record,
        game_id: g.id.as_str(),
        game_type: g.kind.as_str(),
        serial_no: g.serial,
        developer_id: g.developer.as_str(),
        version: g.version().map_or("", |v| v.as_str()),
        uri: &g.uri,
    }
}

pub(crate) fn info_of(g: &Game) -> GameInfo<'_> {
    GameInfo {
        summary: summary(g),
        status: g.status.code(),
        config: &g.config,
        create_at: iso8601(g.created_at_ms),
    }
}

/// §3.1: online games only, newest first.
pub(super) fn list(app: &App) -> ApiResult {
    let games = app.engine.games();
    let online: Vec<_> = games
        .iter()
        .filter(|g| g.status == GameStatus::Online)
        .map(summary)
        .collect();
    data(&online)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionsBody {
    #[serde(alias = "game_id")]
    game_id: String,
    page: Option<i64>,
    size: Option<i64>,
}

/// §3.2: a page of versions, newest first (page from 0, size 10 by default).
pub(super) fn versions(app: &App, body: &[u8]) -> ApiResult {
    let body: VersionsBody = json(body)?;
    let game = parse_id("gameId", &body.game_id, GameId::new)?;
    let page = Page::numbered(body.page.unwrap_or(0), body.size.unwrap_or(0))
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let versions = app.engine.game_versions(&game, page)?;
    data(&versions.iter().map(|v| v.as_str()).collect::<Vec<_>>())
}

/// §3.3: one game, whatever its status, by `?gameId=` (or `?game_id=`).
pub(super) fn info(app: &App, uri: &Uri) -> ApiResult {
    let raw = request::query_param(uri, "gameId")
        .or_else(|| request::query_param(uri, "game_id"))
        .ok_or_else(|| ApiError::invalid("missing query parameter gameId"))?;
    let id = parse_id("gameId", &raw, GameId::new)?;
    let game = app
        .engine
        .game(&id)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("game {id} not found")))?;
    data(&info_of(&game))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RecordsBody {
    user_identity: Option<String>,
    action: Option<String>,
    cursor: Option<i64>,
    developer_id: Option<String>,
    channel_id: Option<String>,
    version: Option<String>,
    version_id: Option<String>,
    size: Option<i64>,
    #[serde(alias = "game_id")]
    game_id: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
}

/// A game record as §3.4 shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordOut<'a> {
    id: u64,
    game_id: &'a str,
    game_type: &'a str,
    user_identity: &'a str,
    channel_id: &'a str,
    transaction_id: &'a str,
    starting_credit: i64,
    ending_credit: i64,
    base_win: i64,
    free_win: i64,
    bonus_win: i64,
    jackpot_win: i64,
    total_win: i64,
    total_bet: i64,
    base_bet: i64,
    line: i32,
    multiple: i32,
    play_time: i64,
    create_at: String,
    version: &'a str,
    developer_id: &'a str,
}

fn record_out(r: &GameRecord) -> RecordOut<'_> {
    RecordOut {
        id: r.id.0,
        game_id: r.game.id.as_str(),
        game_type: r.game.kind.as_str(),
        user_identity: r.player.as_str(),
        channel_id: r.channel.as_str(),
        transaction_id: r.transaction_id.as_str(),
        starting_credit: r.starting_credit.minor_units(),
        ending_credit: r.ending_credit.minor_units(),
        base_win: r.base_win.minor_units(),
        free_win: r.free_win.minor_units(),
        bonus_win: r.bonus_win.minor_units(),
        jackpot_win: r.jackpot_win.minor_units(),
        total_win: r.total_win.minor_units(),
        total_bet: r.total_bet.minor_units(),
        base_bet: r.meta.base_bet,
        line: r.meta.line,
        multiple: r.meta.multiple,
        play_time: r.play_time_secs,
        create_at: iso8601(r.created_at_ms),
        version: r.game.version.as_str(),
        developer_id: r.game.developer.as_str(),
    }
}

/// A filter string: absent or empty means none; otherwise at most `max` bytes.
fn text_filter(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.len() > max => Err(ApiError::invalid(format!("{field} is too long"))),
        Some(v) if !v.is_empty() => Ok(Some(v)),
        _ => Ok(None),
    }
}

/// An optional time bound in Unix seconds: absent or 0 means unbounded.
fn time_bound(field: &str, value: Option<i64>) -> Result<i64, ApiError> {
    match value.unwrap_or(0) {
        v if v < 0 => Err(ApiError::invalid(format!("{field} must not be negative"))),
        v => Ok(v),
    }
}

fn record_query(body: RecordsBody) -> Result<RecordQuery, ApiError> {
    let direction = match body.action.as_deref() {
        None | Some("") | Some("next") => PageDirection::Next,
        Some("prev") => PageDirection::Prev,
        Some(_) => return Err(ApiError::invalid("action must be \"next\" or \"prev\"")),
    };
    let non_empty = |v: Option<String>| v.filter(|v| !v.is_empty());
    // The field table says `version`, the example sends `versionId`: both are read.
    let version = match (non_empty(body.version), non_empty(body.version_id)) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::invalid("version and versionId differ"))
        }
        (a, b) => a.or(b),
    };
    let max = crate::ids::Label::MAX_LEN;
    Ok(RecordQuery {
        player: parse_filter("userIdentity", body.user_identity.as_deref(), PlayerId::new)?,
        game: text_filter("gameId", body.game_id, GameId::MAX_LEN)?,
        developer: text_filter("developerId", body.developer_id, max)?,
        version: text_filter("version", version, max)?,
        start_time_secs: time_bound("startTime", body.start_time)?,
        end_time_secs: time_bound("endTime", body.end_time)?,
        cursor: request::non_negative("cursor", body.cursor)?,
        direction,
        size: paging::page_size(body.size.unwrap_or(0))
            .map_err(|e| ApiError::invalid(e.to_string()))?,
    })
}

/// §3.4: a page of the caller's game records, newest first, paged by cursor.
pub(super) fn records(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: RecordsBody = json_or_default(body)?;
    let other_channel = body
        .channel_id
        .as_deref()
        .is_some_and(|c| !c.is_empty() && c != op.channel.as_str());
    let query = record_query(body)?;
    if other_channel {
        // Another channel's records are never shown: the filter matches nothing.
        return data(&Vec::<RecordOut>::new());
    }
    let page = app.engine.game_records(&op.channel, &query)?;
    let records: Vec<RecordOut> = page.records.iter().map(record_out).collect();
    data_with_cursor(&records, page.stopped_at.map(|id| id.0))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IncompleteOut<'a> {
    user_identity: &'a str,
    game_id: &'a str,
    bet_amount: i64,
    total_win: i64,
    game_status: i32,
    error: &'a str,
}

fn incomplete_out(g: &IncompleteGame) -> IncompleteOut<'_> {
    IncompleteOut {
        user_identity: g.player.as_str(),
        game_id: g.game.as_str(),
        bet_amount: g.bet_amount.minor_units(),
        total_win: g.total_win.minor_units(),
        game_status: g.status.code(),
        error: &g.error,
    }
}

/// §3.5: the channel's unclosed rounds, oldest first.
pub(super) fn incomplete(app: &App, op: &Operator) -> ApiResult {
    let games = app.engine.incomplete_games(&op.channel, None);
    data(&games.iter().map(incomplete_out).collect::<Vec<_>>())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PlayerBody {
    user_identity: Option<String>,
}

/// `userIdentity` from the query string, else from a JSON body; required.
fn user_identity(uri: Option<&Uri>, body: &[u8]) -> Result<PlayerId, ApiError> {
    let raw = match uri.and_then(|u| request::query_param(u, "userIdentity")) {
        Some(v) => v,
        None => json_or_default::<PlayerBody>(body)?
            .user_identity
            .ok_or_else(|| ApiError::invalid("missing field userIdentity"))?,
    };
    parse_id("userIdentity", &raw, PlayerId::new)
}

/// §3.6: one player's unclosed rounds.
pub(super) fn player_resume(app: &App, op: &Operator, uri: &Uri, body: &[u8]) -> ApiResult {
    let player = user_identity(Some(uri), body)?;
    let games = app.engine.incomplete_games(&op.channel, Some(&player));
    data(&games.iter().map(incomplete_out).collect::<Vec<_>>())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExpiryOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    user_identity: Option<&'a str>,
    game_id: &'a str,
    is_expired: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Seamless mode: what the operator's wallet still owes the player for the round
    /// (a credit or a bet's return whose retries the expiry stopped). Absent when 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    unpaid: Option<i64>,
}

fn expiry_out(e: &Expiry, with_player: bool) -> ExpiryOut<'_> {
    ExpiryOut {
        user_identity: with_player.then(|| e.player.as_str()),
        game_id: e.game.as_str(),
        is_expired: e.result.is_ok(),
        error: e.result.as_ref().err().map(ToString::to_string),
        unpaid: e.unpaid.is_positive().then(|| e.unpaid.minor_units()),
    }
}

/// §3.7: expires every unclosed round of one player (open bets are refunded).
pub(super) async fn expire_player(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let player = user_identity(None, body)?;
    let pending = app.engine.expire(ExpireScope::Player(&op.channel, &player));
    let expired = pending.await?;
    data(
        &expired
            .iter()
            .map(|e| expiry_out(e, false))
            .collect::<Vec<_>>(),
    )
}

/// §3.8: expires every unclosed round of the channel.
pub(super) async fn expire_all(app: &App, op: &Operator) -> ApiResult {
    let pending = app.engine.expire(ExpireScope::Channel(&op.channel));
    let expired = pending.await?;
    data(
        &expired
            .iter()
            .map(|e| expiry_out(e, true))
            .collect::<Vec<_>>(),
    )
}
