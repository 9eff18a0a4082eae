//! The history store: what the ledger's hot window let go of, on disk, in the data
//! directory's `history/` folder. An LSM tree (fjall; the choice and its figures
//! are in ARCHITECTURE.md) with one partition per kind of thing kept:
//!
//! | partition | key | value |
//! | --- | --- | --- |
//! | `txs` | wallet (u64, big-endian) · transaction id | archived at (ms) · `TxEntry` |
//! | `rounds` | wallet · round id | archived at (ms) · `ClosedRound` |
//! | `records` | channel (length-prefixed) · record id (big-endian) | `GameRecord` |
//! | `players` | channel · player (length-prefixed) · record id | (empty) |
//! | `expiry` | class (`h`: horizon, `r`: history) · archived at (ms) · batch number | the keys of one batch in that class |
//! | `meta` | `archived_lsn` | the log position archived through |
//!
//! Big-endian numbers make key order id order, so a page of records is a range
//! scan, newest first by iterating backwards. Values are postcard.
//!
//! Every write is keyed: archiving the same log records twice (a crash between a
//! batch and the position after it cannot happen, they are one atomic batch, but a
//! restart re-reads from the last durable position) stores each thing once.
//!
//! The store knows ledger types but no log, no HTTP and no locks of the ledger. The
//! archiver (`engine::archiver`) feeds it; the ledger reads it through
//! [`crate::ledger::archive::Archive`].

use crate::clock::Clock;
use crate::ids::{ChannelId, PlayerId, RecordId, RoundId, TxId, WalletId};
use crate::journal::Lsn;
use crate::ledger::archive::{Archive, ArchiveError, ArchiveItem, ArchivedPage};
use crate::ledger::records::{GameRecord, PageDirection, RecordQuery};
use crate::ledger::round::ClosedRound;
use crate::ledger::wallet::TxEntry;
use crate::paging::PAGE_SIZE_MAX;
use fjall::{
    AbstractTree, Batch, Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode,
    Slice,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// How long things are kept: one rule per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Transaction outcomes and closed rounds: a repeated id is recognised for this
    /// long after it was archived.
    pub idempotency_horizon_ms: i64,
    /// Game records (and everything else still there): purged after this long.
    pub history_ms: i64,
}

const DAY_MS: i64 = 24 * 3600 * 1000;

impl Default for Retention {
    /// 120 days of idempotency (what large aggregators require of wallets) and ten
    /// years of history (what regulators ask for).
    fn default() -> Self {
        Retention {
            idempotency_horizon_ms: 120 * DAY_MS,
            history_ms: 3653 * DAY_MS,
        }
    }
}

/// Switches that make a history store misbehave as a dying disk would: every read
/// and write fails (`fail`), or every write hangs until switched off (`stall`). The
/// store is not behind the log's `FileSystem` seam, so tests of its failures flip
/// these instead. Off unless a test turns them on.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    failing: Arc<std::sync::atomic::AtomicBool>,
    stalled: Arc<std::sync::atomic::AtomicBool>,
}

impl Faults {
    pub fn fail(&self, on: bool) {
        self.failing.store(on, Ordering::Release);
    }

    pub fn stall(&self, on: bool) {
        self.stalled.store(on, Ordering::Release);
    }

    fn check(&self, what: &str) -> Result<(), ArchiveError> {
        if self.failing.load(Ordering::Acquire) {
            return Err(failed(what, "injected I/O failure"));
        }
        Ok(())
    }

