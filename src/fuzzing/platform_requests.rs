//! Fuzz entry point of the platform API (Publisher Manual §3–§7: games, records,
//! transfer wallets, players, tournaments, webhooks): arbitrary bytes as a short
//! sequence of requests, each taken through the server's routing and its endpoint's
//! whole path (body parsing, typed fields, the engine call, the answer) as the
//! operator of a fresh in-memory engine with one game and one funded player.
//! Authentication is not fuzzed here (the wallet targets fuzz signatures).
//!
//! Input: requests separated by the byte `0xFF`; a request's first byte chooses the
//! endpoint, the rest is the body.

use super::wallet_apis::world;
use crate::ids::ClientId;
use crate::server::{platform_endpoints, platform_request_as, App};
use http_body_util::BodyExt;
use serde_json::Value;

/// Requests in one input, at most.
const MAX_REQUESTS: usize = 8;

/// Platform requests from fuzz bytes: every answer is a JSON envelope with a code,
/// and the ledger's invariants hold after them all.
pub fn platform_requests(data: &[u8]) {
    let Some(world) = world() else { return };
    let Ok(client) = ClientId::new("fuzz") else {
        return;
    };
    let Some(op) = world.engine.operator(&client) else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let app = App::detached(world.engine.clone());
    let endpoints = platform_endpoints();
    for request in data.split(|b| *b == 0xFF).take(MAX_REQUESTS) {
        let Some((&selector, body)) = request.split_first() else {
            continue;
        };
        let (method, path) = &endpoints[usize::from(selector) % endpoints.len()];
        let Ok(request) = hyper::Request::builder()
            .method(method.clone())
            .uri(*path)
            .body(())
        else {
            continue;
        };
        let (parts, ()) = request.into_parts();
        let bytes = runtime.block_on(async {
            let response = platform_request_as(&app, &op, &parts, body).await;
            response.into_body().collect().await.map(|b| b.to_bytes())
        });
        let Ok(bytes) = bytes;
        #[allow(clippy::expect_used)]
        let answer: Value = serde_json::from_slice(&bytes).expect("an answer is JSON");
        assert!(
            answer.get("code").is_some_and(Value::is_i64),
            "{path}: no code: {answer}"
        );
    }
    world.engine.check_invariants();
}
