//! The history store candidates, measured the way pitboss would use them: game
//! records and transaction outcomes appended in batches by a background archiver
//! (each batch one durable commit), then point lookups of a transaction id (an
//! idempotent replay of an archived id) and short prefix scans (a page of a player's
//! records), on the same data.
//!
//! `cargo run --release -- [records] [batch]` (defaults 2,000,000 and 1,000). Keys are
//! 40 bytes (channel hash, wallet, reversed sequence), values 120 bytes, as an archived
//! record roughly is. Prints, per store: insert rate, the directory's size on disk,
//! lookup and scan p50/p99, and the time to open the directory again.

use std::path::Path;
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const WALLETS: u64 = 100_000;

/// Record `i`: wallet `i % WALLETS`; keys sort by wallet, then newest first.
fn key(i: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..8].copy_from_slice(&0xC0FFEEu64.to_be_bytes());
    k[8..16].copy_from_slice(&(i % WALLETS).to_be_bytes());
    k[16..24].copy_from_slice(&(u64::MAX - i).to_be_bytes());
    k[24..32].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    k
}

fn value(i: u64) -> [u8; 120] {
    let mut v = [0u8; 120];
    for (n, chunk) in v.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(i ^ n as u64).to_le_bytes());
    }
    v
}

fn pct(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    samples[((samples.len() as f64 - 1.0) * p) as usize]
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

trait Store {
    fn name(&self) -> &'static str;
    fn insert_batch(&mut self, from: u64, to: u64);
    fn get(&self, k: &[u8]) -> bool;
    /// The first `n` entries whose key starts with `prefix`.
    fn scan(&self, prefix: &[u8], n: usize) -> usize;
}

struct Fjall {
    keyspace: fjall::Keyspace,
    part: fjall::PartitionHandle,
}

impl Fjall {
    fn open(path: &Path) -> Fjall {
        let keyspace = fjall::Config::new(path).open().expect("fjall open");
        let part = keyspace
            .open_partition("history", fjall::PartitionCreateOptions::default())
            .expect("partition");
        Fjall { keyspace, part }
    }
}

impl Store for Fjall {
    fn name(&self) -> &'static str {
        "fjall 2"
    }
    fn insert_batch(&mut self, from: u64, to: u64) {
        let mut batch = self.keyspace.batch();
        for i in from..to {
            batch.insert(&self.part, key(i), value(i));
        }
        batch.commit().expect("commit");
        self.keyspace
            .persist(fjall::PersistMode::SyncAll)
            .expect("fsync");
    }
    fn get(&self, k: &[u8]) -> bool {
        self.part.get(k).expect("get").is_some()
    }
    fn scan(&self, prefix: &[u8], n: usize) -> usize {
        self.part
            .prefix(prefix)
            .take(n)
            .filter(|r| r.is_ok())
            .count()
    }
}

const TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("history");

struct Redb {
    db: redb::Database,
}

impl Redb {
    fn open(path: &Path) -> Redb {
        std::fs::create_dir_all(path).expect("dir");
        let db = redb::Database::create(path.join("history.redb")).expect("redb open");
        Redb { db }
    }
}

impl Store for Redb {
    fn name(&self) -> &'static str {
        "redb 2"
    }
    fn insert_batch(&mut self, from: u64, to: u64) {
        let tx = self.db.begin_write().expect("begin");
        {
            let mut t = tx.open_table(TABLE).expect("table");
            for i in from..to {
                t.insert(&key(i)[..], &value(i)[..]).expect("insert");
            }
        }
        tx.commit().expect("commit"); // Durability::Immediate: fsync'd
    }
    fn get(&self, k: &[u8]) -> bool {
        let tx = self.db.begin_read().expect("read");
        let t = tx.open_table(TABLE).expect("table");
        t.get(k).expect("get").is_some()
    }
    fn scan(&self, prefix: &[u8], n: usize) -> usize {
        let tx = self.db.begin_read().expect("read");
        let t = tx.open_table(TABLE).expect("table");
        t.range(prefix..)
            .expect("range")
            .take_while(|r| r.as_ref().is_ok_and(|(k, _)| k.value().starts_with(prefix)))
            .take(n)
            .count()
    }
}

fn measure(
    mut store: Box<dyn Store>,
    path: &Path,
    records: u64,
    batch: u64,
    reopen: impl Fn() -> Box<dyn Store>,
) {
    let started = Instant::now();
    let mut i = 0;
    while i < records {
        let to = (i + batch).min(records);
        store.insert_batch(i, to);
        i = to;
    }
    let insert = started.elapsed();
    let mut rng = Rng(0x5EED);
    let mut gets = Vec::with_capacity(20_000);
    for _ in 0..20_000 {
        let k = key(rng.next() % records);
        let t = Instant::now();
        assert!(store.get(&k));
        gets.push(t.elapsed());
    }
    let mut scans = Vec::with_capacity(20_000);
    for _ in 0..20_000 {
        let wallet = rng.next() % WALLETS;
        let mut prefix = [0u8; 16];
        prefix[..8].copy_from_slice(&0xC0FFEEu64.to_be_bytes());
        prefix[8..].copy_from_slice(&wallet.to_be_bytes());
        let t = Instant::now();
        let n = store.scan(&prefix, 10);
        scans.push(t.elapsed());
        assert_eq!(n, 10.min((records / WALLETS) as usize).max(1).min(10));
    }
    let name = store.name();
    drop(store);
    let size = dir_size(path);
    let t = Instant::now();
    let again = reopen();
    let open = t.elapsed();
    assert!(again.get(&key(records - 1)));
    println!(
        "{name}: {records} records in batches of {batch}: {:.0} records/s; {:.1} bytes/record on disk; \
         get p50 {:?} p99 {:?}; scan of 10 p50 {:?} p99 {:?}; reopen {:?}",
        records as f64 / insert.as_secs_f64(),
        size as f64 / records as f64,
        pct(&mut gets, 0.5),
        pct(&mut gets, 0.99),
        pct(&mut scans, 0.5),
        pct(&mut scans, 0.99),
        open,
    );
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let records = args.first().copied().unwrap_or(2_000_000);
    let batch = args.get(1).copied().unwrap_or(1_000);
    let root = std::env::temp_dir().join(format!("history-store-eval-{}", std::process::id()));
    let (f, r) = (root.join("fjall"), root.join("redb"));
    measure(Box::new(Fjall::open(&f)), &f, records, batch, || {
        Box::new(Fjall::open(&f))
    });
    measure(Box::new(Redb::open(&r)), &r, records, batch, || {
        Box::new(Redb::open(&r))
    });
    let _ = std::fs::remove_dir_all(&root);
}