    fn wait_while_stalled(&self) {
        while self.stalled.load(Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// Every `Faults` is the same setting as far as configuration goes.
impl PartialEq for Faults {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Faults {}

/// The history store's failure, with what it was doing.
fn failed(what: &str, e: impl std::fmt::Display) -> ArchiveError {
    ArchiveError(format!("{what}: {e}"))
}

/// The store's block cache.
const STORE_CACHE_BYTES: u64 = 16 << 20;
/// The store's journal files, past which writes wait for flushes (fjall sleeps
/// each write 500 ms past 90 % of it, and 100 ms at a time past it). fjall counts a
/// journal file at its preallocated 32 MiB at least, and seals one at every
/// memtable rotation (several a second under load), so this is sixteen files
/// (fjall's default); what they hold unflushed is far less. (At 32 MiB, one sealed
/// file reached it: the archiver slept 40 % of its time under load.)
const STORE_JOURNAL_BYTES: u64 = 512 << 20;
/// The store's journal files, past which each commit seals the memtable pinning
/// the oldest file (`HistoryStore::free_journals`): four files.
const ROTATE_JOURNAL_BYTES: u64 = 128 << 20;
/// One partition's memtable.
const MEMTABLE_BYTES: u32 = 4 << 20;
/// Bits a key of the bloom filters of `txs` and `rounds` (fjall's default: about
/// 1 % false positives).
const BLOOM_BITS: u8 = 10;

const META_ARCHIVED: &[u8] = b"archived_lsn";
const META_BATCH: &[u8] = b"next_batch";

/// The retention class of an expiry list: its key's first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Class {
    /// Transactions and rounds: kept for the idempotency horizon.
    Horizon = b'h',
    /// Records and their player index: kept for the history period.
    History = b'r',
}

impl Class {
    /// Its place in `HistoryStore::oldest_ms`.
    fn index(self) -> usize {
        match self {
            Class::Horizon => 0,
            Class::History => 1,
        }
    }
}

/// class · archived at (ms, big-endian) · batch number: time order within a class.
fn expiry_key(class: Class, at_ms: i64, batch: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(17);
    key.push(class as u8);
    key.extend_from_slice(&(at_ms.max(0) as u64).to_be_bytes());
    key.extend_from_slice(&batch.to_be_bytes());
    key
}

/// Which partition an expiry list's key belongs to.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
enum Kind {
    Tx,
    Round,
    Record,
    Player,
}

/// A history store already open, for `HistoryConfig::shared_store`: the engine
/// uses it instead of opening its directory's `history/`. The simulator keeps one
/// open across its simulated crashes, since reopening fjall waits up to 250 ms for
/// its monitor thread to notice the stop (a thousand simulated steps). Equal when
/// it is the same store.
#[derive(Clone)]
pub struct SharedStore(pub Arc<HistoryStore>);

impl PartialEq for SharedStore {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedStore {}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedStore")
    }
}

/// The history store. Cheap to share (`Arc`); every method takes `&self`.
pub struct HistoryStore {
    path: PathBuf,
    keyspace: Keyspace,
    txs: PartitionHandle,
    rounds: PartitionHandle,
    records: PartitionHandle,
    players: PartitionHandle,
    expiry: PartitionHandle,
    meta: PartitionHandle,
    clock: Arc<dyn Clock>,
    retention: Retention,
    faults: Faults,
    archived: AtomicU64,
    next_batch: AtomicU64,
    /// When the oldest expiry list of each class (`Class::index`) was archived:
    /// `purge` reads the lists only once one is due. `UNKNOWN_OLDEST` until read;
    /// `NO_LIST` when the class has none.
    oldest_ms: [AtomicI64; 2],
}

/// `HistoryStore::oldest_ms` before the lists are read.
const UNKNOWN_OLDEST: i64 = i64::MIN;
/// `HistoryStore::oldest_ms` of a class with no list.
const NO_LIST: i64 = i64::MAX;

impl std::fmt::Debug for HistoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryStore")
            .field("path", &self.path)
            .field("archived", &self.archived)
            .finish()
    }
}

/// A record id as a key suffix: big-endian, so that key order is id order.
fn id_key(id: RecordId) -> [u8; 8] {
    id.0.to_be_bytes()
}

fn push_text(key: &mut Vec<u8>, text: &str) {
    // Every id is at most 128 bytes (`ids`): one length byte.
    key.push(text.len().min(255) as u8);
    key.extend_from_slice(text.as_bytes());
}

/// A `txs` or `rounds` key: wallet · id.
fn push_wallet_key(key: &mut Vec<u8>, wallet: WalletId, id: &str) {
    key.extend_from_slice(&wallet.0.to_be_bytes());
    key.extend_from_slice(id.as_bytes());
}

fn wallet_key(wallet: WalletId, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + id.len());
    push_wallet_key(&mut key, wallet, id);
    key
}

fn push_channel_prefix(key: &mut Vec<u8>, channel: &ChannelId) {
    push_text(key, channel.as_str());
}

fn channel_prefix(channel: &ChannelId) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + channel.as_str().len() + 8);
    push_channel_prefix(&mut key, channel);
    key
}

fn push_player_prefix(key: &mut Vec<u8>, channel: &ChannelId, player: &PlayerId) {
    push_channel_prefix(key, channel);
    push_text(key, player.as_str());
}

fn player_prefix(channel: &ChannelId, player: &PlayerId) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + channel.as_str().len() + player.as_str().len() + 8);
    push_player_prefix(&mut key, channel, player);
    key
}

fn with_id(prefix: &[u8], id: RecordId) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 8);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&id_key(id));
    key
}

