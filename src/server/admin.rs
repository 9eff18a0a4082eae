//! Administration over HTTP: `/admin/...` endpoints guarded by the admin token, and
//! `/service/cli/login`, where an operator trades its password for its apiKey
//! (`pitboss login`, Publisher Manual §1.1.3).

use super::auth;
use super::envelope::{data, ApiError, ApiResult, ErrorCode};
use super::iso8601::iso8601;
use super::request::{json, parse_id};
use super::routes::{info_of, tournament};
use super::App;
use crate::catalog::currency::CurrencySpec;
use crate::catalog::game::{GameStatus, NewGame};
use crate::identity::secrets;
use crate::identity::types::{NewOperator, Operator, RemoteWallet, WalletDialect, WalletMode};
use crate::ids::{ChannelId, ClientId, Currency, GameId, Label};
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};

pub const OPERATORS: &str = "/admin/operators";
pub const OPERATOR_WALLET: &str = "/admin/operators/wallet";
pub const OPERATOR_KEYS: &str = "/admin/operators/keys";
pub const SEAMLESS: &str = "/admin/seamless";
pub const GAMES: &str = "/admin/games";
pub const GAME_VERSION: &str = "/admin/games/version";
pub const GAME_STATUS: &str = "/admin/games/status";
pub const CURRENCIES: &str = "/admin/currencies";
pub const TOURNAMENTS: &str = "/admin/tournaments";
pub const TOURNAMENT_LIST: &str = "/admin/tournaments/list";
pub const TOURNAMENT_RANKS: &str = "/admin/tournaments/ranks";
pub const CLI_LOGIN: &str = "/service/cli/login";

/// Every admin endpoint and the methods it takes: the one table `dispatch` checks
/// and `server::endpoints` lists.
pub const ROUTES: &[(&str, &[Method])] = &[
    (OPERATORS, &[Method::GET, Method::POST]),
    (OPERATOR_WALLET, &[Method::POST]),
    (OPERATOR_KEYS, &[Method::POST]),
    (SEAMLESS, &[Method::GET]),
    (GAMES, &[Method::POST]),
    (GAME_VERSION, &[Method::POST]),
    (GAME_STATUS, &[Method::POST]),
    (CURRENCIES, &[Method::GET, Method::POST]),
    (TOURNAMENTS, &[Method::POST]),
    (TOURNAMENT_LIST, &[Method::POST]),
    (TOURNAMENT_RANKS, &[Method::POST]),
];

/// Runs an `/admin/...` request after checking the admin token.
pub(super) async fn dispatch(app: &App, parts: &Parts, body: &[u8]) -> ApiResult {
    let path = parts.uri.path();
    let method = &parts.method;
    let Some((_, methods)) = ROUTES.iter().find(|(p, _)| *p == path) else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no endpoint {path}"),
        ));
    };
    if !methods.contains(method) {
        return Err(ApiError::invalid(format!("{path} does not take {method}"))
            .with_status(StatusCode::METHOD_NOT_ALLOWED));
    }
    auth::check_admin(&parts.headers, &app.admin_token)?;
    match (path, method == Method::GET) {
        (OPERATORS, true) => list_operators(app),
        (OPERATORS, false) => create_operator(app, body).await,
        (OPERATOR_WALLET, _) => set_wallet(app, body).await,
        (OPERATOR_KEYS, _) => set_keys(app, body).await,
        (SEAMLESS, _) => data(&serde_json::json!({
            "unfinished": app.engine.seamless_calls_unfinished()
        })),
        (CURRENCIES, true) => list_currencies(app),
        (CURRENCIES, false) => register_currency(app, body).await,
        (GAMES, _) => register_game(app, body).await,
        (TOURNAMENTS, _) => create_tournament(app, body).await,
        (TOURNAMENT_LIST, _) => tournament::list_in(app, &channel_of(body)?, body),
        (TOURNAMENT_RANKS, _) => tournament::ranks_in(app, &channel_of(body)?, body),
        (GAME_VERSION, _) => add_version(app, body).await,
        _ => set_status(app, body).await,
    }
}

