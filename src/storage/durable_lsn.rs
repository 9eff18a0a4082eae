//! The durable LSN and everyone waiting on it. Blocking waiters and async waiters
//! ([`DurableFuture`]) share one hand-rolled waker registry (so this layer needs no async
//! runtime); blocking waiters park their thread. Also where the log's failed and closed
//! states reach the waiters.
//!
//! Waking is spread out as a tree. With hundreds of submitters one fsync satisfies
//! hundreds of waiters, and each wake is a syscall (often an inter-processor interrupt).
//! Made all by the writer thread, one after the other, they cost more than the fsync,
//! and every wake landing on a core busy with a submitter preempted it. So
//! [`DurableState::publish`] wakes at most [`WRITER_WAKES`] waiters, and every waiter that
//! finds its LSN durable wakes up to [`HELPER_WAKES`] more satisfied waiters
//! ([`DurableState::help`]) before it returns, on whichever core it runs; meanwhile the
//! writer wakes satisfied waiters too, a few at a time, until none is left
//! ([`DurableState::wake_stragglers`]).
//!
//! Wakes stay on one CPU where they can. A wake that crosses CPUs costs an
//! inter-processor interrupt and the remote run-queue lock (on a virtual machine, an exit
//! to the hypervisor): at 256 submitter threads on two CPUs, `try_to_wake_up` was over a
//! quarter of all CPU time. So the registry has one lane per CPU: a waiter registers in
//! the lane of the CPU it parks on (where the scheduler will wake it), a helper takes
//! satisfied waiters from its own CPU's lane first and from other lanes only when its own
//! has none left, and the writer seeds every lane.
//!
//! Crowds of blocking waiters yield before they park. With many more waiting threads than
//! CPUs, a thread that parks costs one sleep and one wake (`futex` wait and wake, a
//! remote wake often enough), yet there is always another submitter ready to run in its
//! place. So while more than [`YIELD_ABOVE_PER_CPU`] threads per CPU are blocked in
//! [`DurableState::wait`], a waiter first gives its CPU away with `sched_yield` a few
//! times ([`CROWD_YIELDS`]), checking between yields, and parks only if its LSN is still
//! not durable: most find it durable after a yield or two and were never asleep. With
//! fewer waiters a yield comes straight back and only burns the CPU the writer needs, so
//! they park at once (measured: yielding at 16 threads on two CPUs lost a third of the
//! throughput; at 256 it gained a quarter).
//!
//! Invariant: the writer takes its next batch, or sleeps, only once no satisfied waiter
//! is left unwoken. Waiters wake each other only to go faster: a waiter woken that never
//! runs (a future woken but never polled) strands nobody.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use parking_lot::Mutex;
use smallvec::SmallVec;

use super::error::StorageError;
use super::Lsn;

/// Satisfied waiters the writer wakes on each publish, and at each turn of its
/// `wake_stragglers` loop. Up to this many the writer wakes them all itself, which is
/// quickest: a waiter woken by another waiter first waits for that one to be scheduled,
/// and with 16 submitters a tree from the first waiter (2 here) lost throughput. Beyond
/// it the tree takes over, and that is where it pays: at 256 submitters the writer
/// waking all of them cost about half a forced context switch per operation.
pub(crate) const WRITER_WAKES: usize = 32;
/// Satisfied waiters each waiter wakes once its own LSN is durable: a fan-out of two
/// wakes 256 waiters in eight rounds, the syscalls shared by every core.
pub(crate) const HELPER_WAKES: usize = 2;

/// Blocking waiters per CPU above which a waiter yields before it parks (see the module
/// docs). Measured on two CPUs: yielding lost throughput at 32 submitter threads (98k →
/// 79k bets/s) and gained from 64 on (137k → 161k; 194k → 322k at 128).
const YIELD_ABOVE_PER_CPU: usize = 16;
/// Yields a crowded waiter makes before it parks. At 256 threads on two CPUs most
/// waiters are satisfied within two; 4 to 16 measured alike, 256 worse.
const CROWD_YIELDS: u32 = 8;

/// Lanes of the waiter registry when the CPU count is unknown, and at most this many
/// whatever it is (CPU ids beyond share lanes: only locality is lost).
const MAX_LANES: usize = 64;