/// The record id at the end of a `records` or `players` key.
fn id_of_key(key: &[u8]) -> Option<RecordId> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(RecordId(u64::from_be_bytes(tail)))
}

fn encode<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>, ArchiveError> {
    postcard::to_stdvec(value).map_err(|e| failed(what, e))
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, ArchiveError> {
    postcard::from_bytes(bytes).map_err(|e| failed(what, e))
}

/// Archived at (ms), then the value: what `txs` and `rounds` hold.
#[derive(Serialize, Deserialize)]
struct Dated<T> {
    at_ms: i64,
    value: T,
}

impl HistoryStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(
        dir: &Path,
        clock: Arc<dyn Clock>,
        retention: Retention,
        faults: Faults,
    ) -> Result<HistoryStore, ArchiveError> {
        faults.check("open")?;
        let keyspace = Config::new(dir)
            // The engine's memory is for hot state: the store's is bounded and
            // small (docs/performance.md): a 16 MiB block cache, memtables of at most
            // 4 MiB a partition, and at most 512 MiB of journal files (counted at
            // 32 MiB each at least), past which writes wait for flushes, so that
            // memtables waiting to be flushed stay under it; past 128 MiB the
            // oldest memtable is sealed at each commit (`free_journals`).
            //
            // fjall's own write-buffer bound is left off: after a kill its count of
            // buffered bytes can stay above the bound with nothing left to flush,
            // and every write then waits for ever (seen at 20M rounds: gdb showed
            // `check_write_buffer_size` looping, flushes idle; fjall-rs/fjall#257 is
            // alike). The journal bound counts files on disk, which cannot drift.
            .cache_size(STORE_CACHE_BYTES)
            .max_write_buffer_size(u64::MAX)
            .max_journaling_size(STORE_JOURNAL_BYTES)
            // Durability is the archiver's own: every batch is persisted.
            .manual_journal_persist(true)
            .open()
            .map_err(|e| failed("open", e))?;
        // Bloom filters only where a lookup may miss: fjall keeps every disk
        // segment's filter in memory (10 bits a key), so a filter costs memory in
        // proportion to what the partition holds. A new transaction id or round id
        // is looked up in `txs` and `rounds` on the bet's path, and nearly always
        // misses: their filters answer that without reading a block (they hold the
        // idempotency horizon's keys, purged after it). `records` is read by range
        // or by ids the `players` index just gave (hits, in id order, so a segment's
        // key range already rules it out), `players` and `expiry` by range, `meta`
        // holds two keys: filters there would only grow memory with history
        // (docs/performance.md: 716 MiB of RSS at 100M rounds with them everywhere).
        // fjall records the choice when it creates a partition; a store created with
        // filters everywhere keeps them.
        let part = |name: &str, filter: bool| {
            let options = PartitionCreateOptions::default()
                .max_memtable_size(MEMTABLE_BYTES)
                .bloom_filter_bits(filter.then_some(BLOOM_BITS));
            keyspace
                .open_partition(name, options)
                .map_err(|e| failed("open partition", e))
        };
        let store = HistoryStore {
            path: dir.to_path_buf(),
            txs: part("txs", true)?,
            rounds: part("rounds", true)?,
            records: part("records", false)?,
            players: part("players", false)?,
            expiry: part("expiry", false)?,
            meta: part("meta", false)?,
            keyspace,
            clock,
            retention,
            faults,
            archived: AtomicU64::new(0),
            next_batch: AtomicU64::new(0),
            oldest_ms: [
                AtomicI64::new(UNKNOWN_OLDEST),
                AtomicI64::new(UNKNOWN_OLDEST),
            ],
        };
        let read_u64 = |key: &[u8]| -> Result<u64, ArchiveError> {
            match store.meta.get(key).map_err(|e| failed("read meta", e))? {
                Some(v) => {
                    let bytes: [u8; 8] = v
                        .as_ref()
                        .try_into()
                        .map_err(|_| failed("read meta", "not 8 bytes"))?;
                    Ok(u64::from_be_bytes(bytes))
                }
                None => Ok(0),
            }
        };
        store
            .archived
            .store(read_u64(META_ARCHIVED)?, Ordering::Release);
        store
            .next_batch
            .store(read_u64(META_BATCH)?, Ordering::Release);
        // What the journal held at open is back in the memtables: flush it now,
        // so that the journals it kept can go (see the bounds above).
        for part in store.partitions() {
            part.rotate_memtable_and_wait()
                .map_err(|e| failed("flush at open", e))?;
        }
        Ok(store)
    }

    /// The log position archived through (durable).
    pub fn archived(&self) -> Lsn {
        Lsn(self.archived.load(Ordering::Acquire))
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes held in memtables (written, not yet flushed to disk segments), and
    /// the number of journal files: a store whose flushes fall behind shows here.
    pub fn write_buffer(&self) -> (u64, usize) {
        (
            self.keyspace.write_buffer_size(),
            self.keyspace.journal_count(),
        )
    }

    /// Bytes on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.keyspace.disk_space()
    }

    /// Stores `items` and the new archived position `through` as one atomic batch,
    /// durable (fsynced) before this returns. Keyed: storing the same items again
    /// changes nothing. (`stage`, `Staged::add` and `commit`, in one call.)
    pub fn write(&self, items: Vec<ArchiveItem>, through: Lsn) -> Result<(), ArchiveError> {
        let mut staged = self.stage(items.len());
        for item in items {
            staged.add(item)?;
        }
        self.commit(staged, through)
    }

    /// Starts a batch of about `items` items, dated now: the archiver adds each
    /// item as it reads the log ([`Staged::add`]), then [`HistoryStore::commit`]s it.
    pub fn stage(&self, items: usize) -> Staged<'_> {
        Staged {
            store: self,
            batch: Batch::with_capacity(self.keyspace.clone(), items),
            horizon: Vec::with_capacity(items),
            history: Vec::new(),
            scratch: Vec::with_capacity(256),
            now_ms: self.clock.now_ms(),
        }
    }

    /// Writes `staged` and the new archived position `through` as one atomic
    /// batch, durable (fsynced) before this returns.
    pub fn commit(&self, staged: Staged<'_>, through: Lsn) -> Result<(), ArchiveError> {
        self.faults.wait_while_stalled();
        self.faults.check("write")?;
        let Staged {
            mut batch,
            horizon,
            history,
            now_ms,
            ..
        } = staged;
        let n = self.next_batch.load(Ordering::Acquire);
        let wrote_batch = !horizon.is_empty() || !history.is_empty();
        if wrote_batch {
            // One expiry list per retention class, so that each class is purged
            // oldest first without the other's lists in the way.
            for (class, list) in [(Class::Horizon, horizon), (Class::History, history)] {
                if !list.is_empty() {
                    let key = expiry_key(class, now_ms, n);
                    self.oldest_ms[class.index()].fetch_min(now_ms.max(0), Ordering::AcqRel);
                    // Encoded as `Vec<(Kind, Vec<u8>)>` (postcard writes a byte
                    // slice and a `Vec<u8>` alike), which `purge` decodes.
                    let list: Vec<(Kind, &[u8])> =
                        list.iter().map(|(kind, k)| (*kind, k.as_ref())).collect();
                    batch.insert(&self.expiry, key, encode("encode expiry", &list)?);
                }
            }
            batch.insert(&self.meta, META_BATCH, (n + 1).to_be_bytes());
        }
        batch.insert(&self.meta, META_ARCHIVED, through.0.to_be_bytes());
        batch.commit().map_err(|e| failed("write", e))?;
        self.keyspace
            .persist(PersistMode::SyncAll)
            .map_err(|e| failed("fsync", e))?;
        if wrote_batch {
            self.next_batch.store(n + 1, Ordering::Release);
        }
        self.archived.fetch_max(through.0, Ordering::AcqRel);
        // The batch is durable and counted: a failure here fails the pass (and
        // the log, closed) without leaving the store's counters behind its disk.
        self.free_journals()
    }

    /// Lets fjall delete its older journal files: once they pass
    /// `ROTATE_JOURNAL_BYTES`, the memtable holding the oldest unflushed write is
    /// sealed for flushing (one a commit: sealing several makes a journal file
    /// each, three fsyncs apiece).
    ///
    /// fjall deletes a journal file only once every memtable holding part of it is
    /// flushed. `meta`, written a little every pass, would not fill a memtable for
    /// hours, nor `rounds` and `players` for seconds, and fjall's own remedy (its
    /// monitor seals one partition every 250 ms, but only past half of
    /// `STORE_JOURNAL_BYTES`) leaves the journals near the bound, where every
    /// write sleeps.
    fn free_journals(&self) -> Result<(), ArchiveError> {
        if self.keyspace.journal_disk_space() <= ROTATE_JOURNAL_BYTES {
            return Ok(());
        }
        // The partition holding the oldest unflushed write pins the oldest journal
        // file: the one whose flushed writes end lowest, among those with writes in
        // memory (`None`, never flushed, is lowest).
        let oldest = self
            .partitions()
            .into_iter()
            .filter(|p| p.tree.active_memtable_size() > 0)
            .min_by_key(|p| p.tree.get_highest_persisted_seqno());
        if let Some(part) = oldest {
            part.rotate_memtable()
                .map_err(|e| failed("seal memtable", e))?;
        }
        Ok(())
    }

    fn partitions(&self) -> [&PartitionHandle; 6] {
        [
            &self.txs,
            &self.rounds,
            &self.records,
            &self.players,
            &self.expiry,
            &self.meta,
        ]
    }

    /// Deletes what is older than its retention, oldest first, at most
    /// `max_batches` expiry lists of each class per call (the archiver calls it every
    /// pass, so a long backlog is purged in steps). Returns how many lists it purged.
    ///
    /// Transactions and rounds go once older than the idempotency horizon, records
    /// once older than the history period. A transaction or round written again
    /// since (an id reused after the horizon) holds a newer value: it is deleted only
    /// if the stored value is itself that old.
    pub fn purge(&self, max_batches: usize) -> Result<usize, ArchiveError> {
        self.faults.check("purge")?;
        let now = self.clock.now_ms();
        let mut purged = 0;
        for (class, keep_ms) in [
            (Class::Horizon, self.retention.idempotency_horizon_ms),
            (Class::History, self.retention.history_ms),
        ] {
            let cut = now.saturating_sub(keep_ms);
            let oldest = &self.oldest_ms[class.index()];
            let known = oldest.load(Ordering::Acquire);
            // Nothing due: the lists (a pass's keys each, megabytes) stay unread.
            if known != UNKNOWN_OLDEST && known > cut {
                continue;
            }
            let mut next_oldest = NO_LIST;
            for (seen, kv) in self.expiry.prefix([class as u8]).enumerate() {
                if seen == max_batches {
                    next_oldest = UNKNOWN_OLDEST;
                    break;
                }
                let (key, value) = kv.map_err(|e| failed("read expiry", e))?;
                let at = key
                    .get(1..9)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, |b| u64::from_be_bytes(b) as i64);
                if at > cut {
                    next_oldest = at;
                    break;
                }
                let keys: Vec<(Kind, Vec<u8>)> = decode("decode expiry", &value)?;
                let mut batch = self.keyspace.batch();
                for (kind, k) in keys {
                    let part = match kind {
                        Kind::Tx => &self.txs,
                        Kind::Round => &self.rounds,
                        Kind::Record => &self.records,
                        Kind::Player => &self.players,
                    };
                    let dated = matches!(kind, Kind::Tx | Kind::Round);
                    if !dated || self.dated_at(part, &k)?.is_some_and(|t| t <= cut) {
                        batch.remove(part, k);
                    }
                }
                batch.remove(&self.expiry, key);
                batch.commit().map_err(|e| failed("purge", e))?;
                purged += 1;
            }
            oldest.store(next_oldest, Ordering::Release);
        }
        if purged > 0 {
            self.keyspace
                .persist(PersistMode::SyncAll)
                .map_err(|e| failed("fsync", e))?;
        }
        Ok(purged)
    }

    /// When the value under `key` (in `txs` or `rounds`) was archived.
    fn dated_at(&self, part: &PartitionHandle, key: &[u8]) -> Result<Option<i64>, ArchiveError> {
        let Some(v) = part.get(key).map_err(|e| failed("read", e))? else {
            return Ok(None);
        };
        // `at_ms` is the first field, and postcard writes fields in order: read it
        // alone (postcard cannot skip a value it does not know the type of).
        let (at_ms, _) = postcard::take_from_bytes::<i64>(&v).map_err(|e| failed("decode", e))?;
        Ok(Some(at_ms))
    }

    /// The value under `key`, if younger than the idempotency horizon.
    fn dated<T: DeserializeOwned>(
        &self,
        part: &PartitionHandle,
        key: &[u8],
    ) -> Result<Option<T>, ArchiveError> {
        self.faults.check("read")?;
        let Some(v) = part.get(key).map_err(|e| failed("read", e))? else {
            return Ok(None);
        };
        let dated: Dated<T> = decode("decode", &v)?;
        let horizon = self
            .clock
            .now_ms()
            .saturating_sub(self.retention.idempotency_horizon_ms);
        Ok((dated.at_ms > horizon).then_some(dated.value))
    }

    /// The record `id` of `channel`.
    fn record(
        &self,
        channel_prefix: &[u8],
        id: RecordId,
    ) -> Result<Option<GameRecord>, ArchiveError> {
        match self
            .records
            .get(with_id(channel_prefix, id))
            .map_err(|e| failed("read record", e))?
        {
            Some(v) => decode("decode record", &v).map(Some),
            None => Ok(None),
        }
    }
}

