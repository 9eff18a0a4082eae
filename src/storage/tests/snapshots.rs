//! Snapshots: committed bytes come back identical, a bad newest snapshot falls back to the
//! older one, and retention deletes exactly what the fallback no longer needs.

use std::io::Write;

use super::*;
use crate::storage::snapshot_file::snapshot_file_name;

/// Writes a snapshot at `lsn` whose body is `body`, in uneven pieces.
fn snapshot(wal: &Wal, lsn: Lsn, body: &[u8]) -> crate::storage::Committed {
    let mut writer = wal.begin_snapshot(lsn).expect("begin");
    for piece in body.chunks(977) {
        writer.write_all(piece).expect("write");
    }
    assert_eq!(writer.body_len(), body.len() as u64);
    writer.commit().expect("commit")
}

#[test]
fn a_committed_snapshot_reads_back_identical_and_replay_starts_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), Config::default());
    let records_before = fill(&wal, 100, 80);
    let body = payload(42, 3 << 20);
    let committed = snapshot(&wal, Lsn(100), &body);
    assert_eq!(
        committed.path,
        dir.path().join(snapshot_file_name(Lsn(100)))
    );
    assert!(committed.removed.is_empty() && committed.cleanup_error.is_none());
    let after = fill(&wal, 30, 80);
    drop(wal);
    assert!(files_ending(dir.path(), ".tmp").is_empty());

    let (_wal, mut rec) = open_std(dir.path(), Config::default());
    assert_eq!(rec.snapshot_lsn, Lsn(100));
    assert!(rec.rejected_snapshots.is_empty());
    assert_eq!(snapshot_bytes(&mut rec).as_deref(), Some(&body[..]));
    let got = records(&mut rec);
    assert_eq!(got.first().map(|r| r.0), Some(Lsn(101)));
    assert_eq!(got.into_iter().map(|(_, b)| b).collect::<Vec<_>>(), after);
    assert_eq!(rec.last_lsn, Lsn(130));
    drop(records_before);
}

#[test]
fn a_corrupt_or_truncated_newest_snapshot_falls_back_to_the_older_one() {
    for damage in ["flip body", "truncate", "flip header"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (wal, _) = open_std(dir.path(), small(2048));
        let mut all = fill(&wal, 50, 100);
        let old_body = payload(1, 5000);
        snapshot(&wal, Lsn(50), &old_body);
        all.extend(fill(&wal, 50, 100));
        snapshot(&wal, Lsn(100), &payload(2, 5000));
        all.extend(fill(&wal, 20, 100));
        drop(wal);
        let newest = dir.path().join(snapshot_file_name(Lsn(100)));
        match damage {
            "flip body" => flip(&newest, 24 + 4000),
            "flip header" => flip(&newest, 14),
            _ => {
                let len = std::fs::metadata(&newest).expect("stat").len();
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&newest)
                    .and_then(|f| f.set_len(len - 1))
                    .expect("truncate");
            }
        }
        let (_wal, mut rec) = open_std(dir.path(), small(2048));
        assert_eq!(rec.snapshot_lsn, Lsn(50), "{damage}");
        assert_eq!(rec.rejected_snapshots.len(), 1);
        let rejected = &rec.rejected_snapshots[0];
        assert_eq!((&rejected.path, rejected.lsn), (&newest, Lsn(100)));
        assert!(rejected.error.is_corrupt(), "{damage}: {}", rejected.error);
        assert_eq!(snapshot_bytes(&mut rec).as_deref(), Some(&old_body[..]));
        let got = records(&mut rec);
        assert_eq!(got.first().map(|r| r.0), Some(Lsn(51)));
        assert_eq!(
            got.into_iter().map(|(_, b)| b).collect::<Vec<_>>(),
            all[50..]
        );
    }
}

#[test]
fn retention_keeps_two_snapshots_and_the_segments_the_older_one_needs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), small(1024));
    let mut all = fill(&wal, 100, 100);
    let first = snapshot(&wal, Lsn(40), b"at 40");
    assert!(
        first.removed.is_empty(),
        "a single snapshot has no fallback: keep the whole log"
    );
    all.extend(fill(&wal, 100, 100));
    let second = snapshot(&wal, Lsn(120), b"at 120");
    // Two snapshots now: the segments wholly covered by the older one (LSN 40) go.
    assert!(!second.removed.is_empty());
    assert!(second
        .removed
        .iter()
        .all(|p| p.extension().is_some_and(|e| e == "log")));
    all.extend(fill(&wal, 100, 100));
    let third = snapshot(&wal, Lsn(250), b"at 250");
    drop(wal);

    let snaps = files_ending(dir.path(), ".snap");
    assert_eq!(
        snaps,
        [snapshot_file_name(Lsn(120)), snapshot_file_name(Lsn(250))]
    );
    assert!(third
        .removed
        .contains(&dir.path().join(snapshot_file_name(Lsn(40)))));
    // Every segment whose records all precede LSN 121 is gone; the one holding 121 stays.
    let segs = segment_files(dir.path());
    assert!(segs[0].0 <= Lsn(121) && segs[1].0 > Lsn(121), "{segs:?}");
    assert!(third
        .removed
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "log")));

    // The fallback still works: with the newest snapshot damaged, replay from LSN 121.
    flip(&dir.path().join(snapshot_file_name(Lsn(250))), 30);
    let (_wal, mut rec) = open_std(dir.path(), small(1024));
    assert_eq!(rec.snapshot_lsn, Lsn(120));
    let got = records(&mut rec);
    assert_eq!(got.first().map(|r| r.0), Some(Lsn(121)));
    assert_eq!(
        got.into_iter().map(|(_, b)| b).collect::<Vec<_>>(),
        all[120..]
    );
}

