//! A gate request's parameters, and its signature (the gate wallet API document,
//! "请求sign签名规则").
//!
//! The body is one flat JSON object. Its signature is
//! `sign = hex(md5(k1=v1&k2=v2&…&kn=vn + "&key=" + appSecret))`, over every parameter
//! but `sign`, sorted by key in byte order (the document's order "digits, a–z, A–Z,
//! symbols" is byte order for every key it defines), where a string is written
//! unquoted and unescaped, a number as its JSON text exactly as sent (`4500`), and a
//! boolean as `true` or `false`. The server compares case-insensitively and in
//! constant time.
//!
//! Values are kept as they were sent (strings borrowed from the body where they hold
//! no escapes, numbers as their text), so the server signs exactly what the client
//! signed, and an amount never passes through a float.

use super::codes::{GateCode, GateError};
use crate::server::request::json_string;
use md5::{Digest, Md5};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use subtle::ConstantTimeEq;

/// Most parameters a request may carry.
pub const MAX_PARAMS: usize = 32;
/// Longest parameter name, in bytes.
pub const MAX_KEY_LEN: usize = 64;

/// One parameter's value, as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamValue<'a> {
    Str(Cow<'a, str>),
    /// A JSON number's own text (`4500`, `-1`, `1.5e3`).
    Number(&'a str),
    Bool(bool),
}

impl ParamValue<'_> {
    /// The value as the string to sign shows it.
    fn signed_text(&self) -> &str {
        match self {
            ParamValue::Str(s) => s,
            ParamValue::Number(n) => n,
            ParamValue::Bool(true) => "true",
            ParamValue::Bool(false) => "false",
        }
    }
}

/// A request's parameters, sorted by key (byte order), keys unique.
#[derive(Debug, PartialEq, Eq)]
pub struct GateParams<'a> {
    entries: Vec<(Cow<'a, str>, ParamValue<'a>)>,
}

/// The raw members of a JSON object, in the order sent.
struct RawMembers<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for RawMembers<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = RawMembers<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(16);
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    if members.len() == MAX_PARAMS {
                        return Err(de::Error::custom("too many parameters"));
                    }
                    members.push((key.0, map.next_value::<&'de RawValue>()?));
                }
                Ok(RawMembers(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// An object key, borrowed from the body unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a parameter name")
            }

            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

fn bad_data(message: impl Into<String>) -> GateError {
    GateError::new(GateCode::BadData, message)
}

impl<'a> GateParams<'a> {
    /// Parses a body: a JSON object of at most [`MAX_PARAMS`] members, each a string,
    /// a number or a boolean, names unique and at most [`MAX_KEY_LEN`] bytes.
    pub fn parse(body: &'a [u8]) -> Result<GateParams<'a>, GateError> {
        let RawMembers(members) = serde_json::from_slice(body).map_err(|e| {
            GateError::new(
                GateCode::InvalidData,
                format!("the body is not a JSON object: {e}"),
            )
        })?;
        let mut entries = Vec::with_capacity(members.len());
        for (key, raw) in members {
            if key.is_empty() || key.len() > MAX_KEY_LEN {
                return Err(bad_data(
                    "a parameter name is empty or longer than 64 bytes",
                ));
            }
            let text = raw.get();
            let value = match text.as_bytes().first() {
                Some(b'"') => ParamValue::Str(
                    json_string(text).ok_or_else(|| bad_data(format!("{key}: bad string")))?,
                ),
                Some(b'-' | b'0'..=b'9') => ParamValue::Number(text),
                _ if text == "true" => ParamValue::Bool(true),
                _ if text == "false" => ParamValue::Bool(false),
                _ => {
                    return Err(bad_data(format!(
                        "{key} must be a string, a number or a boolean"
                    )))
                }
            };
            entries.push((key, value));
        }
        entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        if let Some(pair) = entries.windows(2).find(|p| p[0].0 == p[1].0) {
            return Err(bad_data(format!("parameter {} is repeated", pair[0].0)));
        }
        Ok(GateParams { entries })
    }

    /// The parameter `key`, if sent.
    pub fn get(&self, key: &str) -> Option<&ParamValue<'a>> {
        let found = self
            .entries
            .binary_search_by(|(k, _)| k.as_bytes().cmp(key.as_bytes()));
        found.ok().map(|i| &self.entries[i].1)
    }

    /// The md5 digest the request must carry as `sign`, given the operator's secret.
    pub fn digest(&self, app_secret: &str) -> [u8; 16] {
        let pairs = self.entries.iter().filter(|(key, _)| key != "sign");
        digest_sorted(
            pairs.map(|(k, v)| (k.as_ref(), v.signed_text())),
            app_secret,
        )
    }

    /// True when `sign` (32 hex digits, either case) is the request's signature.
    pub fn signature_matches(&self, sign: &str, app_secret: &str) -> bool {
        let mut provided = [0u8; 16];
        if hex::decode_to_slice(sign, &mut provided).is_err() {
            return false;
        }
        bool::from(self.digest(app_secret).ct_eq(&provided))
    }

    /// A required string parameter.
    pub fn str(&self, key: &str) -> Result<&str, GateError> {
        match self.get(key) {
            Some(ParamValue::Str(s)) => Ok(s),
            Some(_) => Err(bad_data(format!("{key} must be a string"))),
            None => Err(missing(key)),
        }
    }

    /// A required integer parameter (a JSON integer that fits an `i64`).
    pub fn int(&self, key: &str) -> Result<i64, GateError> {
        self.opt_int(key)?.ok_or_else(|| missing(key))
    }

    /// An optional integer parameter.
    pub fn opt_int(&self, key: &str) -> Result<Option<i64>, GateError> {
        match self.get(key) {
            Some(ParamValue::Number(n)) => n
                .parse()
                .map(Some)
                .map_err(|_| bad_data(format!("{key} must be an integer within 64 bits"))),
            Some(_) => Err(bad_data(format!("{key} must be an integer"))),
            None => Ok(None),
        }
    }

    /// An optional boolean parameter.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, GateError> {
        match self.get(key) {
            Some(ParamValue::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(bad_data(format!("{key} must be true or false"))),
            None => Ok(None),
        }
    }
}

/// `md5(k1=v1&…&kn=vn&key=<app_secret>)` over `pairs`, which the caller gives
/// sorted by key in byte order, without `sign`, and with each value as the string to
/// sign writes it. The one implementation of the gate's string to sign: the server's
/// check and every client (the load generator) use it.
pub fn digest_sorted<'p>(
    pairs: impl IntoIterator<Item = (&'p str, &'p str)>,
    app_secret: &str,
) -> [u8; 16] {
    let mut md5 = Md5::new();
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            md5.update(b"&");
        }
        md5.update(key.as_bytes());
        md5.update(b"=");
        md5.update(value.as_bytes());
    }
    md5.update(b"&key=");
    md5.update(app_secret.as_bytes());
    md5.finalize().into()
}

