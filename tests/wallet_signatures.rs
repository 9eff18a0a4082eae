//! The wallet APIs' signers against vectors computed outside Rust:
//! `tests/fixtures/signatures.json`, written by `tests/fixtures/make_signatures.py`
//! with Python's hashlib and hmac.

use pitboss::server::bank;
use pitboss::server::gate::params::{sign_body, GateParams};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/signatures.json"
    );
    let text = std::fs::read_to_string(path).expect("tests/fixtures/signatures.json");
    serde_json::from_str(&text).expect("JSON")
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().expect(name)
}

#[test]
fn gate_signatures_match_an_independent_implementation() {
    let vectors = vectors();
    let gate = vectors["gate"].as_array().expect("gate vectors");
    assert!(gate.len() >= 12);
    for v in gate {
        let (secret, body, sign) = (field(v, "secret"), field(v, "body"), field(v, "sign"));
        assert_eq!(
            sign_body(body.as_bytes(), secret).expect("signs"),
            sign,
            "{body}"
        );
        let params = GateParams::parse(body.as_bytes()).expect("parses");
        assert!(params.signature_matches(sign, secret));
        assert!(params.signature_matches(&sign.to_uppercase(), secret));
        assert!(!params.signature_matches(sign, &format!("{secret}x")));
    }
}

#[test]
fn bank_signatures_match_an_independent_implementation() {
    let vectors = vectors();
    let bank_vectors = vectors["bank"].as_array().expect("bank vectors");
    assert!(bank_vectors.len() >= 12);
    for v in bank_vectors {
        let (secret, body, sig) = (field(v, "secret"), field(v, "body"), field(v, "signature"));
        assert_eq!(bank::sign::sign(body.as_bytes(), secret), sig, "{body}");
        assert!(bank::sign::signature_matches(
            body.as_bytes(),
            secret,
            &sig.to_uppercase()
        ));
        let tampered = format!("{body} ");
        assert!(!bank::sign::signature_matches(
            tampered.as_bytes(),
            secret,
            sig
        ));
    }
}
