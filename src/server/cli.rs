//! The admin commands of the `pitboss` binary and `pitboss login`: HTTP clients of
//! a running server. The binary parses arguments into these structs and calls
//! [`admin`] or [`login`]; what they return is printed.

use super::admin::{
    CLI_LOGIN, CURRENCIES, GAMES, GAME_STATUS, GAME_VERSION, OPERATORS, OPERATOR_KEYS,
    OPERATOR_WALLET, SEAMLESS, TOURNAMENTS, TOURNAMENT_LIST, TOURNAMENT_RANKS,
};
use super::client::{ClientError, HttpClient};
use super::datadir::{self, DataDirError};
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION};
use hyper::Method;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("no admin token: pass --admin-token, set PITBOSS_ADMIN_TOKEN, or run on the server's machine ({0})")]
    NoToken(DataDirError),
    #[error("the admin token is not a valid header value")]
    BadToken,
    #[error("the server answered HTTP {status} with a body that is not the API's envelope")]
    NotAnEnvelope { status: u16 },
    #[error("error {code}: {message}")]
    Api { code: i64, message: String },
    #[error("cannot start the client runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot read the tournament spec {path}: {reason}")]
    SpecFile { path: PathBuf, reason: String },
    #[error("cannot read the password: {0}")]
    Password(std::io::Error),
}

/// Where the server is and how to prove admin rights.
#[derive(clap::Args, Debug, Clone)]
pub struct AdminConnection {
    /// The server's address.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The admin token; by default read from `<data-dir>/admin-token`.
    #[arg(
        long,
        global = true,
        env = "PITBOSS_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// The server's data directory, to read the admin token from.
    #[arg(long, global = true, default_value = "./data")]
    pub data_dir: PathBuf,
}

/// An administration command.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum AdminCommand {
    /// Creates an operator and prints its credentials as JSON.
    CreateOperator {
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        channel_id: String,
        /// A currency; repeat for several. The first is the default.
        #[arg(long = "currency", default_value = "CNY")]
        currencies: Vec<String>,
        /// transfer | seamless
        #[arg(long, default_value = "transfer")]
        wallet_mode: String,
        /// The password `pitboss login` checks; generated and printed if absent.
        #[arg(long)]
        password: Option<String>,
    },
    /// Registers a game.
    RegisterGame {
        #[arg(long)]
        game_id: String,
        #[arg(long)]
        serial_no: u32,
        /// The record id to use; the next free one if absent.
        #[arg(long)]
        id: Option<u64>,
        /// The algorithm id; the game id if absent.
        #[arg(long)]
        game_type: Option<String>,
        #[arg(long)]
        developer_id: Option<String>,
        #[arg(long)]
        uri: Option<String>,
        /// -1 disabled, 0 unpublished, 1 published, 2 online.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        status: i64,
        /// The game's configuration, a JSON document.
        #[arg(long)]
        config: Option<String>,
        /// The first version.
        #[arg(long)]
        version: Option<String>,
    },
    /// Adds a version to a game; it becomes the game's current version.
    AddVersion {
        #[arg(long)]
        game_id: String,
        #[arg(long)]
        version: String,
    },
    /// Sets a game's status: -1 disabled, 0 unpublished, 1 published, 2 online.
    SetGameStatus {
        #[arg(long)]
        game_id: String,
        #[arg(long, allow_negative_numbers = true)]
        status: i64,
    },
    /// Lists operators (without their secrets).
    ListOperators,
    /// Sets where an operator's players keep their money: `transfer`, or `seamless`
    /// with the operator's own wallet (`--wallet-dialect gate|bank --wallet-url URL`).
    SetWallet {
        #[arg(long)]
        client_id: String,
        /// transfer | seamless
        #[arg(long)]
        wallet_mode: String,
        /// gate | bank (seamless mode)
        #[arg(long)]
        wallet_dialect: Option<String>,
        /// The wallet's base URL (seamless mode).
        #[arg(long)]
        wallet_url: Option<String>,
    },
    /// Sets the keys an operator's wallet-API calls are signed with (`appKey`,
    /// `appSecret`): on a pitboss that stands as another platform's wallet, that
    /// platform operator's keys. Prints the operator's credentials.
    SetKeys {
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        app_key: String,
        #[arg(long, env = "PITBOSS_APP_SECRET", hide_env_values = true)]
        app_secret: String,
    },
    /// Counts the calls to seamless operators' wallets that are unfinished (being
    /// sent, or waiting for a retry).
    Seamless,
    /// Registers a currency with the decimal places of its minor unit (0 to 8).
    RegisterCurrency {
        #[arg(long)]
        code: String,
        #[arg(long)]
        exponent: u8,
    },
    /// Lists the registered currencies and their exponents.
    ListCurrencies,
    /// Tournaments of an operator's channel (Publisher Manual §5).
    #[command(subcommand)]
    Tournament(TournamentCommand),
}

