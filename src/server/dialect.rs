//! What the two wallet dialects (gate and bank) share: their timestamp window, the
//! player's wallet in a currency, the platform's transaction id, and their JSON
//! responses. Each dialect's own module parses, authenticates and renders.

use crate::engine::Engine;
use crate::identity::types::Operator;
use crate::ids::{Currency, PlayerId, TxId, WalletId};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};

/// How far a request's timestamp may be from the server's clock, either way.
pub const TIMESTAMP_WINDOW_SECS: i64 = 300;

/// Below this a wire timestamp is read as seconds, from it on as milliseconds (10^11
/// seconds is the year 5138; 10^11 milliseconds is 1973).
const MILLISECONDS_FROM: i64 = 100_000_000_000;

/// True when `timestamp` (Unix seconds, or milliseconds from 10^11 on) is within
/// [`TIMESTAMP_WINDOW_SECS`] of `now_secs`.
pub fn timestamp_fresh(timestamp: i64, now_secs: i64) -> bool {
    let secs = if timestamp >= MILLISECONDS_FROM {
        timestamp / 1000
    } else {
        timestamp
    };
    secs.abs_diff(now_secs) <= TIMESTAMP_WINDOW_SECS.unsigned_abs()
}

/// Why a player's wallet in a currency cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalletRefusal {
    /// Not one of the operator's currencies.
    Currency,
}

/// The wallet of `player` in `currency`, if the player ever had one opened: `None`
/// means a balance of zero and nothing to move. The currency must be the operator's.
pub fn player_wallet(
    engine: &Engine,
    op: &Operator,
    player: &PlayerId,
    currency: &Currency,
) -> Result<Option<WalletId>, WalletRefusal> {
    if !op.currencies().any(|c| c == currency) {
        return Err(WalletRefusal::Currency);
    }
    Ok(engine.wallet_id(&op.channel, player, currency))
}

/// The platform's id of a transaction, as the dialects answer it: the wallet's number
/// and the caller's transaction id (`"17-bet-001"`). Transaction ids are unique per
/// wallet, so this is unique across the platform, and the same on every replay.
pub fn platform_tx_id(wallet: WalletId, tx: &TxId) -> String {
    format!("{wallet}-{tx}")
}

/// A JSON response.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_seconds_or_milliseconds_within_five_minutes() {
        let now = 1_728_533_057;
        assert!(timestamp_fresh(now, now));
        assert!(timestamp_fresh(now - 300, now));
        assert!(timestamp_fresh(now + 300, now));
        assert!(!timestamp_fresh(now - 301, now));
        assert!(timestamp_fresh(now * 1000 + 999, now));
        assert!(!timestamp_fresh((now + 301) * 1000, now));
        assert!(!timestamp_fresh(0, now));
        assert!(!timestamp_fresh(i64::MIN, now));
        assert!(!timestamp_fresh(i64::MAX, now));
    }
}