fn missing(key: &str) -> GateError {
    GateError::new(GateCode::MissingParam, format!("missing parameter {key}"))
}

/// The `sign` a client puts in `body` (a JSON object without `sign`, or whose `sign`
/// is ignored), in lowercase hex: what the game server, the tests and the load
/// generator send, computed by the same code that checks it.
pub fn sign_body(body: &[u8], app_secret: &str) -> Result<String, GateError> {
    Ok(hex::encode(GateParams::parse(body)?.digest(app_secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_string_to_sign_is_sorted_unquoted_and_skips_sign() {
        // printf '%s' 'amount=4500&app_key=K&end_round=false&game_id=1&sign_extra=x&uid=3166551&key=S' | md5sum
        let body = br#"{"uid":3166551,"game_id":"1","amount":4500,"sign":"zz",
                        "app_key":"K","end_round":false,"sign_extra":"x"}"#;
        let params = GateParams::parse(body).expect("parses");
        assert_eq!(
            hex::encode(params.digest("S")),
            "c8f098e63f56480a3b456192d7f192ef"
        );
    }

    #[test]
    fn signatures_compare_case_insensitively() {
        let body = br#"{"a":"1"}"#;
        let sign = sign_body(body, "S").expect("signs");
        let params = GateParams::parse(body).expect("parses");
        assert!(params.signature_matches(&sign, "S"));
        assert!(params.signature_matches(&sign.to_uppercase(), "S"));
        assert!(!params.signature_matches(&sign, "T"));
        assert!(!params.signature_matches(&sign[1..], "S"));
        assert!(!params.signature_matches("", "S"));
    }

    #[test]
    fn bodies_that_are_not_flat_objects_are_refused() {
        let code = |b: &[u8]| GateParams::parse(b).map(|_| ()).map_err(|e| e.code);
        assert_eq!(code(b"[]"), Err(GateCode::InvalidData));
        assert_eq!(code(b"{"), Err(GateCode::InvalidData));
        assert_eq!(code(b""), Err(GateCode::InvalidData));
        assert_eq!(code(br#"{"a":{"b":1}}"#), Err(GateCode::BadData));
        assert_eq!(code(br#"{"a":[1]}"#), Err(GateCode::BadData));
        assert_eq!(code(br#"{"a":null}"#), Err(GateCode::BadData));
        assert_eq!(code(br#"{"a":1,"a":2}"#), Err(GateCode::BadData));
        assert_eq!(code(br#"{"":1}"#), Err(GateCode::BadData));
        let many: String = (0..=MAX_PARAMS)
            .map(|i| format!("\"k{i}\":1"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            code(format!("{{{many}}}").as_bytes()),
            Err(GateCode::InvalidData)
        );
    }

    #[test]
    fn typed_reads_name_the_parameter() {
        let p = GateParams::parse(
            br#"{"s":"x\u00e9","n":12,"f":1.5,"b":true,"big":99999999999999999999}"#,
        )
        .expect("parses");
        assert_eq!(p.str("s").expect("string"), "xé");
        assert_eq!(p.int("n").expect("int"), 12);
        assert_eq!(p.opt_bool("b").expect("bool"), Some(true));
        assert_eq!(p.int("f").map_err(|e| e.code), Err(GateCode::BadData));
        assert_eq!(p.int("big").map_err(|e| e.code), Err(GateCode::BadData));
        assert_eq!(p.str("n").map_err(|e| e.code), Err(GateCode::BadData));
        assert_eq!(
            p.int("absent").map_err(|e| e.code),
            Err(GateCode::MissingParam)
        );
        assert_eq!(p.opt_int("absent").expect("optional"), None);
    }
}