/// A tournament command of `pitboss admin tournament`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum TournamentCommand {
    /// Creates a tournament from a spec file (the JSON `tournament/create` takes).
    Create {
        #[arg(long)]
        channel_id: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Lists the channel's tournaments, newest first.
    List {
        #[arg(long)]
        channel_id: String,
        #[arg(long, default_value_t = 0)]
        offset: i64,
        #[arg(long, default_value_t = 10)]
        limit: i64,
    },
    /// A page of a tournament round's leaderboard.
    Ranks {
        #[arg(long)]
        channel_id: String,
        #[arg(long)]
        tourney_id: String,
        /// The round, from 1.
        #[arg(long, default_value_t = 1)]
        round: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
        #[arg(long, default_value_t = 10)]
        limit: i64,
    },
}

/// A request body: empty for `Value::Null`, else the JSON text.
fn body_of(value: Value) -> Vec<u8> {
    if value.is_null() {
        Vec::new()
    } else {
        value.to_string().into_bytes()
    }
}

impl AdminCommand {
    fn request(self) -> Result<(Method, &'static str, Vec<u8>), CliError> {
        let (method, path, body) = match self {
            AdminCommand::CreateOperator {
                client_id,
                channel_id,
                currencies,
                wallet_mode,
                password,
            } => (
                Method::POST,
                OPERATORS,
                json!({"clientId": client_id, "channelId": channel_id, "currencies": currencies,
                       "walletMode": wallet_mode, "password": password}),
            ),
            AdminCommand::RegisterGame {
                game_id,
                serial_no,
                id,
                game_type,
                developer_id,
                uri,
                status,
                config,
                version,
            } => (
                Method::POST,
                GAMES,
                json!({"gameId": game_id, "serialNo": serial_no, "id": id, "gameType": game_type,
                       "developerId": developer_id, "uri": uri, "status": status,
                       "config": config, "version": version}),
            ),
            AdminCommand::AddVersion { game_id, version } => (
                Method::POST,
                GAME_VERSION,
                json!({"gameId": game_id, "version": version}),
            ),
            AdminCommand::SetGameStatus { game_id, status } => (
                Method::POST,
                GAME_STATUS,
                json!({"gameId": game_id, "status": status}),
            ),
            AdminCommand::ListOperators => (Method::GET, OPERATORS, Value::Null),
            AdminCommand::SetWallet {
                client_id,
                wallet_mode,
                wallet_dialect,
                wallet_url,
            } => (
                Method::POST,
                OPERATOR_WALLET,
                json!({"clientId": client_id, "walletMode": wallet_mode,
                       "walletDialect": wallet_dialect, "walletUrl": wallet_url}),
            ),
            AdminCommand::SetKeys {
                client_id,
                app_key,
                app_secret,
            } => (
                Method::POST,
                OPERATOR_KEYS,
                json!({"clientId": client_id, "appKey": app_key, "appSecret": app_secret}),
            ),
            AdminCommand::Seamless => (Method::GET, SEAMLESS, Value::Null),
            AdminCommand::RegisterCurrency { code, exponent } => (
                Method::POST,
                CURRENCIES,
                json!({"code": code, "exponent": exponent}),
            ),
            AdminCommand::ListCurrencies => (Method::GET, CURRENCIES, Value::Null),
            AdminCommand::Tournament(t) => return t.request(),
        };
        Ok((method, path, body_of(body)))
    }
}