/// Wire spelling of a wallet mode.
fn mode_name(mode: WalletMode) -> &'static str {
    match mode {
        WalletMode::Transfer => "transfer",
        WalletMode::Seamless => "seamless",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OperatorOut<'a> {
    client_id: &'a str,
    channel_id: &'a str,
    currencies: Vec<&'a str>,
    wallet_mode: &'static str,
    /// `gate` or `bank` for a seamless operator; `null` in transfer mode.
    wallet_dialect: Option<&'static str>,
    wallet_url: Option<String>,
    app_key: &'a str,
    create_at: String,
}

/// Wire spelling of a wallet dialect.
fn dialect_name(dialect: WalletDialect) -> &'static str {
    match dialect {
        WalletDialect::Gate => "gate",
        WalletDialect::Bank => "bank",
    }
}

fn operator_out(op: &Operator, remote: Option<RemoteWallet>) -> OperatorOut<'_> {
    OperatorOut {
        client_id: op.client_id.as_str(),
        channel_id: op.channel.as_str(),
        currencies: op.currencies().map(Currency::as_str).collect(),
        wallet_mode: mode_name(op.wallet_mode),
        wallet_dialect: remote.as_ref().map(|r| dialect_name(r.dialect)),
        wallet_url: remote.map(|r| r.url),
        app_key: &op.app_key,
        create_at: iso8601(op.created_at_ms),
    }
}

