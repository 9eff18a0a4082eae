//! Records written are the records read back: across segment rolls, restarts, and every
//! append flavour, including the ones that must not append anything.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::*;

#[test]
fn round_trip_across_segment_rolls_and_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = small(4096);
    let (wal, mut rec) = open_std(dir.path(), config.clone());
    assert!(records(&mut rec).is_empty());
    assert_eq!(rec.last_lsn, Lsn(0));
    let mut expected = fill(&wal, 400, 700);
    assert_eq!(wal.durable_lsn(), Lsn(400));
    wal.close().expect("close");
    drop(wal);
    let segs = segment_files(dir.path());
    assert!(segs.len() > 10, "only {} segments", segs.len());
    for (_, path) in &segs {
        let len = std::fs::metadata(path).expect("stat").len();
        // A segment only exceeds the limit to hold a single oversized record.
        assert!(len <= 4096, "{} is {len} bytes", path.display());
    }

    let (wal, mut rec) = open_std(dir.path(), config.clone());
    assert_eq!(rec.last_lsn, Lsn(400));
    assert!(rec.torn_tail.is_none());
    let got = records(&mut rec);
    assert_eq!(got.len(), 400);
    for (i, (lsn, bytes)) in got.iter().enumerate() {
        assert_eq!(*lsn, Lsn(i as u64 + 1));
        assert_eq!(bytes, &expected[i], "record {lsn:?}");
    }
    // Appends continue where the log ended, in the same last segment.
    expected.extend(fill(&wal, 50, 700));
    drop(wal);

    let (_wal, mut rec) = open_std(dir.path(), config);
    let got: Vec<Vec<u8>> = records(&mut rec).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got, expected);
}

#[test]
fn replay_callback_sees_the_same_records_without_copies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), small(1000));
    let expected = fill(&wal, 60, 200);
    drop(wal);
    let (_wal, mut rec) = open_std(dir.path(), small(1000));
    let mut seen = Vec::new();
    let n = rec
        .records
        .replay(|lsn, payload| {
            seen.push((lsn, payload.to_vec()));
            Ok::<(), StorageError>(())
        })
        .expect("replay");
    assert_eq!(n, 60);
    assert_eq!(seen.len(), 60);
    for (i, (lsn, bytes)) in seen.into_iter().enumerate() {
        assert_eq!((lsn, bytes), (Lsn(i as u64 + 1), expected[i].clone()));
    }
}

/// `replay_shared` hands out segment buffers that it later reuses for other segments:
/// never while a caller still holds one, and the records read are right either way.
#[test]
fn shared_replay_reuses_only_buffers_nobody_holds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), small(1000));
    let expected = fill(&wal, 120, 200);
    drop(wal);
    // Holding every segment (as lanes still busy with them would): nothing is reused.
    let (wal, mut rec) = open_std(dir.path(), small(1000));
    let mut held = Vec::new();
    let n = rec
        .records
        .replay_shared(|lsn, bytes, range| {
            held.push((lsn, Arc::clone(bytes), range));
            Ok::<(), StorageError>(())
        })
        .expect("replay");
    assert_eq!(n, 120);
    let segments: std::collections::HashSet<_> = held.iter().map(|h| Arc::as_ptr(&h.1)).collect();
    assert!(segments.len() > 10, "{} segments", segments.len());
    for (i, (lsn, bytes, range)) in held.into_iter().enumerate() {
        assert_eq!(lsn, Lsn(i as u64 + 1));
        assert_eq!(&bytes[range], &expected[i][..]);
    }
    drop(wal);
    // Holding each segment only while on it: buffers are reused, records still right.
    let (_wal, mut rec) = open_std(dir.path(), small(1000));
    let mut seen = Vec::new();
    let mut current: Option<Arc<Vec<u8>>> = None;
    rec.records
        .replay_shared(|lsn, bytes, range| {
            current = Some(Arc::clone(bytes));
            seen.push((lsn, bytes[range].to_vec()));
            Ok::<(), StorageError>(())
        })
        .expect("replay");
    drop(current);
    let want: Vec<(Lsn, Vec<u8>)> = (1..).map(Lsn).zip(expected).collect();
    assert_eq!(seen, want);
}