#[test]
fn one_snapshot_at_a_time_and_abandoned_ones_leave_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), Config::default());
    fill(&wal, 5, 10);
    let mut first = wal.begin_snapshot(Lsn(5)).expect("begin");
    assert!(matches!(
        wal.begin_snapshot(Lsn(5)),
        Err(StorageError::SnapshotInProgress)
    ));
    first.write_all(b"half").expect("write");
    assert_eq!(files_ending(dir.path(), ".tmp").len(), 1);
    drop(first);
    assert!(files_ending(dir.path(), ".tmp").is_empty());
    assert!(matches!(
        wal.begin_snapshot(Lsn(6)),
        Err(StorageError::NotAppended { .. })
    ));
    snapshot(&wal, Lsn(5), b"whole");
    // A temporary left by a crash is removed at the next open.
    std::fs::write(
        dir.path()
            .join(format!("{}.tmp", snapshot_file_name(Lsn(9)))),
        b"x",
    )
    .expect("write");
    drop(wal);
    let (_wal, mut rec) = open_std(dir.path(), Config::default());
    assert!(files_ending(dir.path(), ".tmp").is_empty());
    assert_eq!(snapshot_bytes(&mut rec).as_deref(), Some(&b"whole"[..]));
}

#[test]
fn a_snapshot_beyond_the_end_of_the_log_moves_the_next_lsn_past_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), Config::default());
    fill(&wal, 10, 10);
    snapshot(&wal, Lsn(10), b"ten");
    drop(wal);
    // Lose the log's last records (say, written under FsyncPolicy::Never).
    let seg = &segment_files(dir.path())[0].1;
    let len = std::fs::metadata(seg).expect("stat").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(seg)
        .and_then(|f| f.set_len(len - 30))
        .expect("truncate");
    let (wal, mut rec) = open_std(dir.path(), Config::default());
    assert_eq!((rec.snapshot_lsn, rec.last_lsn), (Lsn(10), Lsn(10)));
    assert!(records(&mut rec).is_empty());
    // LSN 11, not a reused LSN the snapshot would make replay skip.
    assert_eq!(wal.append(b"eleven").expect("append"), Lsn(11));
    drop(wal);
    let (_wal, mut rec) = open_std(dir.path(), Config::default());
    assert_eq!(records(&mut rec), vec![(Lsn(11), b"eleven".to_vec())]);
}

#[test]
fn retention_keeps_a_fallback_that_passes_its_checks_not_a_damaged_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), small(1024));
    let mut all = fill(&wal, 100, 100);
    snapshot(&wal, Lsn(40), b"at 40");
    all.extend(fill(&wal, 100, 100));
    snapshot(&wal, Lsn(120), b"at 120");
    all.extend(fill(&wal, 100, 100));
    // The fallback-to-be rots on disk before the next snapshot commits.
    flip(&dir.path().join(snapshot_file_name(Lsn(120))), 30);
    let third = snapshot(&wal, Lsn(250), b"at 250");
    all.extend(fill(&wal, 10, 100));
    drop(wal);

    // The damaged snapshot is no fallback: the one at 40 is kept, and so is every
    // segment after it; nothing is deleted for failing a check.
    assert!(third.removed.is_empty(), "{:?}", third.removed);
    assert_eq!(
        files_ending(dir.path(), ".snap"),
        [
            snapshot_file_name(Lsn(40)),
            snapshot_file_name(Lsn(120)),
            snapshot_file_name(Lsn(250))
        ]
    );
    // With the newest damaged too, recovery falls back past both to LSN 40 and loses
    // nothing.
    flip(&dir.path().join(snapshot_file_name(Lsn(250))), 30);
    let (wal, mut rec) = open_std(dir.path(), small(1024));
    assert_eq!(rec.snapshot_lsn, Lsn(40));
    assert_eq!(rec.rejected_snapshots.len(), 2);
    assert_eq!(snapshot_bytes(&mut rec).as_deref(), Some(&b"at 40"[..]));
    let got = records(&mut rec);
    assert_eq!(got.first().map(|r| r.0), Some(Lsn(41)));
    assert_eq!(
        got.into_iter().map(|(_, b)| b).collect::<Vec<_>>(),
        all[40..]
    );

    // A later snapshot with a sound fallback (the one at 250 is damaged, so 40 still is)
    // deletes what is older than that fallback, damaged snapshots included.
    let fourth = snapshot(&wal, Lsn(310), b"at 310");
    assert!(
        fourth.removed.is_empty(),
        "40 is still the only sound fallback"
    );
    all.extend(fill(&wal, 10, 100));
    let fifth = snapshot(&wal, Lsn(320), b"at 320");
    drop(wal);
    assert_eq!(
        files_ending(dir.path(), ".snap"),
        [snapshot_file_name(Lsn(310)), snapshot_file_name(Lsn(320))]
    );
    for gone in [40, 120, 250] {
        let path = dir.path().join(snapshot_file_name(Lsn(gone)));
        assert!(fifth.removed.contains(&path), "{gone}: {:?}", fifth.removed);
    }
    // The segments wholly before LSN 311 go; the one holding 311 stays.
    let segs = segment_files(dir.path());
    assert!(segs[0].0 <= Lsn(311), "{segs:?}");
    assert!(segs.get(1).is_none_or(|s| s.0 > Lsn(311)), "{segs:?}");
    assert!(fifth
        .removed
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "log")));
}
