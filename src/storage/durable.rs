//! The durable LSN and everyone waiting on it. Blocking waiters and async waiters
//! ([`DurableFuture`]) share one hand-rolled waker registry (so this layer needs no async
//! runtime); blocking waiters park their thread. Also where the log's failed and closed
//! states reach the waiters.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use parking_lot::Mutex;

use super::error::StorageError;
use super::Lsn;

/// The durable LSN, the terminal states, and the registry of waiters.
#[derive(Debug)]
pub(crate) struct DurableState {
    /// Copy of `status.durable` readable without the lock (the fast path of every wait).
    durable: AtomicU64,
    status: Mutex<Status>,
}

/// Wakes the thread it was made on.
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    /// This thread's blocking-wait waker, made once per thread.
    static THREAD_WAKER: Waker = Waker::from(Arc::new(Unparker(thread::current())));
}

#[derive(Debug, Default)]
struct Status {
    durable: Lsn,
    failed: Option<Arc<StorageError>>,
    closed: bool,
    /// Waiters (blocking and async) by (LSN awaited, registration id); ordered so that
    /// publishing can split off exactly the ones now satisfied.
    wakers: BTreeMap<(u64, u64), Waker>,
    next_waker_id: u64,
}

impl Status {
    /// The answer for a waiter on `lsn`, if there is one yet.
    fn outcome(&self, lsn: Lsn) -> Option<Result<(), StorageError>> {
        if self.durable >= lsn {
            Some(Ok(()))
        } else if let Some(cause) = &self.failed {
            Some(Err(StorageError::Failed {
                cause: Arc::clone(cause),
            }))
        } else if self.closed {
            Some(Err(StorageError::Closed))
        } else {
            None
        }
    }
}

impl DurableState {
    /// A state whose durable LSN starts at `durable` (what recovery found on disk).
    pub(crate) fn new(durable: Lsn) -> Self {
        DurableState {
            durable: AtomicU64::new(durable.0),
            status: Mutex::new(Status {
                durable,
                ..Status::default()
            }),
        }
    }

    pub(crate) fn durable(&self) -> Lsn {
        Lsn(self.durable.load(Ordering::Acquire))
    }

    /// Records that everything up to `lsn` is durable and wakes whoever that satisfies.
    pub(crate) fn publish(&self, lsn: Lsn) {
        let ready = {
            let mut status = self.status.lock();
            debug_assert!(lsn >= status.durable, "the durable LSN never goes back");
            debug_assert!(
                status.failed.is_none(),
                "nothing is durable after a failure"
            );
            status.durable = lsn;
            self.durable.store(lsn.0, Ordering::Release);
            let later = status.wakers.split_off(&(lsn.0 + 1, 0));
            std::mem::replace(&mut status.wakers, later)
        };
        // Wake outside the lock: a waker may run the future's poll on this very thread.
        ready.into_values().for_each(Waker::wake);
    }

    /// Enters the failed state: every waiter not yet satisfied gets `Failed`.
    pub(crate) fn fail(&self, cause: Arc<StorageError>) {
        let all = {
            let mut status = self.status.lock();
            status.failed.get_or_insert(cause);
            std::mem::take(&mut status.wakers)
        };
        all.into_values().for_each(Waker::wake);
    }

    /// Enters the closed state: the writer is gone, so unsatisfied waiters get `Closed`.
    pub(crate) fn close(&self) {
        let all = {
            let mut status = self.status.lock();
            status.closed = true;
            std::mem::take(&mut status.wakers)
        };
        all.into_values().for_each(Waker::wake);
    }

    /// The failure that stopped the log, if any.
    pub(crate) fn failure(&self) -> Option<Arc<StorageError>> {
        self.status.lock().failed.clone()
    }

    /// Blocks until `lsn` is durable or the log fails or closes.
    ///
    /// Blocking waiters use the same registry as futures, with a waker that unparks the
    /// thread: publishing then wakes exactly the threads it satisfied, all at once,
    /// instead of a condvar's notify_all waking every waiter one after the other
    /// through the mutex (which, with hundreds of waiters, costs more than the fsync).
    pub(crate) fn wait(&self, lsn: Lsn) -> Result<(), StorageError> {
        if self.durable() >= lsn {
            return Ok(());
        }
        // During thread teardown the thread-local may be gone: make a waker on the spot.
        let waker = THREAD_WAKER
            .try_with(Waker::clone)
            .unwrap_or_else(|_| Waker::from(Arc::new(Unparker(thread::current()))));
        let cx = Context::from_waker(&waker);
        let mut slot = None;
        loop {
            if let Poll::Ready(outcome) = self.poll(lsn, &mut slot, &cx) {
                return outcome;
            }
            // An unpark that raced ahead of this park makes it return at once; a spurious
            // return just polls again.
            thread::park();
        }
    }

    /// One poll of an async waiter; `slot` remembers its registration between polls.
    fn poll(
        &self,
        lsn: Lsn,
        slot: &mut Option<u64>,
        cx: &Context<'_>,
    ) -> Poll<Result<(), StorageError>> {
        if self.durable() >= lsn {
            // Publishing removed any registration in the same critical section that
            // advanced the LSN, so there is nothing left to forget.
            *slot = None;
            return Poll::Ready(Ok(()));
        }
        let mut status = self.status.lock();
        if let Some(outcome) = status.outcome(lsn) {
            // Usually already gone (publish, fail and close take the wakers they wake).
            if let Some(id) = slot.take() {
                status.wakers.remove(&(lsn.0, id));
            }
            return Poll::Ready(outcome);
        }
        let id = *slot.get_or_insert_with(|| {
            status.next_waker_id += 1;
            status.next_waker_id
        });
        match status.wakers.get_mut(&(lsn.0, id)) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => w.clone_from(cx.waker()),
            None => {
                status.wakers.insert((lsn.0, id), cx.waker().clone());
            }
        }
        Poll::Pending
    }

    fn forget(&self, lsn: Lsn, id: u64) {
        self.status.lock().wakers.remove(&(lsn.0, id));
    }
}

/// A future that resolves when an LSN is durable (or the log fails or closes). It works
/// with any executor: the writer thread wakes it through the registered `Waker`.
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct DurableFuture {
    state: Arc<DurableState>,
    lsn: Lsn,
    /// Set when the answer is known at creation (an LSN never appended).
    early: Option<StorageError>,
    slot: Option<u64>,
}

impl DurableFuture {
    pub(crate) fn new(state: Arc<DurableState>, lsn: Lsn, early: Option<StorageError>) -> Self {
        DurableFuture {
            state,
            lsn,
            early,
            slot: None,
        }
    }

    /// The LSN this future waits for.
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }
}

impl Future for DurableFuture {
    type Output = Result<(), StorageError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // DurableFuture is Unpin (no self-references), so plain `&mut` access is fine.
        let this = self.get_mut();
        if let Some(err) = this.early.take() {
            return Poll::Ready(Err(err));
        }
        this.state.poll(this.lsn, &mut this.slot, cx)
    }
}

impl Drop for DurableFuture {
    fn drop(&mut self) {
        // A future dropped while pending must not leave its waker behind.
        if let Some(id) = self.slot.take() {
            self.state.forget(self.lsn, id);
        }
    }
}