impl TournamentCommand {
    fn request(self) -> Result<(Method, &'static str, Vec<u8>), CliError> {
        let (method, path, body) = match self {
            TournamentCommand::Create { channel_id, file } => {
                let bad = |reason: String| CliError::SpecFile {
                    path: file.clone(),
                    reason,
                };
                let text = std::fs::read_to_string(&file).map_err(|e| bad(e.to_string()))?;
                // The spec goes as written: its numbers are never re-rendered.
                let spec: Box<serde_json::value::RawValue> =
                    serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
                let channel = Value::from(channel_id).to_string();
                let body = format!(r#"{{"channelId":{channel},"spec":{}}}"#, spec.get());
                return Ok((Method::POST, TOURNAMENTS, body.into_bytes()));
            }
            TournamentCommand::List {
                channel_id,
                offset,
                limit,
            } => (
                Method::POST,
                TOURNAMENT_LIST,
                json!({"channelId": channel_id, "offset": offset, "limit": limit}),
            ),
            TournamentCommand::Ranks {
                channel_id,
                tourney_id,
                round,
                offset,
                limit,
            } => (
                Method::POST,
                TOURNAMENT_RANKS,
                json!({"channelId": channel_id, "tourneyId": tourney_id, "currentRound": round,
                       "offset": offset, "limit": limit}),
            ),
        };
        Ok((method, path, body_of(body)))
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

/// Sends one request and returns the envelope's `data`, or its error.
async fn call(
    server: &str,
    method: Method,
    path: &str,
    headers: &[(HeaderName, HeaderValue)],
    body: Vec<u8>,
) -> Result<Value, CliError> {
    let mut client = HttpClient::connect(server).await?;
    let response = client.send(method, path, headers, body).await?;
    let envelope: Value =
        serde_json::from_slice(&response.body).map_err(|_| CliError::NotAnEnvelope {
            status: response.status.as_u16(),
        })?;
    match envelope.get("code").and_then(Value::as_i64) {
        Some(0) => Ok(envelope.get("data").cloned().unwrap_or(Value::Null)),
        Some(code) => Err(CliError::Api {
            code,
            message: envelope["message"].as_str().unwrap_or_default().to_owned(),
        }),
        None => Err(CliError::NotAnEnvelope {
            status: response.status.as_u16(),
        }),
    }
}

/// Runs an admin command; returns the server's answer as pretty JSON.
pub fn admin(connection: &AdminConnection, command: AdminCommand) -> Result<String, CliError> {
    let token = match &connection.admin_token {
        Some(t) => t.clone(),
        None => datadir::read_admin_token(&connection.data_dir).map_err(CliError::NoToken)?,
    };
    let bearer =
        HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| CliError::BadToken)?;
    let (method, path, body) = command.request()?;
    let headers = [(AUTHORIZATION, bearer)];
    let data = runtime()?.block_on(call(&connection.server, method, path, &headers, body))?;
    Ok(serde_json::to_string_pretty(&data).unwrap_or_default())
}

/// The password of `pitboss login`: from a prompt that does not echo it when
/// standard input is a terminal, else the first line of standard input. Never from
/// the command line, where `ps` and the shell's history would see it.
pub fn read_password() -> Result<String, CliError> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let _quiet = if terminal {
        eprint!("Password: ");
        let _ = std::io::stderr().flush();
        EchoOff::new()
    } else {
        None
    };
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(CliError::Password)?;
    if terminal {
        eprintln!();
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// Turns the terminal's echo off until dropped.
struct EchoOff {
    saved: libc::termios,
}

impl EchoOff {
    fn new() -> Option<EchoOff> {
        // SAFETY: tcgetattr and tcsetattr read and write a termios struct owned here,
        // for the standard input descriptor, which stays open for the process's life.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0 {
                return None;
            }
            let mut quiet = saved;
            quiet.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet) != 0 {
                return None;
            }
            Some(EchoOff { saved })
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: as in `new`: restores the settings read there.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved);
        }
    }
}

/// `pitboss login <clientId>` (the password from [`read_password`]): the operator's
/// apiKey, in the words of Publisher Manual §1.1.3.
pub fn login(server: &str, client_id: &str, password: &str) -> Result<String, CliError> {
    let body = json!({"clientId": client_id, "password": password}).to_string();
    let body = body.into_bytes();
    let data = runtime()?.block_on(call(server, Method::POST, CLI_LOGIN, &[], body))?;
    let api_key = data["apiKey"]
        .as_str()
        .ok_or(CliError::NotAnEnvelope { status: 200 })?;
    Ok(format!(
        "Login successful!\nOrganization APIKey: {api_key}\nPlease keep your organization's \
         APIKey safe and do not disclose it to third parties."
    ))
}
