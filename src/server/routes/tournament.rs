//! Tournament endpoints (Publisher Manual §5): create, list, info, games, bind, unbind,
//! close, delete, ranks, and `rank` (a player's own rank with the entries around it,
//! which the Manual lacks). Everything is filtered to the caller's channel: another
//! operator's tournament is "not found", exactly like one that does not exist.
//!
//! The tournament id is read as `tourneyId`, `tournamentId` or `tourney_id`, the game
//! id as `gameId` or `game_id` (the Manual's examples use all of them); answers write
//! `tourneyId` and `gameId`. Changes (create, bind, unbind, close with its payout,
//! delete) wait for the log on the blocking pool; reads answer from memory.

use super::{page, PageBody};
use crate::engine::{Engine, EngineError};
use crate::identity::types::Operator;
use crate::ids::{ChannelId, GameId, PlayerId, TourneyId};
use crate::server::envelope::{data, ApiError, ApiResult, ErrorCode};
use crate::server::iso8601::iso8601;
use crate::server::request::{json, json_or_default, parse_id};
use crate::server::tournament_spec;
use crate::server::App;
use crate::tournaments::scoring::{SCORE_DIGITS, SCORE_SCALE};
use crate::tournaments::TournamentInfo;
use crate::tournaments::{RankRow, TournamentSummary};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Most entries around a player that `rank` returns on each side.
const AROUND_MAX: usize = 100;

#[derive(Deserialize)]
struct IdBody {
    #[serde(rename = "tourneyId", alias = "tournamentId", alias = "tourney_id")]
    tourney_id: String,
}

#[derive(Deserialize)]
struct BindBody {
    #[serde(rename = "tourneyId", alias = "tournamentId", alias = "tourney_id")]
    tourney_id: String,
    #[serde(rename = "gameId", alias = "game_id")]
    game_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RanksBody {
    #[serde(rename = "tourneyId", alias = "tournamentId", alias = "tourney_id")]
    tourney_id: String,
    current_round: i64,
    offset: Option<i64>,
    limit: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RankBody {
    #[serde(rename = "tourneyId", alias = "tournamentId", alias = "tourney_id")]
    tourney_id: String,
    current_round: i64,
    user_identity: String,
    /// Entries above the player (default 5, at most 100).
    before: Option<usize>,
    /// Entries below the player (default 5, at most 100).
    after: Option<usize>,
}

fn tourney(raw: &str) -> Result<TourneyId, ApiError> {
    parse_id("tourneyId", raw, TourneyId::new)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SummaryOut<'a> {
    id: u64,
    tourney_id: &'a str,
    name: &'a str,
    rounds: usize,
    current_round: i32,
    start_time: i64,
    end_time: i64,
    channel_id: &'a str,
    status: i32,
    create_at: String,
}

fn summary_out(s: &TournamentSummary) -> SummaryOut<'_> {
    SummaryOut {
        id: s.key,
        tourney_id: s.id.as_str(),
        name: s.name.as_str(),
        rounds: s.rounds,
        current_round: s.current_round,
        start_time: s.start_secs,
        end_time: s.end_secs,
        channel_id: s.channel.as_str(),
        status: s.status.code(),
        create_at: iso8601(s.created_ms),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedRound<'a> {
    round_id: u32,
    tourney_id: &'a str,
    name: &'a str,
    start_time: i64,
    end_time: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Created<'a> {
    tourney_id: &'a str,
    name: &'a str,
    start_time: i64,
    end_time: i64,
    rounds: Vec<CreatedRound<'a>>,
}

/// Runs a change of `channel`'s tournaments on the blocking pool: it waits for the log
/// (and `close` pays prizes), which no tokio worker may block on.
async fn change<T: Send + 'static>(
    app: &App,
    channel: &ChannelId,
    f: impl FnOnce(&Engine, &ChannelId) -> Result<T, EngineError> + Send + 'static,
) -> Result<T, ApiError> {
    let (engine, channel) = (app.engine.clone(), channel.clone());
    match tokio::task::spawn_blocking(move || f(&engine, &channel)).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(_) => Err(ApiError::internal()),
    }
}

/// §5.2: creates a tournament from its spec; every §5.2.4 rule is checked.
pub(super) async fn create(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    create_in(app, &op.channel, body).await
}

/// `create` in `channel` (the admin API names the channel).
pub(crate) async fn create_in(app: &App, channel: &ChannelId, spec: &[u8]) -> ApiResult {
    let mut spec = tournament_spec::parse(spec).map_err(|e| ApiError::invalid(e.to_string()))?;
    // A leaderboard ranks one currency: scores of different minor units do not
    // compare, and a player with wallets in two currencies would rank twice. A spec
    // that names none takes the operator's default currency, the one `rank` and
    // `history` look a player up in.
    if spec.currency.is_none() {
        spec.currency = app
            .engine
            .operator_of_channel(channel)
            .map(|op| op.currency.to_string());
    }
    let info = change(app, channel, move |e, c| e.create_tournament(c, &spec)).await?;
    let id = info.summary.id.as_str();
    data(&Created {
        tourney_id: id,
        name: info.summary.name.as_str(),
        start_time: info.summary.start_secs,
        end_time: info.summary.end_secs,
        rounds: info
            .rounds
            .iter()
            .map(|r| CreatedRound {
                round_id: r.round,
                tourney_id: id,
                name: r.name.as_str(),
                start_time: r.start_secs,
                end_time: r.end_secs,
            })
            .collect(),
    })
}