/// The durable LSN, the terminal states, and the registry of waiters.
#[derive(Debug)]
pub(crate) struct DurableState {
    /// Copy of `status.durable` readable without the lock (the fast path of every wait).
    durable: AtomicU64,
    /// The lowest LSN in any lane of `status.lanes` (`u64::MAX` when empty), kept under the lock and
    /// readable without it: `help` takes the lock only when this is durable, i.e. when a
    /// satisfied waiter is still waiting to be woken.
    first_waiting: AtomicU64,
    /// Threads inside [`DurableState::wait`] now (yielding or parked).
    blocked: AtomicUsize,
    /// `blocked` above which a waiter yields before parking: [`YIELD_ABOVE_PER_CPU`] per CPU.
    yield_above: usize,
    status: Mutex<Status>,
}

/// The wakers one call takes out of the registry to wake outside the lock.
type Woken = SmallVec<[Waker; 4]>;

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

/// One CPU's waiters (blocking and async) by (LSN awaited, registration id); ordered so
/// that the satisfied ones come first.
type Lane = BTreeMap<(u64, u64), Waker>;

#[derive(Debug)]
struct Status {
    durable: Lsn,
    failed: Option<Arc<StorageError>>,
    closed: bool,
    /// The registry, one lane per CPU (see the module docs); never empty.
    lanes: Box<[Lane]>,
    next_waker_id: u64,
}

/// Where a pending waiter is registered: its lane and its id within the registry.
#[derive(Debug, Clone, Copy)]
struct Slot {
    lane: usize,
    id: u64,
}

