//! Routing of the platform API (`/service/jsonapi/...`): one table from (method,
//! path) to handler, authentication, and wire renderings shared by the areas.

mod game;
pub(crate) use game::info_of;
mod user;
mod wallet;

use super::auth;
use super::envelope::{ApiError, ApiResult, ErrorCode};
use super::App;
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};

/// Every signed endpoint of Publisher Manual §3, §4 and §6.
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
];

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
    let op = &operator;
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
    }
}

/// Unix milliseconds as ISO-8601 in UTC with the `Z` offset, to the second
/// (`2024-01-21T10:30:00Z`, the form Publisher Manual §2.3 and §3.3 name).
pub(crate) fn iso8601(ms: i64) -> String {
    format!("{}Z", date_time(ms))
}

/// Unix milliseconds as ISO-8601 in UTC to the millisecond (`2024-10-22T06:23:16.710Z`,
/// the form of the bank wallet API's error `timestamp`).
pub(crate) fn iso8601_millis(ms: i64) -> String {
    format!("{}.{:03}Z", date_time(ms), ms.rem_euclid(1000))
}

/// `YYYY-MM-DDTHH:MM:SS` of Unix milliseconds, in UTC.
fn date_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_renders_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_705_833_000_000), "2024-01-21T10:30:00Z");
        assert_eq!(iso8601(1_741_330_280_999), "2025-03-07T06:51:20Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(-1000), "1969-12-31T23:59:59Z");
        assert_eq!(
            iso8601_millis(1_729_578_196_710),
            "2024-10-22T06:23:16.710Z"
        );
        assert_eq!(iso8601_millis(-1), "1969-12-31T23:59:59.999Z");
    }

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