/// §5.3: the channel's tournaments, newest first.
pub(super) fn list(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    list_in(app, &op.channel, body)
}

/// `list` of `channel`'s tournaments.
pub(crate) fn list_in(app: &App, channel: &ChannelId, body: &[u8]) -> ApiResult {
    let body: PageBody = json_or_default(body)?;
    let page = page(body.offset, body.limit)?;
    let list = app.engine.list_tournaments(channel, page);
    data(&list.iter().map(summary_out).collect::<Vec<_>>())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RoundOut<'a> {
    round_id: u32,
    name: &'a str,
    tourney_id: &'a str,
    leaderboard_id: &'a str,
    start_time: i64,
    end_time: i64,
    create_at: String,
}

/// §5.4.3: the summary's fields, with `rounds` the list of rounds (not their count).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InfoOut<'a> {
    id: u64,
    tourney_id: &'a str,
    name: &'a str,
    current_round: i32,
    start_time: i64,
    end_time: i64,
    channel_id: &'a str,
    status: i32,
    create_at: String,
    rounds: Vec<RoundOut<'a>>,
    games: Vec<&'a str>,
}

fn info_out(info: &TournamentInfo) -> InfoOut<'_> {
    let s = &info.summary;
    let id = s.id.as_str();
    InfoOut {
        id: s.key,
        tourney_id: id,
        name: s.name.as_str(),
        current_round: s.current_round,
        start_time: s.start_secs,
        end_time: s.end_secs,
        channel_id: s.channel.as_str(),
        status: s.status.code(),
        create_at: iso8601(s.created_ms),
        rounds: info
            .rounds
            .iter()
            .map(|r| RoundOut {
                round_id: r.round,
                name: r.name.as_str(),
                tourney_id: id,
                leaderboard_id: r.leaderboard.as_str(),
                start_time: r.start_secs,
                end_time: r.end_secs,
                create_at: iso8601(r.created_ms),
            })
            .collect(),
        games: info.games.iter().map(GameId::as_str).collect(),
    }
}

/// §5.4: one tournament with its rounds and bound games.
pub(super) fn info(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: IdBody = json(body)?;
    let info = app
        .engine
        .tournament_info(&op.channel, &tourney(&body.tourney_id)?)?;
    data(&info_out(&info))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GameOut<'a> {
    #[serde(flatten)]
    summary: SummaryOut<'a>,
    game_id: &'a str,
}

/// §5.5: the channel's (tournament, bound game) pairs, newest tournament first.
pub(super) fn games(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: PageBody = json_or_default(body)?;
    let page = page(body.offset, body.limit)?;
    let games = app.engine.tournament_games(&op.channel, page);
    let out: Vec<GameOut<'_>> = games
        .iter()
        .map(|g| GameOut {
            summary: summary_out(&g.tournament),
            game_id: g.game.as_str(),
        })
        .collect();
    data(&out)
}

/// The parsed ids of a bind or unbind; the game must be in the catalog.
fn bind_ids(app: &App, body: &[u8]) -> Result<(TourneyId, GameId), ApiError> {
    let body: BindBody = json(body)?;
    let id = tourney(&body.tourney_id)?;
    let game = parse_id("gameId", &body.game_id, GameId::new)?;
    if app.engine.game(&game).is_none() {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("game {game} not found"),
        ));
    }
    Ok((id, game))
}

/// §5.6: binds a game; binding it again changes nothing.
pub(super) async fn bind(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let (id, game) = bind_ids(app, body)?;
    change(app, &op.channel, move |e, c| e.bind_game(c, &id, &game)).await?;
    data(&())
}

/// §5.7: unbinds a game; unbinding one that is not bound changes nothing.
pub(super) async fn unbind(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let (id, game) = bind_ids(app, body)?;
    change(app, &op.channel, move |e, c| e.unbind_game(c, &id, &game)).await?;
    data(&())
}

/// §5.8: closes a tournament and pays the prizes of its ended rounds, exactly once.
pub(super) async fn close(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: IdBody = json(body)?;
    let id = tourney(&body.tourney_id)?;
    change(app, &op.channel, move |e, c| e.close_tournament(c, &id)).await?;
    data(&())
}

/// §5.9: deletes a tournament that has not started, has ended, or is disabled.
pub(super) async fn delete(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: IdBody = json(body)?;
    let id = tourney(&body.tourney_id)?;
    change(app, &op.channel, move |e, c| e.delete_tournament(c, &id)).await?;
    data(&())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RankOut<'a> {
    id: u64,
    leaderboard_id: &'a str,
    player: &'a str,
    /// Points as an exact decimal number (scores are kept in 1/10,000 points).
    score: Box<RawValue>,
    rank: u64,
    create_at: String,
}

