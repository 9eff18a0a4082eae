//! The platform API's response envelope `{code, message, data}` and its one table of
//! error codes (documented in `docs/api-errors.md`; the numbers are stable).

use crate::catalog::CatalogError;
use crate::engine::EngineError;
use crate::identity::IdentityError;
use crate::ledger::error::LedgerError;
use crate::seamless::{Decline, SeamlessError};
use crate::tournaments::TournamentError;
use crate::webhooks::WebhookError;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use serde::Serialize;

/// Every non-zero `code` the API returns. Never renumber: clients switch on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Malformed JSON, a wrong type, a missing field, an over-long string, a zero or
    /// negative amount, an out-of-range number, an unknown enum value.
    InvalidRequest = 1,
    /// Missing or malformed authentication headers, an unknown client id, a bad
    /// admin token.
    Unauthorized = 2,
    BadSignature = 3,
    /// `X-Timestamp` more than 300 s away from the server's clock.
    StaleTimestamp = 4,
    /// `X-Nonce` already used by this client within the time window.
    ReusedNonce = 5,
    /// Unknown path, wallet (or another operator's), game or player.
    NotFound = 6,
    /// A `transactionId` reused with different parameters; an id already taken.
    Conflict = 7,
    InsufficientBalance = 8,
    /// The request is valid but the object's state does not allow it.
    WrongState = 9,
    /// A size or rate limit: request body too large, nonce memory full, too many
    /// concurrent password checks, too many objects.
    LimitExceeded = 10,
    /// A player credential or operator password did not match.
    WrongCredential = 11,
    /// A fault of the server (storage failure): the request may not have been applied.
    Internal = 99,
}

impl ErrorCode {
    /// Every code, for the test that compares this table with `docs/api-errors.md`.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::InvalidRequest,
        ErrorCode::Unauthorized,
        ErrorCode::BadSignature,
        ErrorCode::StaleTimestamp,
        ErrorCode::ReusedNonce,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::InsufficientBalance,
        ErrorCode::WrongState,
        ErrorCode::LimitExceeded,
        ErrorCode::WrongCredential,
        ErrorCode::Internal,
    ];

    pub fn code(self) -> i32 {
        self as i32
    }

    /// The HTTP status sent with the code (clients should read `code`).
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized
            | ErrorCode::BadSignature
            | ErrorCode::StaleTimestamp
            | ErrorCode::ReusedNonce => StatusCode::UNAUTHORIZED,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict | ErrorCode::InsufficientBalance | ErrorCode::WrongState => {
                StatusCode::CONFLICT
            }
            ErrorCode::LimitExceeded => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::WrongCredential => StatusCode::FORBIDDEN,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A failed request: its code, the message sent, and optionally another status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub status: StatusCode,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            status: code.status(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidRequest, message)
    }

    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    pub fn internal() -> ApiError {
        ApiError::new(ErrorCode::Internal, "internal error")
    }
}

/// A successful response's whole envelope, `{"code":0,"message":"success","data":…}`,
/// already rendered: the handler's typed output is serialized once, straight into
/// the response body, with no intermediate `serde_json::Value`.
#[derive(Debug)]
pub struct Data(Vec<u8>);

impl Data {
    /// The rendered envelope.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// What a handler returns: the rendered envelope of its `data`, or an error.
pub type ApiResult = Result<Data, ApiError>;

/// Everything of a success envelope before its `data`; `Envelope` spells the same
/// fields in the same order for errors.
const SUCCESS_PREFIX: &[u8] = br#"{"code":0,"message":"success","data":"#;

/// `value` as the envelope's `data`.
pub fn data<T: Serialize>(value: &T) -> ApiResult {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(SUCCESS_PREFIX);
    serde_json::to_writer(&mut out, value).map_err(|_| ApiError::internal())?;
    out.push(b'}');
    Ok(Data(out))
}

/// [`data`], plus a top-level `nextCursor` when `next_cursor` is set: a page of
/// game records cut short by the history store's scan budget says where to go on
/// (docs/platform-api.md, game records).
pub fn data_with_cursor<T: Serialize>(value: &T, next_cursor: Option<u64>) -> ApiResult {
    let Some(cursor) = next_cursor else {
        return data(value);
    };
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(SUCCESS_PREFIX);
    serde_json::to_writer(&mut out, value).map_err(|_| ApiError::internal())?;
    out.extend_from_slice(format!(",\"nextCursor\":{cursor}}}").as_bytes());
    Ok(Data(out))
}

#[derive(Serialize)]
struct Envelope<'a> {
    code: i32,
    message: &'a str,
    data: (),
}

