//! `docs/openapi.json` (served at `/openapi.json`) describes every endpoint the server
//! speaks and nothing else: its (method, path) pairs equal `server::endpoints()`, the
//! tables the server dispatches from.

use serde_json::Value;
use std::collections::BTreeSet;

#[test]
fn the_document_and_the_routes_agree() {
    let doc: Value =
        serde_json::from_str(pitboss::server::OPENAPI_JSON).expect("docs/openapi.json is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            documented.insert((method.to_uppercase(), path.clone()));
            assert!(
                op["responses"]["200"].is_object(),
                "{method} {path}: no 200 answer"
            );
        }
    }
    let served: BTreeSet<(String, String)> = pitboss::server::endpoints()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not documented: {undocumented:?}; documented but not served: {unserved:?} \
         (python3 tools/openapi/generate.py writes the document)"
    );
}
