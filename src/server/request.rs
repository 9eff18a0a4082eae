//! Reading requests: JSON bodies into typed structs, query strings, and the checks
//! that turn wire strings into the domain's types. Each failure is an invalid
//! request (code 1) and happens before anything is changed.

use super::envelope::{ApiError, ErrorCode};
use crate::ids::{IdError, WalletId};
use crate::money::Amount;
use hyper::Uri;
use serde::Deserialize;
use std::borrow::Cow;

/// A JSON body parsed into `T` (which may borrow strings from it). Unknown fields are
/// ignored; a wrong type, a missing field, a duplicate field or a number out of `T`'s
/// range is an error.
pub fn json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    if !is_json_object(body) {
        return Err(ApiError::invalid("the request body must be a JSON object"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
}

/// Whether `body` is a JSON object as far as its first byte tells. A struct that
/// serde derives also reads a JSON array, field by field in order
/// (`["w1", 100, "t1"]` as a deposit), which no API here accepts; the parse that
/// follows checks the rest.
pub fn is_json_object(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Like [`json`], but an empty body means `T::default()` (endpoints whose fields
/// are all optional, and GET endpoints that may carry a body).
pub fn json_or_default<'a, T: Deserialize<'a> + Default>(body: &'a [u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    json(body)
}

/// A JSON string's contents from the value's raw text (`"a\"b"` → `a"b`): borrowed
/// when the text holds no escapes; `None` when the text is not a JSON string. The
/// wallet APIs and the tournament spec read values as sent through this.
pub fn json_string(raw: &str) -> Option<Cow<'_, str>> {
    match serde_json::from_str::<&str>(raw) {
        Ok(s) => Some(Cow::Borrowed(s)),
        Err(_) => serde_json::from_str::<String>(raw).ok().map(Cow::Owned),
    }
}

/// The first value of query parameter `name`, percent-decoded.
pub fn query_param(uri: &Uri, name: &str) -> Option<String> {
    let query = uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A domain identifier from a wire string, or an invalid request naming the field.
pub fn parse_id<T>(
    field: &str,
    value: &str,
    make: impl FnOnce(&str) -> Result<T, IdError>,
) -> Result<T, ApiError> {
    make(value).map_err(|e| ApiError::invalid(format!("{field}: {e}")))
}

/// An optional filter: absent or empty means "no filter"; otherwise validated.
pub fn parse_filter<T>(
    field: &str,
    value: Option<&str>,
    make: impl FnOnce(&str) -> Result<T, IdError>,
) -> Result<Option<T>, ApiError> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => parse_id(field, v, make).map(Some),
    }
}

/// Longest `walletId` accepted (a `u64` in decimal is at most 20 digits).
const MAX_WALLET_ID_LEN: usize = 32;

/// A `walletId`. Wallet ids are opaque strings on the wire (the decimal number of
/// the wallet); a string that names no wallet is "not found", like an unknown one.
pub fn wallet_id(value: &str) -> Result<WalletId, ApiError> {
    if value.is_empty() || value.len() > MAX_WALLET_ID_LEN {
        return Err(ApiError::invalid("walletId must be 1 to 32 characters"));
    }
    value
        .parse::<u64>()
        .map(WalletId)
        .map_err(|_| ApiError::new(ErrorCode::NotFound, format!("wallet {value} not found")))
}

/// An amount that must be positive.
pub fn positive_amount(field: &str, value: i64) -> Result<Amount, ApiError> {
    let amount = Amount::new(value);
    if !amount.is_positive() {
        return Err(ApiError::invalid(format!(
            "{field} must be a positive integer"
        )));
    }
    Ok(amount)
}

/// An optional non-negative number: absent means 0.
pub fn non_negative(field: &str, value: Option<i64>) -> Result<u64, ApiError> {
    u64::try_from(value.unwrap_or(0))
        .map_err(|_| ApiError::invalid(format!("{field} must not be negative")))
}
