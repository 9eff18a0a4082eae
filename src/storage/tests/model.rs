//! Model-based test: random sequences of appends, snapshots, restarts and tail cuts,
//! checked against a plain `Vec` of the records the log should hold.
//!
//! The "engine state" is the list of records itself; a snapshot body is that list
//! (length-prefixed) up to the snapshot's LSN. Recovery must rebuild exactly the model.

use proptest::prelude::*;

use super::*;
use crate::storage::snapshot_file::SnapshotWriter;

#[derive(Debug, Clone)]
enum Op {
    Append(usize),
    Snapshot,
    Reopen,
    /// Cut this many bytes off the last segment (at most down to its header), then reopen.
    CutTail(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..120).prop_map(Op::Append),
        1 => Just(Op::Snapshot),
        1 => Just(Op::Reopen),
        1 => (1usize..300).prop_map(Op::CutTail),
    ]
}

fn encode(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(&(r.len() as u32).to_le_bytes());
        out.extend_from_slice(r);
    }
    out
}

fn decode(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while bytes.len() >= 4 {
        let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        out.push(bytes[4..4 + len].to_vec());
        bytes = &bytes[4 + len..];
    }
    out
}

/// A directory in RAM where there is one: this test checks the log's logic (durability
/// has its own tests), and its hundreds of fsyncs would make it slow on a busy disk.
fn memory_tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("tempdir")
}

struct Harness {
    dir: tempfile::TempDir,
    wal: Option<Wal>,
    /// Payload of record `i + 1`.
    model: Vec<Vec<u8>>,
    /// LSN of the newest committed snapshot.
    snapshot_lsn: u64,
}

impl Harness {
    fn config() -> Config {
        small(700)
    }

    fn wal(&self) -> &Wal {
        self.wal.as_ref().expect("open")
    }

    /// Restarts the log and checks that recovery rebuilds the model exactly.
    fn reopen(&mut self, expect_torn: Option<bool>) -> Result<(), TestCaseError> {
        self.wal = None;
        let (wal, mut rec) = open_std(self.dir.path(), Self::config());
        prop_assert_eq!(rec.snapshot_lsn.0, self.snapshot_lsn);
        if let Some(torn) = expect_torn {
            prop_assert_eq!(rec.torn_tail.is_some(), torn, "{:?}", rec.torn_tail);
        }
        let mut state = snapshot_bytes(&mut rec)
            .map(|b| decode(&b))
            .unwrap_or_default();
        for (lsn, payload) in records(&mut rec) {
            prop_assert_eq!(lsn.0, state.len() as u64 + 1, "dense replay");
            state.push(payload);
        }
        prop_assert_eq!(&state, &self.model);
        prop_assert_eq!(rec.last_lsn.0, self.model.len() as u64);
        self.wal = Some(wal);
        Ok(())
    }

    fn snapshot(&mut self) {
        let lsn = self.wal().appended_lsn();
        let mut writer: SnapshotWriter = self.wal().begin_snapshot(lsn).expect("begin");
        std::io::Write::write_all(&mut writer, &encode(&self.model[..lsn.0 as usize]))
            .expect("write");
        writer.commit().expect("commit");
        self.snapshot_lsn = lsn.0;
    }

    /// Cuts `k` bytes off the last segment and works out what the model loses: the
    /// records whose frames no longer fit, except those the snapshot still holds.
    fn cut_tail(&mut self, k: usize) -> Result<(), TestCaseError> {
        self.wal = None;
        let Some((first, path)) = segment_files(self.dir.path()).pop() else {
            return self.reopen(Some(false));
        };
        let len = std::fs::metadata(&path).expect("stat").len() as usize;
        let new_len = len - k.min(len - SEGMENT_HEADER_LEN);
        let in_segment = &self.model[(first.0 as usize - 1).min(self.model.len())..];
        let lens: Vec<usize> = in_segment.iter().map(Vec::len).collect();
        let offsets = frame_offsets(&lens);
        let kept = offsets
            .iter()
            .zip(&lens)
            .take_while(|(o, l)| *o + FRAME_HEADER_LEN + *l <= new_len)
            .count();
        let boundary = offsets.get(kept).copied().unwrap_or(len);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(new_len as u64))
            .expect("cut");
        let wal_end = first.0 as usize - 1 + kept;
        self.model.truncate(wal_end.max(self.snapshot_lsn as usize));
        self.reopen(Some(new_len != boundary.min(len)))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn log_matches_a_vec_model(ops in proptest::collection::vec(op(), 1..40), seed in any::<u64>()) {
        let dir = memory_tempdir();
        let (wal, _) = open_std(dir.path(), Harness::config());
        let mut h = Harness { dir, wal: Some(wal), model: Vec::new(), snapshot_lsn: 0 };
        for (i, op) in ops.into_iter().enumerate() {
            match op {
                Op::Append(len) => {
                    let bytes = payload(seed ^ i as u64, len);
                    let lsn = h.wal().append(&bytes).expect("append");
                    h.model.push(bytes);
                    prop_assert_eq!(lsn.0, h.model.len() as u64);
                }
                Op::Snapshot => h.snapshot(),
                Op::Reopen => h.reopen(Some(false))?,
                Op::CutTail(k) => h.cut_tail(k)?,
            }
        }
        h.reopen(Some(false))?;
    }
}