#[test]
fn oversized_record_gets_a_segment_of_its_own_and_empty_records_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), small(256));
    let big = payload(1, 1000);
    assert_eq!(wal.append(b"").expect("append"), Lsn(1));
    assert_eq!(wal.append(&big).expect("append"), Lsn(2));
    assert_eq!(wal.append(b"").expect("append"), Lsn(3));
    wal.flush().expect("flush");
    drop(wal);
    assert_eq!(segment_files(dir.path()).len(), 3);
    let (_wal, mut rec) = open_std(dir.path(), small(256));
    let got = records(&mut rec);
    assert_eq!(got, vec![(Lsn(1), vec![]), (Lsn(2), big), (Lsn(3), vec![])]);
}

#[test]
fn append_with_serializes_in_place_and_failures_use_no_lsn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        max_record_len: 100,
        ..Config::default()
    };
    let (wal, _) = open_std(dir.path(), config.clone());
    assert_eq!(
        wal.append_with(|b| b.extend_from_slice(b"one"))
            .expect("append"),
        Lsn(1)
    );
    let too_big = wal.append(&[0u8; 101]);
    assert!(matches!(
        too_big,
        Err(StorageError::RecordTooLarge { len: 101, max: 100 })
    ));
    let too_big = wal.append_with(|b| b.resize(b.len() + 101, 7));
    assert!(matches!(too_big, Err(StorageError::RecordTooLarge { .. })));
    let refused: Result<Lsn, StorageError> = wal.try_append_with(|b| {
        b.extend_from_slice(b"half-written");
        Err(StorageError::InvalidConfig("encoder said no".into()))
    });
    assert!(refused.is_err());
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        wal.append_with(|b| {
            b.extend_from_slice(b"partial");
            panic!("serializer bug");
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(wal.appended_lsn(), Lsn(1));
    assert_eq!(wal.append(b"two").expect("append"), Lsn(2));
    wal.flush().expect("flush");
    drop(wal);
    let (_wal, mut rec) = open_std(dir.path(), config);
    assert_eq!(
        records(&mut rec),
        vec![(Lsn(1), b"one".to_vec()), (Lsn(2), b"two".to_vec())]
    );
}

#[test]
fn waiting_on_unappended_lsns_fails_and_lsn_zero_is_always_durable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), Config::default());
    wal.wait_durable(Lsn(0)).expect("nothing is durable");
    assert!(matches!(
        wal.wait_durable(Lsn(1)),
        Err(StorageError::NotAppended {
            lsn: 1,
            appended: 0
        })
    ));
    assert!(block_on(wal.durable(Lsn(5))).is_err());
    wal.flush().expect("empty flush");
    wal.close().expect("close");
    assert!(matches!(wal.append(b"late"), Err(StorageError::Closed)));
}

/// A reader of durable records (the history archiver) gets each record once, in
/// order, whether it reads from scratch or resumes from its cursor, across segment
/// rolls and while the log goes on growing; and asking past the durable end of the
/// log is an error, not a short read.
#[test]
fn read_durable_resumes_from_its_cursor_across_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), small(256));
    let record = |i: u64| format!("record {i:04}").into_bytes();
    let mut cursor = crate::storage::LogCursor::default();
    let mut seen: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut archived = Lsn(0);
    for round in 0..6u64 {
        for i in 0..(7 + round * 3) {
            let lsn = wal.append(&record(round * 100 + i)).expect("append");
            wal.wait_durable(lsn).expect("durable");
        }
        let upto = wal.durable_lsn();
        archived = wal
            .read_durable::<StorageError, _>(archived, upto, &mut cursor, |lsn, payload| {
                seen.push((lsn.0, payload.to_vec()));
                Ok(())
            })
            .expect("read");
        assert_eq!(archived, upto);
    }
    let lsns: Vec<u64> = seen.iter().map(|(l, _)| *l).collect();
    assert_eq!(
        lsns,
        (1..=archived.0).collect::<Vec<u64>>(),
        "each record once, in order"
    );
    // From scratch, with a fresh cursor: the same records.
    let mut again = Vec::new();
    wal.read_durable::<StorageError, _>(Lsn(0), archived, &mut Default::default(), |lsn, p| {
        again.push((lsn.0, p.to_vec()));
        Ok(())
    })
    .expect("read again");
    assert_eq!(again, seen);
    let past = Lsn(archived.0 + 5);
    let e = wal
        .read_durable::<StorageError, _>(archived, past, &mut cursor, |_, _| Ok(()))
        .expect_err("past the end");
    assert!(e.is_corrupt(), "{e}");
}