/// One batch of the store's writes being built: [`HistoryStore::stage`], then
/// [`Staged::add`] for each item, then [`HistoryStore::commit`]. Nothing is written
/// before the commit; a batch dropped uncommitted writes nothing.
pub struct Staged<'a> {
    store: &'a HistoryStore,
    batch: Batch,
    /// The keys staged, by retention class, for the batch's expiry lists.
    horizon: Vec<(Kind, Slice)>,
    history: Vec<(Kind, Slice)>,
    /// Where each key and value is built before it is copied into the batch (one
    /// allocation each, not one per step of building it).
    scratch: Vec<u8>,
    now_ms: i64,
}

impl Staged<'_> {
    /// Stages `item`: its keyed value, and its key in its class's expiry list.
    pub fn add(&mut self, item: ArchiveItem) -> Result<(), ArchiveError> {
        let store = self.store;
        match item {
            ArchiveItem::Transaction { wallet, tx, entry } => {
                self.add_dated(&store.txs, Kind::Tx, wallet, tx.as_str(), entry)?;
            }
            ArchiveItem::ClosedRound {
                wallet,
                round,
                closed,
            } => {
                self.add_dated(&store.rounds, Kind::Round, wallet, round.as_str(), closed)?;
            }
            ArchiveItem::Record(record) => {
                push_channel_prefix(&mut self.scratch, &record.channel);
                self.scratch.extend_from_slice(&id_key(record.id));
                let key = self.take_scratch();
                push_player_prefix(&mut self.scratch, &record.channel, &record.player);
                self.scratch.extend_from_slice(&id_key(record.id));
                let by_player = self.take_scratch();
                let value = self.encode(&*record)?;
                self.batch.insert(&store.records, key.clone(), value);
                self.batch.insert(&store.players, by_player.clone(), []);
                self.history.push((Kind::Record, key));
                self.history.push((Kind::Player, by_player));
            }
        }
        Ok(())
    }

    /// Stages a `txs` or `rounds` item: wallet · id, to when it was archived and
    /// `value`; its key goes to the idempotency horizon's expiry list.
    fn add_dated<T: Serialize>(
        &mut self,
        part: &PartitionHandle,
        kind: Kind,
        wallet: WalletId,
        id: &str,
        value: T,
    ) -> Result<(), ArchiveError> {
        push_wallet_key(&mut self.scratch, wallet, id);
        let key = self.take_scratch();
        let value = self.encode(&Dated {
            at_ms: self.now_ms,
            value,
        })?;
        self.batch.insert(part, key.clone(), value);
        self.horizon.push((kind, key));
        Ok(())
    }

    /// What `scratch` holds, copied out; `scratch` is left empty.
    fn take_scratch(&mut self) -> Slice {
        let bytes = Slice::from(&self.scratch[..]);
        self.scratch.clear();
        bytes
    }

    fn encode<T: Serialize>(&mut self, value: &T) -> Result<Slice, ArchiveError> {
        self.scratch = postcard::to_extend(value, std::mem::take(&mut self.scratch))
            .map_err(|e| failed("encode", e))?;
        Ok(self.take_scratch())
    }
}