fn list_operators(app: &App) -> ApiResult {
    let ops = app.engine.operators();
    let out: Vec<_> = ops
        .iter()
        .map(|o| operator_out(o, app.engine.operator_wallet(&o.client_id)))
        .collect();
    data(&out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WalletBody {
    client_id: String,
    wallet_mode: String,
    wallet_dialect: Option<String>,
    wallet_url: Option<String>,
}

/// Sets where an operator's players keep their money: `{clientId, walletMode:
/// "transfer"}`, or `{clientId, walletMode: "seamless", walletDialect: "gate" | "bank",
/// walletUrl}`. Answers the operator as `list-operators` shows it.
async fn set_wallet(app: &App, body: &[u8]) -> ApiResult {
    let body: WalletBody = json(body)?;
    let client = parse_id("clientId", &body.client_id, ClientId::new)?;
    let (mode, remote) = match (body.wallet_mode.as_str(), body.wallet_dialect.as_deref()) {
        ("transfer", None) if body.wallet_url.is_none() => (WalletMode::Transfer, None),
        ("transfer", _) => {
            return Err(ApiError::invalid(
                "transfer mode takes no walletDialect or walletUrl",
            ))
        }
        ("seamless", Some(dialect)) => {
            let dialect = match dialect {
                "gate" => WalletDialect::Gate,
                "bank" => WalletDialect::Bank,
                _ => return Err(ApiError::invalid("walletDialect must be gate or bank")),
            };
            let url = body.wallet_url.as_deref().unwrap_or_default();
            let remote = RemoteWallet::new(dialect, url).ok_or_else(|| {
                ApiError::invalid("walletUrl must be an http or https URL of at most 2048 bytes")
            })?;
            (WalletMode::Seamless, Some(remote))
        }
        ("seamless", None) => {
            return Err(ApiError::invalid(
                "seamless mode needs walletDialect and walletUrl",
            ))
        }
        _ => return Err(ApiError::invalid("walletMode must be transfer or seamless")),
    };
    let op = app
        .engine
        .set_operator_wallet_pending(&client, mode, remote)
        .await?;
    data(&operator_out(
        &op,
        app.engine.operator_wallet(&op.client_id),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeysBody {
    client_id: String,
    app_key: String,
    app_secret: String,
}

/// Sets the keys an operator's wallet-API calls are signed with: `{clientId, appKey,
/// appSecret}`. For a pitboss that stands as the wallet of another platform's
/// operator (it must check that platform's signatures), or an operator moving here
/// with keys its wallet already knows. Answers the operator's credentials.
async fn set_keys(app: &App, body: &[u8]) -> ApiResult {
    let body: KeysBody = json(body)?;
    let client = parse_id("clientId", &body.client_id, ClientId::new)?;
    let op = app
        .engine
        .set_operator_wallet_keys_pending(&client, &body.app_key, &body.app_secret)
        .await?;
    data(&OperatorCredentials::of(&op, None))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateOperatorBody {
    client_id: String,
    channel_id: String,
    currencies: Option<Vec<String>>,
    wallet_mode: Option<String>,
    password: Option<String>,
}

/// A new operator's credentials, as `create-operator` prints them and as the
/// server writes the demo operator's to `demo-operator.json`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OperatorCredentials {
    pub client_id: String,
    pub api_key: String,
    pub channel_id: String,
    pub app_key: String,
    pub app_secret: String,
    /// The `pitboss login` password: present only when the server generated it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub password: Option<String>,
}

impl OperatorCredentials {
    pub fn of(op: &Operator, password: Option<String>) -> OperatorCredentials {
        OperatorCredentials {
            client_id: op.client_id.to_string(),
            api_key: op.api_key.expose().to_owned(),
            channel_id: op.channel.to_string(),
            app_key: op.app_key.clone(),
            app_secret: op.app_secret.expose().to_owned(),
            password,
        }
    }
}

async fn create_operator(app: &App, body: &[u8]) -> ApiResult {
    let body: CreateOperatorBody = json(body)?;
    let wallet_mode = match body.wallet_mode.as_deref() {
        None | Some("transfer") => WalletMode::Transfer,
        Some("seamless") => WalletMode::Seamless,
        Some(_) => return Err(ApiError::invalid("walletMode must be transfer or seamless")),
    };
    let currencies = body
        .currencies
        .unwrap_or_else(|| vec!["CNY".to_owned()])
        .iter()
        .map(|c| parse_id("currencies", c, Currency::new))
        .collect::<Result<Vec<_>, _>>()?;
    // An operator created without a password gets a generated one, printed once.
    let (password, generated) = match body.password {
        Some(p) => (p, None),
        None => {
            let p = secrets::random_base36(20)?;
            (p.clone(), Some(p))
        }
    };
    let new = NewOperator {
        client_id: parse_id("clientId", &body.client_id, ClientId::new)?,
        channel: parse_id("channelId", &body.channel_id, ChannelId::new)?,
        currencies,
        wallet_mode,
        password,
    };
    let engine = app.engine.clone();
    let op = app
        .hashing(move || engine.create_operator_pending(new))
        .await?
        .await?;
    data(&OperatorCredentials::of(&op, generated))
}

/// The `channelId` an admin tournament call names (the other fields are the
/// Publisher Manual call's own).
fn channel_of(body: &[u8]) -> Result<ChannelId, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ChannelBody {
        channel_id: String,
    }
    let body: ChannelBody = json(body)?;
    parse_id("channelId", &body.channel_id, ChannelId::new)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateTournamentBody<'a> {
    channel_id: String,
    #[serde(borrow)]
    spec: &'a serde_json::value::RawValue,
}

/// Creates a tournament in a channel: `{channelId, spec}`, the spec as
/// `tournament/create` takes it (what `pitboss admin tournament create` sends).
async fn create_tournament(app: &App, body: &[u8]) -> ApiResult {
    let body: CreateTournamentBody = json(body)?;
    let channel = parse_id("channelId", &body.channel_id, ChannelId::new)?;
    if app.engine.operator_of_channel(&channel).is_some() {
        tournament::create_in(app, &channel, body.spec.get().as_bytes()).await
    } else {
        Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no operator has channel {channel}"),
        ))
    }
}

#[derive(Serialize, Deserialize)]
struct CurrencyBody {
    code: String,
    exponent: u8,
}

fn list_currencies(app: &App) -> ApiResult {
    let currencies = app.engine.currencies();
    let out: Vec<_> = currencies
        .into_iter()
        .map(|c| CurrencyBody {
            code: c.code.to_string(),
            exponent: c.exponent,
        })
        .collect();
    data(&out)
}

/// Registers a currency and the decimal places of its minor unit (0 to 8). The
/// exponent of a registered currency never changes.
async fn register_currency(app: &App, body: &[u8]) -> ApiResult {
    let body: CurrencyBody = json(body)?;
    let code = parse_id("code", &body.code, Currency::new)?;
    let spec = CurrencySpec::new(code, body.exponent)
        .ok_or_else(|| ApiError::invalid("exponent must be between 0 and 8"))?;
    let spec = app.engine.register_currency_pending(spec).await?;
    data(&CurrencyBody {
        code: spec.code.to_string(),
        exponent: spec.exponent,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterGameBody {
    id: Option<u64>,
    #[serde(alias = "game_id")]
    game_id: String,
    game_type: Option<String>,
    serial_no: u32,
    developer_id: Option<String>,
    uri: Option<String>,
    status: Option<i64>,
    config: Option<String>,
    version: Option<String>,
}

fn status(code: i64) -> Result<GameStatus, ApiError> {
    GameStatus::from_code(code).ok_or_else(|| ApiError::invalid("status must be -1, 0, 1 or 2"))
}

fn label(field: &str, value: Option<&str>) -> Result<Label, ApiError> {
    parse_id(field, value.unwrap_or(""), Label::new)
}

async fn register_game(app: &App, body: &[u8]) -> ApiResult {
    let body: RegisterGameBody = json(body)?;
    let id = parse_id("gameId", &body.game_id, GameId::new)?;
    let config = body.config.unwrap_or_default();
    if !config.is_empty() && serde_json::from_str::<serde::de::IgnoredAny>(&config).is_err() {
        return Err(ApiError::invalid("config must be a JSON document"));
    }
    let new = NewGame {
        record: body.id,
        kind: label(
            "gameType",
            Some(body.game_type.as_deref().unwrap_or(id.as_str())),
        )?,
        id,
        serial: body.serial_no,
        developer: label("developerId", body.developer_id.as_deref())?,
        uri: body.uri.unwrap_or_default(),
        status: status(body.status.unwrap_or(0))?,
        config,
        version: match body.version.as_deref() {
            None | Some("") => None,
            v => Some(label("version", v)?),
        },
    };
    let game = app.engine.register_game_pending(new).await?;
    data(&info_of(&game))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionBody {
    #[serde(alias = "game_id")]
    game_id: String,
    version: String,
}

async fn add_version(app: &App, body: &[u8]) -> ApiResult {
    let body: VersionBody = json(body)?;
    let id = parse_id("gameId", &body.game_id, GameId::new)?;
    let version = label("version", Some(&body.version))?;
    let game = app.engine.add_game_version_pending(&id, version).await?;
    data(&info_of(&game))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody {
    #[serde(alias = "game_id")]
    game_id: String,
    status: i64,
}

async fn set_status(app: &App, body: &[u8]) -> ApiResult {
    let body: StatusBody = json(body)?;
    let id = parse_id("gameId", &body.game_id, GameId::new)?;
    let game = app
        .engine
        .set_game_status_pending(&id, status(body.status)?)
        .await?;
    data(&info_of(&game))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CliLoginBody {
    client_id: String,
    password: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CliLoginOut<'a> {
    api_key: &'a str,
}

/// `POST /service/cli/login`: the operator's apiKey for its password. An unknown
/// client id gets the same answer as a wrong password (no account enumeration).
pub(super) async fn cli_login(app: &App, parts: &Parts, body: &[u8]) -> ApiResult {
    if parts.method != Method::POST {
        return Err(ApiError::invalid(format!("{CLI_LOGIN} takes POST"))
            .with_status(StatusCode::METHOD_NOT_ALLOWED));
    }
    let body: CliLoginBody = json(body)?;
    let wrong = || ApiError::new(ErrorCode::WrongCredential, "wrong client id or password");
    let client = ClientId::new(&body.client_id).map_err(|_| wrong())?;
    let engine = app.engine.clone();
    let op = app
        .hashing_unauthenticated(move || engine.operator_login(&client, &body.password))
        .await?
        .map_err(|e| match ApiError::from(e) {
            e if e.code == ErrorCode::Internal => e,
            _ => wrong(),
        })?;
    data(&CliLoginOut {
        api_key: op.api_key.expose(),
    })
}
