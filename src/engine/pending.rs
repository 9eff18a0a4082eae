//! A mutation that is applied in memory but not yet known to be durable.
//!
//! The blocking API waits on it before returning; the async server awaits it, so no
//! tokio worker ever blocks on an fsync; a batch waits once for the last of many.

use super::log::EngineLog;
use super::EngineError;
use crate::journal::Lsn;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

/// A result that may be handed out only once `lsn` is durable.
#[must_use = "a mutation must not be acknowledged before it is durable: call wait() or .await"]
pub struct Pending<T> {
    result: Result<T, EngineError>,
    lsn: Lsn,
    log: Arc<EngineLog>,
}

impl<T> Pending<T> {
    pub(crate) fn new(result: Result<T, EngineError>, lsn: Lsn, log: Arc<EngineLog>) -> Pending<T> {
        Pending { result, lsn, log }
    }

    /// The log position this result waits for.
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }

    /// Blocks until durable, then returns the result. A log failure replaces the
    /// result with an error: what was not written must not be acknowledged.
    pub fn wait(self) -> Result<T, EngineError> {
        self.log.wait_durable(self.lsn)?;
        self.result
    }

    /// The result without waiting: only for callers that wait for a later position
    /// themselves (a batch waits once for its last operation).
    pub(crate) fn into_parts(self) -> (Result<T, EngineError>, Lsn) {
        (self.result, self.lsn)
    }
}

impl<T: Send + 'static> IntoFuture for Pending<T> {
    type Output = Result<T, EngineError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T, EngineError>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            self.log.durable(self.lsn).await?;
            self.result
        })
    }
}
