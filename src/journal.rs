//! The seam between the domain and durable storage.
//!
//! Every mutation of domain state is first expressed as an *effect* (a value that
//! says what changed), handed to a [`Journal`] while the mutated object's lock is
//! held, and only then applied in memory. The journal returns the log position
//! ([`Lsn`]) that the caller must see durable before it acknowledges the mutation.
//! The domain knows this trait, never files.

/// A position in the log: the sequence number of a record. `Lsn(0)` means "nothing".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

/// A domain call's result and the log position that must be durable before the result
/// is handed out (`Lsn(0)` when nothing needs waiting for). The one such type of every
/// domain; the engine turns it into a [`Pending`](crate::engine::Pending).
#[derive(Debug)]
#[must_use = "a mutation must not be acknowledged before its lsn is durable"]
pub struct Logged<T, E> {
    pub result: Result<T, E>,
    pub lsn: Lsn,
}

impl<T, E> Logged<T, E> {
    /// A refusal: nothing was logged, so nothing to wait for.
    pub fn rejected(e: impl Into<E>) -> Logged<T, E> {
        Logged {
            result: Err(e.into()),
            lsn: Lsn(0),
        }
    }

    /// A result to hand out once `lsn` is durable.
    pub fn ok(value: T, lsn: Lsn) -> Logged<T, E> {
        Logged {
            result: Ok(value),
            lsn,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Logged<U, E> {
        Logged {
            result: self.result.map(f),
            lsn: self.lsn,
        }
    }
}

/// The catalog and identity return `Result<(value, lsn), error>` (they refuse before
/// logging anything, so an error never carries a position): the same thing.
impl<T, E> From<Result<(T, Lsn), E>> for Logged<T, E> {
    fn from(result: Result<(T, Lsn), E>) -> Logged<T, E> {
        match result {
            Ok((value, lsn)) => Logged::ok(value, lsn),
            Err(e) => Logged::rejected(e),
        }
    }
}

/// Why a journal refused an effect. Nothing was applied when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("the log has failed and accepts no more writes: {0}")]
    Failed(String),
    #[error("the effect could not be encoded: {0}")]
    Encode(String),
    /// The history store (what the hot window let go of) could not be read: the
    /// call is refused rather than answered without history.
    #[error("{0}")]
    History(String),
}

/// Where effects go before they are applied.
pub trait Journal<E>: Send + Sync {
    /// Hands `effect` to the log; returns the position to wait for.
    fn append(&self, effect: &E) -> Result<Lsn, JournalError>;

    /// The position of the newest effect handed over so far. Waiting for it covers
    /// every effect already applied in memory (used when a replayed result is returned).
    fn appended(&self) -> Lsn;
}

/// A journal that forgets everything: the pure in-memory engine, and benchmarks.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoJournal;

impl<E> Journal<E> for NoJournal {
    fn append(&self, _effect: &E) -> Result<Lsn, JournalError> {
        Ok(Lsn(0))
    }

    fn appended(&self) -> Lsn {
        Lsn(0)
    }
}

/// A journal that keeps every effect in memory: tests replay it into a fresh ledger.
#[derive(Debug, Default)]
pub struct MemoryJournal<E> {
    effects: parking_lot::Mutex<Vec<E>>,
}

impl<E: Clone> MemoryJournal<E> {
    pub fn new() -> Self {
        MemoryJournal {
            effects: parking_lot::Mutex::new(Vec::new()),
        }
    }

    /// Every effect appended so far, in log order.
    pub fn effects(&self) -> Vec<E> {
        self.effects.lock().clone()
    }
}

impl<E: Clone + Send> Journal<E> for MemoryJournal<E> {
    fn append(&self, effect: &E) -> Result<Lsn, JournalError> {
        let mut effects = self.effects.lock();
        effects.push(effect.clone());
        Ok(Lsn(effects.len() as u64))
    }

    fn appended(&self) -> Lsn {
        Lsn(self.effects.lock().len() as u64)
    }
}