/// The HTTP response of a handler's result.
pub fn respond(result: ApiResult) -> Response<Full<Bytes>> {
    let (status, body) = match result {
        Ok(data) => (StatusCode::OK, data.0),
        Err(e) => (e.status, error_body(&e)),
    };
    super::dialect::json_response(status, body)
}

/// `{"code":N,"message":"…","data":null}`.
fn error_body(e: &ApiError) -> Vec<u8> {
    serde_json::to_vec(&Envelope {
        code: e.code.code(),
        message: &e.message,
        data: (),
    })
    .unwrap_or_else(|_| br#"{"code":99,"message":"internal error","data":null}"#.to_vec())
}

// Every mapping below lists every variant, with no catch-all: a new error variant does
// not compile until it is given a code here (and in docs/api-errors.md).

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::Ledger(e) => e.into(),
            EngineError::Tournament(e) => e.into(),
            EngineError::Catalog(e) => e.into(),
            EngineError::Identity(e) => e.into(),
            EngineError::Seamless(e) => e.into(),
            EngineError::Webhook(e) => e.into(),
            EngineError::Invalid(m) => ApiError::invalid(m),
            EngineError::Storage(_) => ApiError::internal(),
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> ApiError {
        use LedgerError as L;
        let code = match &e {
            L::WalletNotFound(_) | L::RoundNotFound(_) => ErrorCode::NotFound,
            L::InsufficientBalance { .. } => ErrorCode::InsufficientBalance,
            L::InvalidAmount(..) | L::Overflow => ErrorCode::InvalidRequest,
            L::Conflict(_) => ErrorCode::Conflict,
            L::LimitExceeded(_) => ErrorCode::LimitExceeded,
            L::FundsElsewhere { .. } => ErrorCode::WrongState,
            L::GameMismatch { .. }
            | L::RoundClosed(_)
            | L::WrongState { .. }
            | L::UnknownBet(_)
            | L::BetCancelled(_)
            | L::AlreadyRefunded(_)
            | L::NotABet(_) => ErrorCode::WrongState,
            L::Journal(_) => return ApiError::internal(),
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> ApiError {
        use WebhookError as W;
        let code = match &e {
            W::TooManySubscriptions { .. } | W::OutboxFull { .. } => ErrorCode::LimitExceeded,
            W::PayloadTooLarge { .. } | W::NoEvents => ErrorCode::InvalidRequest,
            W::NoSuchDelivery(_) => ErrorCode::NotFound,
            W::Rng(_) | W::Journal(_) => return ApiError::internal(),
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<SeamlessError> for ApiError {
    fn from(e: SeamlessError) -> ApiError {
        use SeamlessError as S;
        let code = match &e {
            S::Busy => ErrorCode::LimitExceeded,
            S::Declined {
                reason: Decline::InsufficientBalance,
                ..
            } => ErrorCode::InsufficientBalance,
            S::Declined {
                reason: Decline::UnknownPlayer,
                ..
            } => ErrorCode::NotFound,
            S::Declined {
                reason: Decline::Refused,
                ..
            }
            | S::InProgress(_)
            | S::RolledBack(_)
            | S::CreditPending(_)
            | S::Unavailable(_)
            | S::NoRemote(_) => ErrorCode::WrongState,
            S::Journal(_) => return ApiError::internal(),
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<TournamentError> for ApiError {
    fn from(e: TournamentError) -> ApiError {
        use TournamentError as T;
        let code = match &e {
            T::Invalid(_) => ErrorCode::InvalidRequest,
            T::NotFound(_) | T::RoundNotFound(_) => ErrorCode::NotFound,
            T::WrongState { .. } => ErrorCode::WrongState,
            T::TooManyTournaments(_) | T::TooManyGames(_) => ErrorCode::LimitExceeded,
            T::PayoutInterrupted(_) | T::Journal(_) => return ApiError::internal(),
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> ApiError {
        use CatalogError as C;
        let code = match &e {
            C::GameNotFound(_) => ErrorCode::NotFound,
            C::GameExists(_)
            | C::RecordTaken { .. }
            | C::SerialTaken { .. }
            | C::VersionExists { .. }
            | C::CurrencyExists { .. } => ErrorCode::Conflict,
            C::Invalid { .. } => ErrorCode::InvalidRequest,
            C::LimitExceeded(_) => ErrorCode::LimitExceeded,
            C::Journal(_) => return ApiError::internal(),
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> ApiError {
        use IdentityError as I;
        let code = match &e {
            I::OperatorExists(_) | I::ChannelTaken(_) => ErrorCode::Conflict,
            I::OperatorNotFound(_) | I::PlayerNotFound(_) => ErrorCode::NotFound,
            I::WrongCredential => ErrorCode::WrongCredential,
            I::Invalid { .. } => ErrorCode::InvalidRequest,
            I::LimitExceeded(_) => ErrorCode::LimitExceeded,
            I::Contended => ErrorCode::WrongState,
            I::Hash(_) | I::Rng(_) | I::Journal(_) => return ApiError::internal(),
        };
        ApiError::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each code's place in `ErrorCode::ALL`: a new variant does not compile here
    /// until it is listed.
    fn index(code: ErrorCode) -> usize {
        match code {
            ErrorCode::InvalidRequest => 0,
            ErrorCode::Unauthorized => 1,
            ErrorCode::BadSignature => 2,
            ErrorCode::StaleTimestamp => 3,
            ErrorCode::ReusedNonce => 4,
            ErrorCode::NotFound => 5,
            ErrorCode::Conflict => 6,
            ErrorCode::InsufficientBalance => 7,
            ErrorCode::WrongState => 8,
            ErrorCode::LimitExceeded => 9,
            ErrorCode::WrongCredential => 10,
            ErrorCode::Internal => 11,
        }
    }

    #[test]
    fn the_docs_table_lists_exactly_the_codes() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(index(*code), i);
        }
        let doc = include_str!("../../docs/api-errors.md");
        let mut documented: Vec<i32> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| "))
            .filter_map(|l| l.split(" |").next()?.trim().parse().ok())
            .filter(|n| *n != 0)
            .collect();
        documented.sort_unstable();
        let mut coded: Vec<i32> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        coded.sort_unstable();
        assert_eq!(documented, coded, "docs/api-errors.md vs ErrorCode");
    }
    use serde_json::{json, Value};

    #[test]
    fn success_envelope_renders_data_in_place() {
        #[derive(Serialize)]
        struct Out<'a> {
            id: &'a str,
            total: i64,
        }
        let rendered = data(&Out { id: "7", total: -3 }).expect("renders");
        assert_eq!(
            rendered.as_bytes(),
            br#"{"code":0,"message":"success","data":{"id":"7","total":-3}}"#
        );
        let empty = data(&Vec::<u8>::new()).expect("renders");
        let parsed: Value = serde_json::from_slice(empty.as_bytes()).expect("JSON");
        assert_eq!(parsed, json!({"code": 0, "message": "success", "data": []}));
        assert_eq!(respond(Ok(empty)).status(), StatusCode::OK);
    }

    #[test]
    fn error_envelope_has_null_data_and_escapes_the_message() {
        let e = ApiError::invalid("bad \"x\"");
        assert_eq!(
            error_body(&e),
            br#"{"code":1,"message":"bad \"x\"","data":null}"#
        );
        assert_eq!(respond(Err(e)).status(), StatusCode::BAD_REQUEST);
    }
}
