//! Replaying the log at start-up on several threads.
//!
//! # Why replay may run in parallel
//! A ledger effect changes one wallet; what it writes outside that wallet are keyed,
//! idempotent inserts (the wallet directory, the game-record store) and the id counters,
//! which only grow (`fetch_max`). So effects on different wallets commute, and only the
//! order of one wallet's own effects matters, which the log keeps: a wallet's effects are
//! appended under its shard lock, in apply order. Live operations on different wallets
//! already run concurrently in whatever interleaving the threads take; replay picks
//! another interleaving of the same per-wallet sequences, through the same apply function
//! (`Ledger::replay`, which takes the shard lock as a live operation does).
//!
//! The domains never read one another while applying, so the catalog, identity and
//! tournament effects (few next to the ledger's) are applied in log order among
//! themselves, on the calling thread, while the ledger lanes run.
//!
//! # How
//! The calling thread reads the log (each record's checksum is checked as it is read) and
//! routes each ledger record, undecoded, by its wallet ([`peek_wallet`]) to one of the
//! lanes: a worker thread per core, each fed batches of records in log order through a
//! bounded queue. A wallet always maps to the same lane, so its effects are decoded and
//! applied in log order. The records are not copied: a batch shares its segment's bytes.
//!
//! # Errors
//! A lane that fails keeps draining its queue without applying, and raises a flag on
//! which the reader stops reading. Whatever stopped it, every record it read is still
//! handed to its lane, and each lane stops at its own first error, so the error reported,
//! the one with the lowest LSN, is the first bad record in log order: the one a
//! sequential replay would have stopped at.

use super::domains::{replay_failed, Domains};
use super::log::{decode, peek_wallet, Effect};
use super::EngineError;
use crate::ids::WalletId;
use crate::journal::Lsn;
use crate::ledger::effect::LedgerEffect;
use crate::ledger::records::DeferredRecords;
use crate::storage::{RecordIter, StorageError};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

/// Records per batch: enough that a queue operation costs nothing per record, few
/// enough that the lanes start together and a batch's decoded effects stay in cache.
const BATCH: usize = 512;
/// Batches queued per lane before the reader waits. Bounds the memory in flight: a
/// queued batch keeps its segment's bytes alive.
const QUEUED: usize = 8;
/// Most lanes. Applying is bound by memory latency: lanes beyond the cores only contend.
const MAX_LANES: usize = 16;

/// One ledger record routed to a lane.
struct Routed {
    lsn: Lsn,
    wallet: WalletId,
    payload: Range<usize>,
}

/// Consecutive records of one lane, from one segment.
struct Batch {
    bytes: Arc<Vec<u8>>,
    records: Vec<Routed>,
}

/// What a lane did: records applied, and its first error.
#[derive(Default)]
struct LaneOutcome {
    applied: u64,
    error: Option<(Lsn, EngineError)>,
}

/// Replays every record of `records` into `domains` on one lane per core; returns how
/// many were replayed.
pub(super) fn replay(domains: &Domains, records: &mut RecordIter) -> Result<u64, EngineError> {
    let lanes = crate::cores::available().unwrap_or(1).min(MAX_LANES);
    replay_on(domains, records, lanes)
}

