//! The platform API's response envelope `{code, message, data}` and its one table of
//! error codes (documented in `docs/api-errors.md`; the numbers are stable).

use crate::catalog::CatalogError;
use crate::engine::EngineError;
use crate::identity::IdentityError;
use crate::ledger::error::LedgerError;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde::Serialize;
use serde_json::Value;

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

/// What a handler returns: the envelope's `data`, or an error.
pub type ApiResult = Result<Value, ApiError>;

/// `value` as the envelope's `data`.
pub fn data<T: Serialize>(value: &T) -> ApiResult {
    serde_json::to_value(value).map_err(|_| ApiError::internal())
}

#[derive(Serialize)]
struct Envelope<'a> {
    code: i32,
    message: &'a str,
    data: &'a Value,
}

/// The HTTP response of a handler's result.
pub fn respond(result: ApiResult) -> Response<Full<Bytes>> {
    let (status, code, message, data) = match &result {
        Ok(data) => (StatusCode::OK, 0, "success", data),
        Err(e) => (e.status, e.code.code(), e.message.as_str(), &Value::Null),
    };
    let body = serde_json::to_vec(&Envelope {
        code,
        message,
        data,
    })
    .unwrap_or_else(|_| br#"{"code":99,"message":"internal error","data":null}"#.to_vec());
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::Ledger(e) => e.into(),
            EngineError::Catalog(e) => e.into(),
            EngineError::Identity(e) => e.into(),
            EngineError::Invalid(m) => ApiError::invalid(m),
            _ => ApiError::internal(),
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
            L::Journal(_) => return ApiError::internal(),
            _ => ErrorCode::WrongState,
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
            | C::VersionExists { .. } => ErrorCode::Conflict,
            C::Invalid { .. } => ErrorCode::InvalidRequest,
            C::LimitExceeded(_) => ErrorCode::LimitExceeded,
            _ => return ApiError::internal(),
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
            _ => return ApiError::internal(),
        };
        ApiError::new(code, e.to_string())
    }
}
