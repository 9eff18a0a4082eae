//! Routing of the platform API (`/service/jsonapi/...`, `/service/webhook/...`): one table from (method,
//! path) to handler, authentication, and wire renderings shared by the areas.

mod game;
pub(crate) mod tournament;
pub(crate) use game::info_of;
mod user;
mod wallet;
mod webhook;

use super::auth;
use super::envelope::{ApiError, ApiResult, ErrorCode};
use super::App;
use crate::identity::types::Operator;
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use std::sync::Arc;

/// Every signed endpoint of Publisher Manual §3, §4, §5, §6 and §7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    GameList,
    GameVersions,
    GameInfo,
    GameRecords,
    IncompleteGames,
    PlayerResumeGames,
    ExpirePlayerGames,
    ExpireGames,
    Deposit,
    Withdraw,
    Query,
    Login,
    Update,
    Logout,
    TournamentCreate,
    TournamentList,
    TournamentInfo,
    TournamentGames,
    TournamentBind,
    TournamentUnbind,
    TournamentClose,
    TournamentDelete,
    TournamentRanks,
    TournamentRank,
    TournamentHistory,
    WebhookSubscribe,
    WebhookUnsubscribe,
    WebhookPublish,
    WebhookList,
    WebhookFailed,
    WebhookRedeliver,
}

const ROUTES: &[(&str, Method, Route)] = &[
    ("/service/jsonapi/game/list", Method::GET, Route::GameList),
    (
        "/service/jsonapi/game/versions",
        Method::POST,
        Route::GameVersions,
    ),
    ("/service/jsonapi/game/info", Method::GET, Route::GameInfo),
    (
        "/service/jsonapi/game/records",
        Method::POST,
        Route::GameRecords,
    ),
    (
        "/service/jsonapi/game/incompleteGames",
        Method::GET,
        Route::IncompleteGames,
    ),
    (
        "/service/jsonapi/game/playerResumeGames",
        Method::GET,
        Route::PlayerResumeGames,
    ),
    (
        "/service/jsonapi/game/expirePlayerGames",
        Method::POST,
        Route::ExpirePlayerGames,
    ),
    (
        "/service/jsonapi/game/expireGames",
        Method::POST,
        Route::ExpireGames,
    ),
    (
        "/service/jsonapi/wallet/deposit",
        Method::POST,
        Route::Deposit,
    ),
    (
        "/service/jsonapi/wallet/withdraw",
        Method::POST,
        Route::Withdraw,
    ),
    ("/service/jsonapi/wallet/query", Method::POST, Route::Query),
    ("/service/jsonapi/user/login", Method::POST, Route::Login),
    ("/service/jsonapi/user/update", Method::POST, Route::Update),
    ("/service/jsonapi/user/logout", Method::POST, Route::Logout),
    (
        "/service/jsonapi/tournament/create",
        Method::POST,
        Route::TournamentCreate,
    ),
    (
        "/service/jsonapi/tournament/list",
        Method::POST,
        Route::TournamentList,
    ),
    (
        "/service/jsonapi/tournament/info",
        Method::POST,
        Route::TournamentInfo,
    ),
    (
        "/service/jsonapi/tournament/games",
        Method::POST,
        Route::TournamentGames,
    ),
    (
        "/service/jsonapi/tournament/bind",
        Method::POST,
        Route::TournamentBind,
    ),
    (
        "/service/jsonapi/tournament/unbind",
        Method::POST,
        Route::TournamentUnbind,
    ),
    (
        "/service/jsonapi/tournament/close",
        Method::POST,
        Route::TournamentClose,
    ),
    (
        "/service/jsonapi/tournament/delete",
        Method::POST,
        Route::TournamentDelete,
    ),
    (
        "/service/jsonapi/tournament/ranks",
        Method::POST,
        Route::TournamentRanks,
    ),
    (
        "/service/jsonapi/tournament/rank",
        Method::POST,
        Route::TournamentRank,
    ),
    (
        "/service/jsonapi/tournament/history",
        Method::POST,
        Route::TournamentHistory,
    ),
    (
        "/service/webhook/subscribe",
        Method::POST,
        Route::WebhookSubscribe,
    ),
    (
        "/service/webhook/unsubscribe",
        Method::GET,
        Route::WebhookUnsubscribe,
    ),
    (
        "/service/webhook/publish",
        Method::POST,
        Route::WebhookPublish,
    ),
    ("/service/webhook/list", Method::GET, Route::WebhookList),
    (
        "/service/webhook/failed",
        Method::POST,
        Route::WebhookFailed,
    ),
    (
        "/service/webhook/redeliver",
        Method::POST,
        Route::WebhookRedeliver,
    ),
];