/// The CPU the calling thread runs on (0 where that cannot be known).
fn current_cpu() -> usize {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sched_getcpu takes no arguments and only reads the CPU number (vDSO).
        let cpu = unsafe { libc::sched_getcpu() };
        usize::try_from(cpu).unwrap_or(0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
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
        let cpus = crate::cores::available().unwrap_or(MAX_LANES);
        Self::for_cpus(durable, cpus)
    }

    /// A state for `cpus` CPUs: a registry of that many lanes (clamped to
    /// 1..=[`MAX_LANES`]), and the crowd above which waiters yield first.
    fn for_cpus(durable: Lsn, cpus: usize) -> Self {
        let lanes = cpus.clamp(1, MAX_LANES);
        DurableState {
            durable: AtomicU64::new(durable.0),
            first_waiting: AtomicU64::new(u64::MAX),
            blocked: AtomicUsize::new(0),
            yield_above: cpus.max(1).saturating_mul(YIELD_ABOVE_PER_CPU),
            status: Mutex::new(Status {
                durable,
                failed: None,
                closed: false,
                lanes: (0..lanes).map(|_| Lane::new()).collect(),
                next_waker_id: 0,
            }),
        }
    }

    /// The lane of the CPU the calling thread runs on.
    fn own_lane(status: &Status) -> usize {
        current_cpu() % status.lanes.len()
    }

    pub(crate) fn durable(&self) -> Lsn {
        Lsn(self.durable.load(Ordering::Acquire))
    }

    /// Records that everything up to `lsn` is durable and starts waking whoever that
    /// satisfies: [`WRITER_WAKES`] of them, who wake others (see the module docs). The
    /// caller then wakes the rest with [`wake_stragglers`](Self::wake_stragglers).
    pub(crate) fn publish(&self, lsn: Lsn) {
        let woken = {
            let mut status = self.status.lock();
            debug_assert!(lsn >= status.durable, "the durable LSN never goes back");
            // The log failed meanwhile (from outside: `Wal::fail`, for the history
            // store) while the writer synced a batch it had taken before: the durable
            // LSN still never moves after a failure, and the waiters have their error.
            if status.failed.is_some() {
                return;
            }
            status.durable = lsn;
            self.durable.store(lsn.0, Ordering::Release);
            let mut woken = Woken::new();
            // Seed every lane, so that each CPU's waiters wake each other locally.
            let per_lane = WRITER_WAKES.div_ceil(status.lanes.len());
            for lane in 0..status.lanes.len() {
                Self::take_from_lane(&mut status.lanes[lane], lsn, per_lane, &mut woken);
            }
            self.refresh_first_waiting(&status);
            woken
        };
        // Wake outside the lock: a waker may run the future's poll on this very thread.
        woken.into_iter().for_each(Waker::wake);
    }

    /// Called by a waiter whose LSN is durable: wakes up to [`HELPER_WAKES`] satisfied
    /// waiters still asleep. Takes no lock when there are none.
    pub(crate) fn help(&self) {
        if self.has_stragglers() {
            self.wake_stragglers(HELPER_WAKES);
        }
    }

    /// True while some satisfied waiter is still registered (not woken yet).
    pub(crate) fn has_stragglers(&self) -> bool {
        self.first_waiting.load(Ordering::Acquire) <= self.durable.load(Ordering::Acquire)
    }

    /// Wakes up to `max` satisfied waiters still registered, from the calling CPU's lane
    /// first (lowest LSN first within a lane): a waiter's share of the wake tree, and the
    /// writer's, which repeats it until [`has_stragglers`] is false so that no waiter
    /// depends on another one running to be woken.
    ///
    /// [`has_stragglers`]: Self::has_stragglers
    pub(crate) fn wake_stragglers(&self, max: usize) {
        let mut woken = Woken::new();
        {
            let mut status = self.status.lock();
            let durable = status.durable;
            let own = Self::own_lane(&status);
            self.take_satisfied(&mut status, durable, max, own, &mut woken);
        }
        woken.into_iter().for_each(Waker::wake);
    }

    /// Moves up to `max` registered waiters whose LSN is at most `upto` into `woken`:
    /// from lane `own` first, then from the others. Refreshes `first_waiting`.
    fn take_satisfied(
        &self,
        status: &mut Status,
        upto: Lsn,
        max: usize,
        own: usize,
        woken: &mut Woken,
    ) {
        debug_assert!(
            upto <= status.durable,
            "only durable LSNs are woken as satisfied"
        );
        let lanes = status.lanes.len();
        debug_assert!(own < lanes, "lane {own} of {lanes}");
        let before = woken.len();
        for lane in (own..lanes).chain(0..own) {
            let left = max - (woken.len() - before);
            if left == 0 {
                break;
            }
            Self::take_from_lane(&mut status.lanes[lane], upto, left, woken);
        }
        self.refresh_first_waiting(status);
    }

    /// Moves up to `max` of `lane`'s waiters whose LSN is at most `upto`, lowest first,
    /// into `woken`.
    fn take_from_lane(lane: &mut Lane, upto: Lsn, max: usize, woken: &mut Woken) {
        for _ in 0..max {
            match lane.first_entry() {
                Some(entry) if entry.key().0 <= upto.0 => woken.push(entry.remove()),
                _ => break,
            }
        }
    }

    /// Keeps `first_waiting` equal to the lowest registered LSN; called under the lock
    /// after every removal from the registry.
    fn refresh_first_waiting(&self, status: &Status) {
        let first = status
            .lanes
            .iter()
            .filter_map(|lane| lane.first_key_value().map(|(k, _)| k.0))
            .min()
            .unwrap_or(u64::MAX);
        self.first_waiting.store(first, Ordering::Release);
    }

    /// Enters the failed state: every waiter not yet satisfied gets `Failed`.
    pub(crate) fn fail(&self, cause: Arc<StorageError>) {
        self.end_with(|status| {
            status.failed.get_or_insert(cause);
        });
    }

    /// Enters the closed state: the writer is gone, so unsatisfied waiters get `Closed`.
    pub(crate) fn close(&self) {
        self.end_with(|status| status.closed = true);
    }

    /// Sets a terminal state with `mark`, then wakes every registered waiter to see it.
    fn end_with(&self, mark: impl FnOnce(&mut Status)) {
        let all = {
            let mut status = self.status.lock();
            mark(&mut status);
            let all: Vec<Lane> = status.lanes.iter_mut().map(std::mem::take).collect();
            self.refresh_first_waiting(&status);
            all
        };
        all.into_iter()
            .flat_map(Lane::into_values)
            .for_each(Waker::wake);
    }

    /// The failure that stopped the log, if any.
    pub(crate) fn failure(&self) -> Option<Arc<StorageError>> {
        self.status.lock().failed.clone()
    }

    /// Blocks until `lsn` is durable or the log fails or closes.
    ///
    /// Blocking waiters use the same registry as futures, with a waker that unparks the
    /// thread: only satisfied threads are woken, each by one unpark, instead of a
    /// condvar's notify_all waking every waiter one after the other through the mutex
    /// (which, with hundreds of waiters, costs more than the fsync). In a crowd of blocked
    /// threads it yields a few times before it parks (see the module docs).
    pub(crate) fn wait(&self, lsn: Lsn) -> Result<(), StorageError> {
        if self.durable() >= lsn {
            self.help();
            return Ok(());
        }
        let blocked = Blocked::enter(&self.blocked);
        if blocked.crowd > self.yield_above {
            for _ in 0..CROWD_YIELDS {
                thread::yield_now();
                if self.durable() >= lsn {
                    self.help();
                    return Ok(());
                }
            }
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
        slot: &mut Option<Slot>,
        cx: &Context<'_>,
    ) -> Poll<Result<(), StorageError>> {
        if self.durable() >= lsn {
            // A waiter is normally here because whoever woke it took its registration
            // out. If it came by another way (a spurious wake) the registration stays,
            // satisfied: the next waker takes it and gives this waker one spurious wake,
            // which every waker tolerates. That is cheaper than a lock on every wake.
            *slot = None;
            self.help();
            return Poll::Ready(Ok(()));
        }
        let mut status = self.status.lock();
        if let Some(outcome) = status.outcome(lsn) {
            // Usually already gone (publish, fail and close take the wakers they wake).
            if let Some(Slot { lane, id }) = slot.take() {
                if status.lanes[lane].remove(&(lsn.0, id)).is_some() {
                    self.refresh_first_waiting(&status);
                }
            }
            drop(status);
            if outcome.is_ok() {
                self.help();
            }
            return Poll::Ready(outcome);
        }
        // A waiter stays in the lane it first registered in; polled again elsewhere, it
        // only loses locality.
        let Slot { lane, id } = *slot.get_or_insert_with(|| {
            status.next_waker_id += 1;
            Slot {
                lane: Self::own_lane(&status),
                id: status.next_waker_id,
            }
        });
        match status.lanes[lane].get_mut(&(lsn.0, id)) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => w.clone_from(cx.waker()),
            None => {
                status.lanes[lane].insert((lsn.0, id), cx.waker().clone());
                // Not yet durable, so this LSN is above every satisfied one.
                self.first_waiting.fetch_min(lsn.0, Ordering::Release);
            }
        }
        Poll::Pending
    }

    /// A pending future goes away: drop its registration; if its LSN is durable it may
    /// have been woken to wake others, so do that for it.
    fn forget(&self, lsn: Lsn, Slot { lane, id }: Slot) {
        {
            let mut status = self.status.lock();
            if status.lanes[lane].remove(&(lsn.0, id)).is_some() {
                self.refresh_first_waiting(&status);
            }
        }
        self.help();
    }
}