/// A score in points, written exactly: `125000` is `12.5`.
fn score_number(score: i64) -> Box<RawValue> {
    let sign = if score < 0 { "-" } else { "" };
    let scale = SCORE_SCALE.unsigned_abs();
    let (whole, fraction) = (score.unsigned_abs() / scale, score.unsigned_abs() % scale);
    let width = SCORE_DIGITS as usize;
    let text = if fraction == 0 {
        format!("{sign}{whole}")
    } else {
        let digits = format!("{fraction:0width$}");
        format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
    };
    RawValue::from_string(text).unwrap_or_else(|_| Box::<RawValue>::default())
}

fn rank_out(r: &RankRow) -> RankOut<'_> {
    RankOut {
        id: r.id,
        leaderboard_id: r.leaderboard.as_str(),
        player: r.player.as_str(),
        score: score_number(r.score),
        rank: r.rank,
        create_at: iso8601(r.created_ms),
    }
}

/// §5.10: a page of a round's leaderboard, best first.
pub(super) fn ranks(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    ranks_in(app, &op.channel, body)
}

/// `ranks` of a tournament of `channel`.
pub(crate) fn ranks_in(app: &App, channel: &ChannelId, body: &[u8]) -> ApiResult {
    let body: RanksBody = json(body)?;
    let id = tourney(&body.tourney_id)?;
    let page = page(body.offset, body.limit)?;
    let rows = app
        .engine
        .tournament_ranks(channel, &id, body.current_round, page)?;
    data(&rows.iter().map(rank_out).collect::<Vec<_>>())
}

/// A player's own row with up to `before` rows above and `after` below (what Nakama
/// calls "around owner"). The player's wallet is the one in the tournament's currency,
/// or the operator's default currency. A player with no score has an empty list.
pub(super) fn rank(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: RankBody = json(body)?;
    let id = tourney(&body.tourney_id)?;
    let player = parse_id("userIdentity", &body.user_identity, PlayerId::new)?;
    let (before, after) = (body.before.unwrap_or(5), body.after.unwrap_or(5));
    if before > AROUND_MAX || after > AROUND_MAX {
        return Err(ApiError::invalid("before and after must be at most 100"));
    }
    let info = app.engine.tournament_info(&op.channel, &id)?;
    let currency = info.config.currency.as_ref().unwrap_or(&op.currency);
    let Some(wallet) = app.engine.wallet_id(&op.channel, &player, currency) else {
        return data(&Vec::<RankOut<'_>>::new());
    };
    let rows = app.engine.tournament_around(
        &op.channel,
        &id,
        body.current_round,
        wallet,
        before,
        after,
    )?;
    data(&rows.iter().map(rank_out).collect::<Vec<_>>())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryBody {
    #[serde(rename = "tourneyId", alias = "tournamentId", alias = "tourney_id")]
    tourney_id: String,
    current_round: i64,
    user_identity: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StepOut {
    /// The game record (`game/records`' `id`) that scored.
    record_id: u64,
    play_time: String,
    /// The player's score after it.
    score: Box<RawValue>,
}

#[derive(Serialize)]
struct HistoryOut {
    player: String,
    /// Older steps were let go: only the newest are kept.
    truncated: bool,
    steps: Vec<StepOut>,
}

/// A player's score history in a round: the records that scored, oldest first, each
/// with the score it left (the newest `SCORE_STEPS_KEPT`). The player's wallet is
/// chosen as `rank` chooses it.
pub(super) fn history(app: &App, op: &Operator, body: &[u8]) -> ApiResult {
    let body: HistoryBody = json(body)?;
    let id = tourney(&body.tourney_id)?;
    let player = parse_id("userIdentity", &body.user_identity, PlayerId::new)?;
    let info = app.engine.tournament_info(&op.channel, &id)?;
    let currency = info.config.currency.as_ref().unwrap_or(&op.currency);
    let history = match app.engine.wallet_id(&op.channel, &player, currency) {
        Some(wallet) => {
            app.engine
                .tournament_score_history(&op.channel, &id, body.current_round, wallet)?
        }
        None => Default::default(),
    };
    data(&HistoryOut {
        player: player.as_str().to_owned(),
        truncated: history.truncated,
        steps: history
            .steps
            .iter()
            .map(|s| StepOut {
                record_id: s.record.0,
                play_time: iso8601(s.at_ms),
                score: score_number(s.score),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_written_as_exact_points() {
        assert_eq!(score_number(0).get(), "0");
        assert_eq!(score_number(125_000).get(), "12.5");
        assert_eq!(score_number(1).get(), "0.0001");
        assert_eq!(score_number(-5_000).get(), "-0.5");
        assert_eq!(score_number(-15_000).get(), "-1.5");
    }
}