/// [`replay`] on `lanes` lanes (0: all on the calling thread).
fn replay_on(
    domains: &Domains,
    records: &mut RecordIter,
    lanes: usize,
) -> Result<u64, EngineError> {
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let mut queues = Vec::with_capacity(lanes);
        let mut workers = Vec::with_capacity(lanes);
        for i in 0..lanes {
            let (queue, work) = sync_channel(QUEUED);
            let failed = &failed;
            let spawned = std::thread::Builder::new()
                .name(format!("pitboss-replay-{i}"))
                .spawn_scoped(scope, move || run_lane(domains, work, failed));
            // Without a thread the reader applies the records itself (see `Router`).
            let Ok(worker) = spawned else { break };
            queues.push(Lane {
                queue,
                pending: Vec::new(),
            });
            workers.push(worker);
        }
        let mut router = Router {
            domains,
            failed: &failed,
            lanes: queues,
            segment: None,
            next: records.first(),
            applied_here: 0,
            error: None,
        };
        let read = records.replay_shared(|lsn, bytes, range| router.route(lsn, bytes, range));
        // Whatever stopped the reading, the records routed so far go to their lanes:
        // one of them may hold an error earlier in the log than the one that stopped it.
        // (Sending fails only if a lane panicked; that panic is resumed below.)
        let _ = router.flush_all();
        let mut errors: Vec<(Lsn, EngineError)> = Vec::new();
        match read {
            Ok(_) => {}
            Err(Stop::Storage(e)) => errors.push((router.next, e.into())),
            // The failed record's error is in its lane's outcome or in `router.error`.
            Err(Stop::Failed) => {}
        }
        let Router {
            lanes,
            applied_here,
            error,
            ..
        } = router;
        errors.extend(error);
        drop(lanes); // closes the queues: the workers finish what is queued and return
        let mut applied = applied_here;
        for worker in workers {
            let outcome = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            applied += outcome.applied;
            errors.extend(outcome.error);
        }
        match errors.into_iter().min_by_key(|(lsn, _)| *lsn) {
            Some((_, e)) => Err(e),
            None => Ok(applied),
        }
    })
}

/// Why the reader stopped early.
enum Stop {
    /// The log could not be read.
    Storage(StorageError),
    /// A record failed to apply (in a lane, or here).
    Failed,
}

impl From<StorageError> for Stop {
    fn from(e: StorageError) -> Stop {
        Stop::Storage(e)
    }
}

struct Lane {
    queue: SyncSender<Batch>,
    /// Records routed here since the last batch was sent; all from `Router::segment`.
    pending: Vec<Routed>,
}

/// The reader's side: routes each record to its lane, or applies it here.
struct Router<'a> {
    domains: &'a Domains,
    failed: &'a AtomicBool,
    lanes: Vec<Lane>,
    /// The segment the pending records lie in.
    segment: Option<Arc<Vec<u8>>>,
    /// LSN of the next record to read.
    next: Lsn,
    /// Records applied on this thread.
    applied_here: u64,
    /// The first record that failed on this thread.
    error: Option<(Lsn, EngineError)>,
}

impl Router<'_> {
    fn route(&mut self, lsn: Lsn, bytes: &Arc<Vec<u8>>, payload: Range<usize>) -> Result<(), Stop> {
        debug_assert_eq!(lsn, self.next, "records arrive in LSN order");
        self.next = Lsn(lsn.0 + 1);
        let wallet = bytes.get(payload.clone()).and_then(peek_wallet);
        let lane = match wallet {
            Some(w) if !self.lanes.is_empty() => lane_of(w, self.lanes.len()),
            _ => return self.apply_here(lsn, bytes.get(payload).unwrap_or_default()),
        };
        if !self.segment.as_ref().is_some_and(|s| Arc::ptr_eq(s, bytes)) {
            // A batch holds records of one segment.
            self.flush_all()?;
            self.segment = Some(Arc::clone(bytes));
        }
        let routed = Routed {
            lsn,
            wallet: wallet.unwrap_or(WalletId(0)),
            payload,
        };
        self.lanes[lane].pending.push(routed);
        if self.lanes[lane].pending.len() >= BATCH {
            self.flush(lane)?;
            // Read no further once a lane has failed: what is routed is enough to find
            // the first error (see the module docs).
            if self.failed.load(Ordering::Acquire) {
                return Err(Stop::Failed);
            }
        }
        Ok(())
    }

    /// Applies a record that is not routed by wallet (any other domain's, or every record
    /// when there are no lanes), in log order.
    fn apply_here(&mut self, lsn: Lsn, payload: &[u8]) -> Result<(), Stop> {
        let applied = decode(lsn, payload).and_then(|effect| match effect {
            // Without lanes everything is applied here, in log order.
            Effect::Ledger(e) if !self.lanes.is_empty() => Err(unroutable(lsn, &e)),
            other => self.domains.replay(lsn, other),
        });
        match applied {
            Ok(()) => {
                self.applied_here += 1;
                Ok(())
            }
            Err(e) => {
                self.error = Some((lsn, e));
                Err(Stop::Failed)
            }
        }
    }

    /// Sends a lane's pending records as a batch.
    fn flush(&mut self, lane: usize) -> Result<(), Stop> {
        let (Some(l), Some(segment)) = (self.lanes.get_mut(lane), &self.segment) else {
            return Ok(());
        };
        if l.pending.is_empty() {
            return Ok(());
        }
        let batch = Batch {
            bytes: Arc::clone(segment),
            records: std::mem::replace(&mut l.pending, Vec::with_capacity(BATCH)),
        };
        // A lane only hangs up by panicking; its panic is resumed when it is joined.
        l.queue.send(batch).map_err(|_| Stop::Failed)
    }

    fn flush_all(&mut self) -> Result<(), Stop> {
        (0..self.lanes.len()).try_for_each(|lane| self.flush(lane))
    }
}