/// Keys of `prefix`'s range on the cursor's side, as bounds for a range scan.
fn cursor_range(
    prefix: &[u8],
    cursor: u64,
    direction: PageDirection,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let at = |id: u64| with_id(prefix, RecordId(id));
    match direction {
        PageDirection::Next if cursor == 0 => {
            (Bound::Included(at(0)), Bound::Included(at(u64::MAX)))
        }
        PageDirection::Next => (Bound::Included(at(0)), Bound::Excluded(at(cursor))),
        PageDirection::Prev => (Bound::Excluded(at(cursor)), Bound::Included(at(u64::MAX))),
    }
}

impl Archive for HistoryStore {
    fn transaction(&self, wallet: WalletId, tx: &TxId) -> Result<Option<TxEntry>, ArchiveError> {
        self.dated(&self.txs, &wallet_key(wallet, tx.as_str()))
    }

    fn closed_round(
        &self,
        wallet: WalletId,
        round: &RoundId,
    ) -> Result<Option<ClosedRound>, ArchiveError> {
        self.dated(&self.rounds, &wallet_key(wallet, round.as_str()))
    }

    fn records(
        &self,
        channel: &ChannelId,
        query: &RecordQuery,
        budget: usize,
    ) -> Result<ArchivedPage, ArchiveError> {
        self.faults.check("read records")?;
        let size = query.size.clamp(1, PAGE_SIZE_MAX);
        let channel_key = channel_prefix(channel);
        let mut page = ArchivedPage::default();
        let mut examined = 0usize;
        // One player's records: walk that player's index, read each record.
        let (prefix, by_player) = match &query.player {
            Some(player) => (player_prefix(channel, player), true),
            None => (channel_key.clone(), false),
        };
        let part = if by_player {
            &self.players
        } else {
            &self.records
        };
        let range = part.range(cursor_range(&prefix, query.cursor, query.direction));
        let iter: Box<dyn Iterator<Item = fjall::Result<fjall::KvPair>>> = match query.direction {
            PageDirection::Next => Box::new(range.rev()),
            PageDirection::Prev => Box::new(range),
        };
        let mut last_examined = None;
        for kv in iter {
            if examined == budget {
                page.stopped_at = last_examined;
                break;
            }
            let (key, value) = kv.map_err(|e| failed("scan records", e))?;
            let Some(id) = id_of_key(&key) else {
                continue;
            };
            examined += 1;
            last_examined = Some(id);
            let record = if by_player {
                match self.record(&channel_key, id)? {
                    Some(r) => r,
                    // Purged under the index's feet: nothing to list.
                    None => continue,
                }
            } else {
                decode("decode record", &value)?
            };
            if query.matches(&record) {
                page.records.push(record);
                if page.records.len() == size {
                    break;
                }
            }
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::ledger::round::RoundEnd;
    use crate::ledger::types::{GameRef, PlayMeta};
    use crate::ledger::wallet::{TxOutcome, TxParams};
    use crate::money::Amount;

    fn tx_item(id: &str) -> ArchiveItem {
        ArchiveItem::Transaction {
            wallet: WalletId(1),
            tx: TxId::new(id).expect("tx"),
            entry: TxEntry {
                params: TxParams::Deposit {
                    amount: Amount::new(5),
                },
                outcome: TxOutcome::UnknownBet,
            },
        }
    }

    fn record_item(id: u64) -> ArchiveItem {
        ArchiveItem::Record(Box::new(GameRecord {
            id: RecordId(id),
            channel: ChannelId::new("ch").expect("channel"),
            player: PlayerId::new("p").expect("player"),
            currency: crate::ids::Currency::new("CNY").expect("currency"),
            wallet: WalletId(1),
            round: RoundId::new(&format!("r{id}")).expect("round"),
            game: GameRef::bare(crate::ids::GameId::new("g").expect("game")),
            transaction_id: TxId::new(&format!("b{id}")).expect("tx"),
            starting_credit: Amount::new(10),
            ending_credit: Amount::new(9),
            base_win: Amount::ZERO,
            free_win: Amount::ZERO,
            bonus_win: Amount::ZERO,
            jackpot_win: Amount::ZERO,
            total_win: Amount::ZERO,
            total_bet: Amount::new(1),
            meta: PlayMeta::default(),
            play_time_secs: 1,
            created_at_ms: 1,
            end: RoundEnd::Settled,
        }))
    }

    fn has_tx(store: &HistoryStore, id: &str) -> bool {
        let key = wallet_key(WalletId(1), id);
        store.txs.get(key).expect("read").is_some()
    }

    fn record_ids(store: &HistoryStore) -> Vec<u64> {
        let q = RecordQuery {
            size: 100,
            ..RecordQuery::default()
        };
        let page = store
            .records(&ChannelId::new("ch").expect("channel"), &q, 1000)
            .expect("records");
        page.records.iter().map(|r| r.id.0).collect()
    }

    /// `purge` reads the expiry lists only once one is due, and a purge that stops
    /// at its most lists leaves the rest for the next: every due list goes, none
    /// early, whether the oldest was known (written by this process) or not (read
    /// after a reopen).
    #[test]
    fn purge_reads_lists_only_when_due_and_finishes_in_steps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(ManualClock::new(1_000));
        let retention = Retention {
            idempotency_horizon_ms: 100,
            history_ms: 100_000,
        };
        let open = || {
            HistoryStore::open(dir.path(), clock.clone(), retention, Faults::default())
                .expect("open")
        };
        let store = open();
        for i in 0..5u64 {
            store
                .write(vec![tx_item(&format!("t{i}"))], Lsn(i + 1))
                .expect("write");
            clock.advance_ms(10);
        }
        // Not due: nothing purged; the oldest list's time is read once, and kept.
        assert_eq!(store.purge(2).expect("purge"), 0);
        let oldest = || store.oldest_ms[Class::Horizon.index()].load(Ordering::Acquire);
        assert_eq!(oldest(), 1_000);
        assert_eq!(store.purge(2).expect("purge"), 0);
        clock.advance_ms(200);
        assert_eq!(store.purge(2).expect("purge"), 2);
        assert!(!has_tx(&store, "t1") && has_tx(&store, "t2"));
        assert_eq!(store.purge(2).expect("purge"), 2);
        assert_eq!(store.purge(2).expect("purge"), 1);
        assert_eq!(store.purge(2).expect("purge"), 0);
        assert!(!has_tx(&store, "t4"));
        assert_eq!(oldest(), NO_LIST);
        // A list written after the class emptied is known at once.
        store.write(vec![tx_item("t5")], Lsn(6)).expect("write");
        assert_eq!(oldest(), 1_250);
        drop(store);
        // Reopened, the oldest is unknown until read; due, it goes.
        let store = open();
        assert_eq!(
            store.oldest_ms[Class::Horizon.index()].load(Ordering::Acquire),
            UNKNOWN_OLDEST
        );
        assert_eq!(store.purge(16).expect("purge"), 0);
        assert!(has_tx(&store, "t5"));
        clock.advance_ms(101);
        assert_eq!(store.purge(16).expect("purge"), 1);
        assert!(!has_tx(&store, "t5"));
    }

    /// The journals do not pile up: past `ROTATE_JOURNAL_BYTES`, each commit seals
    /// the memtable that pins the oldest journal file, so the files go once
    /// flushed, although `meta` (two keys a batch) never fills a memtable. Left to
    /// fjall, they would stay until its monitor acts, past half of
    /// `STORE_JOURNAL_BYTES`.
    #[test]
    fn journals_are_freed_once_they_pass_the_rotation_threshold() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = HistoryStore::open(
            dir.path(),
            Arc::new(ManualClock::new(1_000)),
            Retention::default(),
            Faults::default(),
        )
        .expect("open");
        // Batches of 1,000 records until the journals pass the threshold.
        let mut id = 0u64;
        while store.keyspace.journal_disk_space() <= ROTATE_JOURNAL_BYTES {
            assert!(id < 2_000_000, "the journals never grew");
            let batch: Vec<ArchiveItem> = (id..id + 1_000).map(record_item).collect();
            id += 1_000;
            store.write(batch, Lsn(id)).expect("write");
        }
        // Then small batches, as passes with little to do: the journals fall back
        // under the threshold (fjall's monitor would not act below half the bound).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while store.keyspace.journal_disk_space() > ROTATE_JOURNAL_BYTES {
            assert!(
                std::time::Instant::now() < deadline,
                "journals stayed at {} bytes",
                store.keyspace.journal_disk_space()
            );
            store
                .write(vec![record_item(id)], Lsn(id + 1))
                .expect("write");
            id += 1;
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Each class is purged on its own clock, oldest first: transactions after the
    /// horizon even while older records must stay, records after the history period.
    #[test]
    fn purge_keeps_each_class_for_its_own_period() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(ManualClock::new(1_000));
        let retention = Retention {
            idempotency_horizon_ms: 100,
            history_ms: 1_000,
        };
        let store = HistoryStore::open(dir.path(), clock.clone(), retention, Faults::default())
            .expect("open");
        store
            .write(vec![tx_item("t1"), record_item(1)], Lsn(1))
            .expect("write");
        clock.advance_ms(50);
        store
            .write(vec![tx_item("t2"), record_item(2)], Lsn(2))
            .expect("write");
        assert_eq!(store.purge(16).expect("purge"), 0);
        clock.advance_ms(60); // t1 is 110 ms old, t2 60 ms.
        store.purge(16).expect("purge");
        assert!(!has_tx(&store, "t1") && has_tx(&store, "t2"));
        assert_eq!(record_ids(&store), vec![2, 1]);
        clock.advance_ms(50); // t2 is past the horizon too, behind records that stay.
        store.purge(16).expect("purge");
        assert!(!has_tx(&store, "t2"));
        assert_eq!(record_ids(&store), vec![2, 1]);
        clock.advance_ms(900); // record 1 is 1,060 ms old, record 2 1,010.
        store.purge(16).expect("purge");
        assert_eq!(record_ids(&store), Vec::<u64>::new());
        // Reopened, the archived position is the last written.
        drop(store);
        let store =
            HistoryStore::open(dir.path(), clock, retention, Faults::default()).expect("open");
        assert_eq!(store.archived(), Lsn(2));
    }
}
