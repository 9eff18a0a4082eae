//! Authentication: the platform API's request signature (Publisher Manual §1) and the admin
//! token. Every secret comparison is constant-time.
//!
//! `X-Signature = hex(sha256(clientId + timestamp + nonce + apiKey))`, where
//! `timestamp` is the `X-Timestamp` header exactly as sent (Unix seconds in decimal,
//! as the Publisher Manual's JavaScript and Go examples print it). Note that the body is not
//! signed: the Publisher Manual's scheme authenticates the caller, not the payload, so the API
//! must be served behind TLS (Publisher Manual §2).

use super::envelope::{ApiError, ErrorCode};
use super::nonce::{NonceCache, NonceError};
use crate::engine::Engine;
use crate::identity::types::Operator;
use crate::ids::ClientId;
use hyper::header::{HeaderName, HeaderValue, InvalidHeaderValue, AUTHORIZATION};
use hyper::HeaderMap;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub const CLIENT_ID: &str = "x-client-id";
pub const TIMESTAMP: &str = "x-timestamp";
pub const NONCE: &str = "x-nonce";
pub const SIGNATURE: &str = "x-signature";

// The same names as header keys, built at compile time: looking a request's header up
// by a `HeaderName` hashes it directly instead of parsing a string on every request.
pub const CLIENT_ID_NAME: HeaderName = HeaderName::from_static(CLIENT_ID);
const TIMESTAMP_NAME: HeaderName = HeaderName::from_static(TIMESTAMP);
const NONCE_NAME: HeaderName = HeaderName::from_static(NONCE);
const SIGNATURE_NAME: HeaderName = HeaderName::from_static(SIGNATURE);

/// Longest accepted `X-Nonce`, in bytes (a UUID is 36, 16 random bytes in hex 32).
pub const MAX_NONCE_LEN: usize = 64;

fn digest(client_id: &str, timestamp: &str, nonce: &str, api_key: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [client_id, timestamp, nonce, api_key] {
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// The signature of Publisher Manual §1.2.2, in lowercase hex: what a client sends.
pub fn sign(client_id: &str, timestamp: &str, nonce: &str, api_key: &str) -> String {
    hex::encode(digest(client_id, timestamp, nonce, api_key))
}

/// [`sign`] into a stack buffer of 64 lowercase hex digits, without allocating: for a
/// client that signs every request (the load generator).
pub fn sign_hex(client_id: &str, timestamp: &str, nonce: &str, api_key: &str) -> [u8; 64] {
    let mut out = [0u8; 64];
    // 32 bytes always fit 64 hex digits, so this cannot fail.
    let encoded = hex::encode_to_slice(digest(client_id, timestamp, nonce, api_key), &mut out);
    debug_assert!(encoded.is_ok());
    out
}

/// The four headers of a request signed at `timestamp` with `nonce`: what a client
/// (the load generator, the tests) sends.
pub fn signed_headers(
    client_id: &str,
    api_key: &str,
    timestamp: &str,
    nonce: &str,
) -> Result<Vec<(HeaderName, HeaderValue)>, InvalidHeaderValue> {
    let signature = sign(client_id, timestamp, nonce, api_key);
    Ok(vec![
        (CLIENT_ID_NAME, HeaderValue::from_str(client_id)?),
        (TIMESTAMP_NAME, HeaderValue::from_str(timestamp)?),
        (NONCE_NAME, HeaderValue::from_str(nonce)?),
        (SIGNATURE_NAME, HeaderValue::from_str(&signature)?),
    ])
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message)
}

fn header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<&'a str, ApiError> {
    let value = headers
        .get(name)
        .ok_or_else(|| unauthorized(&format!("missing header {name}")))?;
    value
        .to_str()
        .map_err(|_| unauthorized(&format!("header {name} is not visible ASCII")))
}

/// The operator a signed request comes from, once its headers, timestamp, signature
/// and nonce have passed, in that order. The nonce is recorded only for a request
/// whose signature is good, so that nobody else can fill a client's nonce memory.
pub fn authenticate(
    engine: &Engine,
    nonces: &NonceCache,
    headers: &HeaderMap,
) -> Result<Arc<Operator>, ApiError> {
    let client_raw = header(headers, &CLIENT_ID_NAME)?;
    let ts_raw = header(headers, &TIMESTAMP_NAME)?;
    let nonce = header(headers, &NONCE_NAME)?;
    let signature = header(headers, &SIGNATURE_NAME)?;
    let client = ClientId::new(client_raw).map_err(|_| unauthorized("malformed X-Client-ID"))?;
    let ts: i64 = ts_raw
        .parse()
        .map_err(|_| unauthorized("X-Timestamp must be Unix seconds"))?;
    if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN {
        return Err(unauthorized("X-Nonce must be 1 to 64 characters"));
    }
    let mut provided = [0u8; 32];
    hex::decode_to_slice(signature, &mut provided)
        .map_err(|_| ApiError::new(ErrorCode::BadSignature, "X-Signature must be 64 hex digits"))?;
    let operator = engine
        .operator(&client)
        .ok_or_else(|| unauthorized("unknown client id"))?;
    let now = engine.clock().now_secs();
    let window = nonces.limits().window_secs;
    if ts.abs_diff(now) > window.unsigned_abs() {
        return Err(ApiError::new(
            ErrorCode::StaleTimestamp,
            format!("X-Timestamp is more than {window} s from the server's time {now}"),
        ));
    }
    let expected = digest(client_raw, ts_raw, nonce, operator.api_key.expose());
    if !bool::from(expected.ct_eq(&provided)) {
        return Err(ApiError::new(ErrorCode::BadSignature, "bad signature"));
    }
    match nonces.check_and_insert(&client, nonce, ts, now) {
        Ok(()) => Ok(operator),
        Err(NonceError::Reused) => Err(ApiError::new(ErrorCode::ReusedNonce, "nonce already used")),
        Err(NonceError::Full) => Err(ApiError::new(
            ErrorCode::LimitExceeded,
            "too many recent nonces for this client; retry later",
        )),
    }
}

/// Checks `Authorization: Bearer <admin token>`.
pub fn check_admin(headers: &HeaderMap, token: &str) -> Result<(), ApiError> {
    let value = header(headers, &AUTHORIZATION)?;
    let given = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| unauthorized("expected Authorization: Bearer <admin token>"))?;
    if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        Ok(())
    } else {
        Err(unauthorized("bad admin token"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_sha256_of_the_concatenation_in_hex() {
        // echo -n 'user_a1234567891641234567550e8400-e29b-41d4-a716-446655440000key' | sha256sum
        let sig = sign(
            "user_a123456789",
            "1641234567",
            "550e8400-e29b-41d4-a716-446655440000",
            "key",
        );
        assert_eq!(
            sig,
            "a187631ab6318c0a338e520ec959b40cbd63e32543deee4c4326181fcb382613"
        );
        let hex = sign_hex(
            "user_a123456789",
            "1641234567",
            "550e8400-e29b-41d4-a716-446655440000",
            "key",
        );
        assert_eq!(hex.as_slice(), sig.as_bytes());
    }
}