/// A thread counted in [`DurableState::blocked`] for as long as this lives.
struct Blocked<'a> {
    count: &'a AtomicUsize,
    /// Threads blocked, this one included, when it entered.
    crowd: usize,
}

impl<'a> Blocked<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        let crowd = count.fetch_add(1, Ordering::Relaxed) + 1;
        Blocked { count, crowd }
    }
}

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
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
    slot: Option<Slot>,
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
        if let Some(slot) = self.slot.take() {
            self.state.forget(self.lsn, slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    impl DurableState {
        fn registered(&self) -> usize {
            self.status.lock().lanes.iter().map(Lane::len).sum()
        }
    }

    /// A waker that does nothing: a future registered with it is woken but never polled
    /// again, the case where the wake tree cannot go on through it.
    struct Nothing;
    impl Wake for Nothing {
        fn wake(self: Arc<Self>) {}
    }

    /// Spawns `n` blocking waiters, waiter `i` on LSN `first + i`; each sends its LSN
    /// once it returns. Returns after all of them are registered.
    fn waiters(state: &Arc<DurableState>, first: u64, n: u64) -> mpsc::Receiver<u64> {
        let (tx, rx) = mpsc::channel();
        let before = state.registered();
        for i in 0..n {
            let (state, tx) = (Arc::clone(state), tx.clone());
            thread::spawn(move || {
                state.wait(Lsn(first + i)).expect("durable");
                let _ = tx.send(first + i);
            });
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while state.registered() < before + n as usize {
            assert!(Instant::now() < deadline, "waiters never registered");
            thread::sleep(Duration::from_millis(1));
        }
        rx
    }

    fn collect(rx: &mpsc::Receiver<u64>, n: usize) -> Vec<u64> {
        let mut got: Vec<u64> = (0..n)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).expect("woken"))
            .collect();
        got.sort_unstable();
        got
    }

    /// A waker that records the LSN it stands for when woken.
    struct Records(u64, Arc<Mutex<Vec<u64>>>);
    impl Wake for Records {
        fn wake(self: Arc<Self>) {
            self.1.lock().push(self.0);
        }
    }

    /// A two-lane state with waiters on LSNs `lane0` in lane 0 and `lane1` in lane 1,
    /// and the log of their wakes.
    fn two_lanes(
        lane0: std::ops::RangeInclusive<u64>,
        lane1: std::ops::RangeInclusive<u64>,
    ) -> (DurableState, Arc<Mutex<Vec<u64>>>) {
        let state = DurableState::for_cpus(Lsn(0), 2);
        let woken = Arc::new(Mutex::new(Vec::new()));
        {
            let mut status = state.status.lock();
            for (lane, lsns) in [(0, lane0), (1, lane1)] {
                for lsn in lsns {
                    let waker = Waker::from(Arc::new(Records(lsn, Arc::clone(&woken))));
                    status.lanes[lane].insert((lsn, lsn), waker);
                }
            }
            state.refresh_first_waiting(&status);
        }
        (state, woken)
    }

    #[test]
    fn a_helper_wakes_its_own_lane_first_and_other_lanes_only_when_its_own_is_done() {
        let (state, log) = two_lanes(1..=3, 4..=8);
        let take = |max: usize| {
            let mut woken = Woken::new();
            {
                let mut status = state.status.lock();
                status.durable = Lsn(8);
                state.take_satisfied(&mut status, Lsn(8), max, 1, &mut woken);
            }
            woken.into_iter().for_each(Waker::wake);
            std::mem::take(&mut *log.lock())
        };
        // From lane 1: its own satisfied waiters, lowest first, though lane 0's are lower.
        assert_eq!(take(4), [4, 5, 6, 7]);
        // Lane 1 has one left: the rest of the share comes from lane 0, lowest first.
        assert_eq!(take(3), [8, 1, 2]);
        assert_eq!(state.first_waiting.load(Ordering::Acquire), 3);
        assert_eq!(take(3), [3]);
        assert_eq!(state.first_waiting.load(Ordering::Acquire), u64::MAX);
    }

    #[test]
    fn publish_seeds_every_lane_and_wakes_only_satisfied_waiters() {
        let n = WRITER_WAKES as u64;
        let (state, woken) = two_lanes(1..=n, n + 1..=2 * n);
        // Lane 1's first half is satisfied too: the writer's wakes are shared out
        // between the lanes instead of all going to lane 0's lower LSNs.
        state.publish(Lsn(n + n / 2));
        let mut got = woken.lock().clone();
        got.sort_unstable();
        let half = WRITER_WAKES as u64 / 2;
        let want: Vec<u64> = (1..=half).chain(n + 1..=n + half).collect();
        assert_eq!(got, want);
        assert!(state.has_stragglers());
        while state.has_stragglers() {
            state.wake_stragglers(WRITER_WAKES);
        }
        assert_eq!(
            woken.lock().len() as u64,
            n + n / 2,
            "every satisfied one, no more"
        );
        assert_eq!(state.registered() as u64, n / 2);
    }

    #[test]
    fn one_publish_wakes_every_satisfied_thread_through_the_tree_alone() {
        let state = Arc::new(DurableState::new(Lsn(0)));
        let n = WRITER_WAKES as u64 * 3;
        let rx = waiters(&state, 1, n);
        // The writer wakes WRITER_WAKES; without `wake_stragglers` the waiters wake the rest.
        state.publish(Lsn(n));
        assert_eq!(collect(&rx, n as usize), (1..=n).collect::<Vec<_>>());
        assert!(!state.has_stragglers());
    }

    #[test]
    fn only_covered_waiters_wake_and_the_rest_stay_registered() {
        let state = Arc::new(DurableState::new(Lsn(0)));
        let rx = waiters(&state, 1, 20);
        state.publish(Lsn(10));
        assert_eq!(collect(&rx, 10), (1..=10).collect::<Vec<_>>());
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
        assert_eq!(state.registered(), 10);
        assert!(!state.has_stragglers());
        state.publish(Lsn(20));
        assert_eq!(collect(&rx, 10), (11..=20).collect::<Vec<_>>());
    }

    #[test]
    fn waiters_behind_futures_never_polled_are_woken_by_the_writer_backstop() {
        let state = Arc::new(DurableState::new(Lsn(0)));
        let nothing = Waker::from(Arc::new(Nothing));
        let cx = Context::from_waker(&nothing);
        // The lowest LSNs belong to futures that are woken and never polled again: the
        // writer's own wakes land on them, and they wake nobody.
        let mut futures: Vec<DurableFuture> = (1..=WRITER_WAKES as u64 * 4)
            .map(|lsn| DurableFuture::new(Arc::clone(&state), Lsn(lsn), None))
            .collect();
        for f in &mut futures {
            assert!(Pin::new(f)
                .poll(&mut Context::from_waker(cx.waker()))
                .is_pending());
        }
        let first = futures.len() as u64 + 1;
        let rx = waiters(&state, first, 16);
        state.publish(Lsn(first + 15));
        assert!(state.has_stragglers(), "the tree stopped at the futures");
        while state.has_stragglers() {
            state.wake_stragglers(WRITER_WAKES);
        }
        assert_eq!(collect(&rx, 16), (first..first + 16).collect::<Vec<_>>());
        // Polled now, the futures are ready; dropping them leaves nothing registered.
        for f in &mut futures {
            assert!(matches!(
                Pin::new(f).poll(&mut Context::from_waker(cx.waker())),
                Poll::Ready(Ok(()))
            ));
        }
        drop(futures);
        assert_eq!(state.registered(), 0);
    }

    #[test]
    fn a_crowd_of_waiters_yields_and_every_one_returns_once_its_lsn_is_durable() {
        // One CPU: more than YIELD_ABOVE_PER_CPU blocked threads make a crowd, so the
        // later waiters yield before they park while the LSNs become durable one by one.
        let state = Arc::new(DurableState::for_cpus(Lsn(0), 1));
        let n = (YIELD_ABOVE_PER_CPU * 4) as u64;
        let (tx, rx) = mpsc::channel();
        let threads: Vec<_> = (1..=n)
            .map(|lsn| {
                let (state, tx) = (Arc::clone(&state), tx.clone());
                thread::spawn(move || {
                    state.wait(Lsn(lsn)).expect("durable");
                    // Its LSN really is durable when it returns, yielded or parked.
                    assert!(state.durable() >= Lsn(lsn));
                    let _ = tx.send(lsn);
                })
            })
            .collect();
        // Publish while the crowd is still gathering, so that some waiters find their
        // LSN durable between yields and others park and are woken.
        let deadline = Instant::now() + Duration::from_secs(10);
        while state.blocked.load(Ordering::Relaxed) <= state.yield_above {
            assert!(Instant::now() < deadline, "waiters never blocked");
            thread::yield_now();
        }
        for lsn in 1..=n {
            state.publish(Lsn(lsn));
            while state.has_stragglers() {
                state.wake_stragglers(WRITER_WAKES);
            }
            thread::yield_now();
        }
        assert_eq!(collect(&rx, n as usize), (1..=n).collect::<Vec<_>>());
        threads.into_iter().for_each(|t| t.join().expect("waiter"));
        assert_eq!(
            state.blocked.load(Ordering::Relaxed),
            0,
            "every waiter left"
        );
        assert_eq!(state.registered(), 0, "no registration left behind");
    }

    #[test]
    fn a_crowd_of_waiters_gets_the_failure_whether_yielding_or_parked() {
        let state = Arc::new(DurableState::for_cpus(Lsn(0), 1));
        let n = (YIELD_ABOVE_PER_CPU * 2) as u64;
        let (tx, rx) = mpsc::channel();
        for lsn in 1..=n {
            let (state, tx) = (Arc::clone(&state), tx.clone());
            thread::spawn(move || {
                let _ = tx.send(state.wait(Lsn(lsn)));
            });
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while state.blocked.load(Ordering::Relaxed) < n as usize {
            assert!(Instant::now() < deadline, "waiters never blocked");
            thread::yield_now();
        }
        state.fail(Arc::new(StorageError::Internal("disk gone".into())));
        for _ in 0..n {
            let outcome = rx.recv_timeout(Duration::from_secs(10)).expect("answered");
            assert!(matches!(outcome, Err(StorageError::Failed { .. })));
        }
        assert_eq!(state.registered(), 0);
    }

    #[test]
    fn failure_wakes_every_waiter_with_the_error() {
        let state = Arc::new(DurableState::new(Lsn(0)));
        let (tx, rx) = mpsc::channel();
        for lsn in 1..=8 {
            let (state, tx) = (Arc::clone(&state), tx.clone());
            thread::spawn(move || {
                let _ = tx.send(state.wait(Lsn(lsn)));
            });
        }
        while state.registered() < 8 {
            thread::sleep(Duration::from_millis(1));
        }
        state.publish(Lsn(3));
        state.fail(Arc::new(StorageError::Internal("disk gone".into())));
        let outcomes: Vec<_> = (0..8)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).expect("woken"))
            .collect();
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 3);
        assert!(outcomes
            .iter()
            .filter_map(|o| o.as_ref().err())
            .all(|e| matches!(e, StorageError::Failed { .. })));
        assert_eq!(state.registered(), 0);
    }
}