/// `{offset, limit}`, both optional: the body of the list endpoints.
#[derive(serde::Deserialize, Default)]
pub(super) struct PageBody {
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

/// The page an `{offset, limit}` asks for (the one paging rule, `paging::Page`).
pub(super) fn page(
    offset: Option<i64>,
    limit: Option<i64>,
) -> Result<crate::paging::Page, ApiError> {
    crate::paging::Page::new(offset.unwrap_or(0), limit.unwrap_or(0))
        .map_err(|e| ApiError::invalid(e.to_string()))
}

/// Every (method, path) of the table.
pub(crate) fn endpoints() -> impl Iterator<Item = (Method, &'static str)> {
    ROUTES.iter().map(|(p, m, _)| (m.clone(), *p))
}

/// The path as the route table holds it, if it is one of the table's.
pub(super) fn known_path(path: &str) -> Option<&'static str> {
    ROUTES
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(p, _, _)| *p)
}

/// Finds the route of a path and checks its method.
fn route(method: &Method, path: &str) -> Result<Route, ApiError> {
    let (_, expected, route) = ROUTES
        .iter()
        .find(|(p, _, _)| *p == path)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no endpoint {path}")))?;
    if method != expected {
        return Err(ApiError::invalid(format!("{path} takes {expected}"))
            .with_status(StatusCode::METHOD_NOT_ALLOWED));
    }
    Ok(*route)
}

/// Routes, authenticates and runs one platform API request.
pub(super) async fn dispatch(app: &App, parts: &Parts, body: &[u8]) -> ApiResult {
    let route = route(&parts.method, parts.uri.path())?;
    let operator = auth::authenticate(&app.engine, &app.nonces, &parts.headers)?;
    run(app, route, &operator, parts, body).await
}

/// [`dispatch`] past authentication, as `op` (the platform fuzz target's entry:
/// signing is fuzzed by the wallet targets; this one reaches every body parser).
pub(crate) async fn dispatch_as(
    app: &App,
    op: &Arc<Operator>,
    parts: &Parts,
    body: &[u8],
) -> ApiResult {
    let route = route(&parts.method, parts.uri.path())?;
    run(app, route, op, parts, body).await
}

async fn run(app: &App, route: Route, op: &Arc<Operator>, parts: &Parts, body: &[u8]) -> ApiResult {
    match route {
        Route::GameList => game::list(app),
        Route::GameVersions => game::versions(app, body),
        Route::GameInfo => game::info(app, &parts.uri),
        Route::GameRecords => game::records(app, op, body),
        Route::IncompleteGames => game::incomplete(app, op),
        Route::PlayerResumeGames => game::player_resume(app, op, &parts.uri, body),
        Route::ExpirePlayerGames => game::expire_player(app, op, body).await,
        Route::ExpireGames => game::expire_all(app, op).await,
        Route::Deposit => wallet::deposit(app, op, body).await,
        Route::Withdraw => wallet::withdraw(app, op, body).await,
        Route::Query => wallet::query(app, op, body),
        Route::Login => user::login(app, op, body).await,
        Route::Update => user::update(app, op, body).await,
        Route::Logout => user::logout(app, op, body).await,
        Route::TournamentCreate => tournament::create(app, op, body).await,
        Route::TournamentList => tournament::list(app, op, body),
        Route::TournamentInfo => tournament::info(app, op, body),
        Route::TournamentGames => tournament::games(app, op, body),
        Route::TournamentBind => tournament::bind(app, op, body).await,
        Route::TournamentUnbind => tournament::unbind(app, op, body).await,
        Route::TournamentClose => tournament::close(app, op, body).await,
        Route::TournamentDelete => tournament::delete(app, op, body).await,
        Route::TournamentRanks => tournament::ranks(app, op, body),
        Route::TournamentRank => tournament::rank(app, op, body),
        Route::TournamentHistory => tournament::history(app, op, body),
        Route::WebhookSubscribe => webhook::subscribe(app, op, body).await,
        Route::WebhookUnsubscribe => webhook::unsubscribe(app, op).await,
        Route::WebhookPublish => webhook::publish(app, op, body).await,
        Route::WebhookList => webhook::list(app, op),
        Route::WebhookFailed => webhook::failed(app, op, body),
        Route::WebhookRedeliver => webhook::redeliver(app, op, body).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_found_and_methods_are_checked() {
        for (path, method, r) in ROUTES {
            assert_eq!(route(method, path), Ok(*r));
        }
        let wrong = route(&Method::GET, "/service/jsonapi/wallet/deposit");
        assert_eq!(
            wrong.map_err(|e| e.status),
            Err(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(
            route(&Method::GET, "/nope").map_err(|e| e.code),
            Err(ErrorCode::NotFound)
        );
    }
}