/// The lane of a wallet: the ledger's own shard hash, so that with a power-of-two
/// number of lanes no two lanes ever take the same shard lock (any function of the
/// wallet alone would be correct).
fn lane_of(wallet: WalletId, lanes: usize) -> usize {
    crate::ledger::shard_hash(wallet) % lanes
}

/// A worker: decodes and applies its lane's records in order, until the queue closes.
///
/// The game records its effects write are kept and stored once per batch (see
/// `Ledger::replay_deferring_records`).
fn run_lane(domains: &Domains, work: Receiver<Batch>, failed: &AtomicBool) -> LaneOutcome {
    let mut out = LaneOutcome::default();
    let mut records = Vec::new();
    for batch in work {
        // After an error, keep draining so that the reader never waits on this queue.
        if out.error.is_some() {
            continue;
        }
        for r in &batch.records {
            let payload = batch.bytes.get(r.payload.clone()).unwrap_or_default();
            match apply_routed(domains, r, payload, &mut records) {
                Ok(()) => out.applied += 1,
                Err(e) => {
                    failed.store(true, Ordering::Release);
                    out.error = Some((r.lsn, e));
                    break;
                }
            }
        }
        // Every record kept was written at or before the batch's last position.
        let stamp = batch.records.last().map_or(0, |r| r.lsn.0);
        domains.ledger.store_replayed(&mut records, stamp);
    }
    out
}

/// Decodes and applies a record routed by its wallet, checking that it is the ledger
/// effect on that wallet that [`peek_wallet`] said it was.
fn apply_routed(
    domains: &Domains,
    r: &Routed,
    payload: &[u8],
    records: &mut DeferredRecords,
) -> Result<(), EngineError> {
    let mut effect = decode(r.lsn, payload)?;
    match &mut effect {
        Effect::Ledger(e) if wallet_of(e) == r.wallet => domains
            .ledger
            .replay_deferring_records(r.lsn, e, records)
            .map_err(|e| replay_failed(r.lsn, e)),
        _ => Err(EngineError::Storage(format!(
            "log record {} was routed as an effect on wallet {} but decodes to another \
             (a bug in the replay routing)",
            r.lsn.0, r.wallet
        ))),
    }
}

/// The wallet a ledger effect changes. A new `LedgerEffect` variant must be added here
/// and, if its first field is its wallet, to the routed kinds in `log::peek_wallet`;
/// until then replay refuses it ([`unroutable`]) rather than apply it out of order.
fn wallet_of(effect: &LedgerEffect) -> WalletId {
    match effect {
        LedgerEffect::WalletOpened { wallet, .. } => *wallet,
        LedgerEffect::Wallet(change) => change.wallet,
    }
}

fn unroutable(lsn: Lsn, effect: &LedgerEffect) -> EngineError {
    EngineError::Storage(format!(
        "log record {} is a ledger effect on wallet {} that replay cannot route by its \
         wallet (a bug: see engine::replay)",
        lsn.0,
        wallet_of(effect)
    ))
}

#[cfg(test)]
mod tests;
