//! The bank wallet API's request signature.
//!
//! `X-Signature = hex(md5(hex(hmac_sha256(key = appSecret, msg = raw body))))`: the
//! HMAC is written as 64 lowercase hex digits, and those digits are what md5 hashes.
//! `X-API-Key` is the operator's public appKey; `X-Timestamp` is Unix milliseconds
//! (seconds are accepted too: below 10^11). The server compares the signature
//! case-insensitively and in constant time. The body is signed as sent, byte for byte.

use hmac::{Hmac, KeyInit, Mac};
use hyper::header::{HeaderName, HeaderValue, InvalidHeaderValue};
use md5::{Digest, Md5};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub const API_KEY: HeaderName = HeaderName::from_static("x-api-key");
pub const TIMESTAMP: HeaderName = HeaderName::from_static("x-timestamp");
pub const SIGNATURE: HeaderName = HeaderName::from_static("x-signature");

/// The md5 digest `X-Signature` must hold for `body`.
pub fn digest(body: &[u8], app_secret: &str) -> [u8; 16] {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(body);
    let mut hmac_hex = [0u8; 64];
    let encoded = hex::encode_to_slice(mac.finalize().into_bytes(), &mut hmac_hex);
    debug_assert!(encoded.is_ok(), "32 bytes are 64 hex digits");
    Md5::digest(hmac_hex).into()
}

/// The signature of `body` in lowercase hex: what a client sends as `X-Signature`.
pub fn sign(body: &[u8], app_secret: &str) -> String {
    hex::encode(digest(body, app_secret))
}

/// True when `provided` (32 hex digits, either case) is `body`'s signature.
pub fn signature_matches(body: &[u8], app_secret: &str, provided: &str) -> bool {
    let mut given = [0u8; 16];
    if hex::decode_to_slice(provided, &mut given).is_err() {
        return false;
    }
    bool::from(digest(body, app_secret).ct_eq(&given))
}

/// The three headers of a signed request: what a client (the tests, the load
/// generator, a platform calling an operator's wallet) sends with `body`.
pub fn signed_headers(
    app_key: &str,
    app_secret: &str,
    timestamp_ms: i64,
    body: &[u8],
) -> Result<Vec<(HeaderName, HeaderValue)>, InvalidHeaderValue> {
    Ok(vec![
        (API_KEY, HeaderValue::from_str(app_key)?),
        (TIMESTAMP, HeaderValue::from(timestamp_ms)),
        (SIGNATURE, HeaderValue::from_str(&sign(body, app_secret))?),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_md5_of_the_hex_hmac() {
        // printf '%s' '{"a":1}' | openssl dgst -sha256 -hmac secret -hex  → h
        // printf '%s' "$h" | md5sum
        let body = br#"{"a":1}"#;
        assert_eq!(sign(body, "secret"), "0bdf0ddf44576d4d96ff96dd25eb4f72");
        assert!(signature_matches(
            body,
            "secret",
            &sign(body, "secret").to_uppercase()
        ));
        assert!(!signature_matches(body, "other", &sign(body, "secret")));
        assert!(!signature_matches(b"{}", "secret", &sign(body, "secret")));
        assert!(!signature_matches(body, "secret", "xyz"));
    }
}
