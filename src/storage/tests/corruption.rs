//! Damage that is not a torn tail stops start-up with `Corrupt`, naming the file and the
//! byte offset of the bad record, and leaves the files as they were.

use super::*;

fn corrupt_err(dir: &Path, config: Config) -> (PathBuf, u64, String) {
    match open(dir, config, Arc::new(StdFs)) {
        Err(StorageError::Corrupt {
            file,
            offset,
            reason,
        }) => (file, offset, reason),
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(_) => panic!("expected Corrupt, the log opened"),
    }
}

/// A single-segment log of 10 records with known lengths; returns the lengths.
fn ten_records(dir: &Path) -> Vec<usize> {
    let lens: Vec<usize> = (0..10).map(|i| 20 + i * 7).collect();
    let (wal, _) = open_std(dir, Config::default());
    for (i, &n) in lens.iter().enumerate() {
        wal.append(&payload(i as u64, n)).expect("append");
    }
    drop(wal);
    lens
}

#[test]
fn a_damaged_record_in_the_middle_is_corruption_at_its_offset() {
    // Damage to the payload, the checksum and the length field of record 5.
    for within in [FRAME_HEADER_LEN + 3, 5, 0, 1, 3] {
        let dir = tempfile::tempdir().expect("tempdir");
        let lens = ten_records(dir.path());
        let seg = segment_files(dir.path())[0].1.clone();
        let at = frame_offsets(&lens)[4];
        flip(&seg, at + within);
        let before = std::fs::read(&seg).expect("read");
        let (file, offset, reason) = corrupt_err(dir.path(), Config::default());
        assert_eq!(
            (file, offset),
            (seg.clone(), at as u64),
            "damage at +{within}: {reason}"
        );
        assert!(reason.contains("record 5"), "{reason}");
        assert_eq!(
            std::fs::read(&seg).expect("read"),
            before,
            "nothing was truncated"
        );
    }
}

#[test]
fn damage_to_an_earlier_segment_is_corruption_even_at_its_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), small(1024));
    fill(&wal, 100, 100);
    drop(wal);
    let segs = segment_files(dir.path());
    assert!(segs.len() >= 3);
    // The last byte of the first segment: would pass for a torn tail in the last segment.
    let first = &segs[0].1;
    let len = std::fs::metadata(first).expect("stat").len() as usize;
    flip(first, len - 1);
    let (file, _, reason) = corrupt_err(dir.path(), small(1024));
    assert_eq!(&file, first);
    assert!(reason.contains("not the last segment"), "{reason}");

    // Trailing bytes after the last whole frame of an earlier segment are corruption too.
    flip(first, len - 1);
    std::fs::OpenOptions::new()
        .append(true)
        .open(first)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &[0u8; 5]))
        .expect("append");
    let (file, offset, _) = corrupt_err(dir.path(), small(1024));
    assert_eq!((&file, offset), (first, len as u64));
}

#[test]
fn a_missing_segment_is_an_lsn_gap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), small(1024));
    fill(&wal, 100, 100);
    drop(wal);
    let segs = segment_files(dir.path());
    std::fs::remove_file(&segs[1].1).expect("remove");
    let (file, offset, reason) = corrupt_err(dir.path(), small(1024));
    assert_eq!((file, offset), (segs[2].1.clone(), 0));
    assert!(reason.contains("gap"), "{reason}");
    // Without the first segment, the log starts too late for a replay from nothing.
    std::fs::remove_file(&segs[0].1).expect("remove");
    let (file, _, reason) = corrupt_err(dir.path(), small(1024));
    assert_eq!(file, segs[2].1);
    assert!(reason.contains("missing"), "{reason}");
}

#[test]
fn a_damaged_or_misnamed_segment_header_is_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), Config::default());
    fill(&wal, 3, 10);
    drop(wal);
    let seg = segment_files(dir.path())[0].1.clone();
    flip(&seg, 2);
    let (file, offset, reason) = corrupt_err(dir.path(), Config::default());
    assert_eq!((file, offset), (seg.clone(), 0));
    assert!(reason.contains("magic"), "{reason}");
    flip(&seg, 2);
    let renamed = dir
        .path()
        .join(crate::storage::segment::segment_file_name(Lsn(1)).replace("001.log", "002.log"));
    std::fs::rename(&seg, &renamed).expect("rename");
    let (file, _, reason) = corrupt_err(dir.path(), Config::default());
    assert_eq!(file, renamed);
    assert!(
        reason.contains("starts at LSN 2") || reason.contains("the name says 2"),
        "{reason}"
    );
}

#[test]
fn a_record_over_a_lowered_max_record_len_is_refused_not_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), Config::default());
    fill(&wal, 3, 10);
    wal.append(&[9u8; 500]).expect("append");
    drop(wal);
    let lowered = Config {
        max_record_len: 100,
        ..Config::default()
    };
    let (_, _, reason) = corrupt_err(dir.path(), lowered);
    assert!(reason.contains("lowered"), "{reason}");
}

/// Segments before the last are checked in parallel; the error reported is still the
/// first damage in log order, and nothing is changed.
#[test]
fn of_two_damaged_segments_the_earlier_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), small(1000));
    fill(&wal, 200, 100);
    drop(wal);
    let segs = segment_files(dir.path());
    assert!(segs.len() > 10, "{} segments", segs.len());
    // Damage the first record's payload of segments 3 and 8 (neither is the last).
    let at = SEGMENT_HEADER_LEN + FRAME_HEADER_LEN + 1;
    for k in [3, 8] {
        flip(&segs[k].1, at);
    }
    let before: Vec<Vec<u8>> = segs
        .iter()
        .map(|s| std::fs::read(&s.1).expect("read"))
        .collect();
    for _ in 0..10 {
        let (file, offset, reason) = corrupt_err(dir.path(), small(1000));
        assert_eq!(file, segs[3].1, "{reason}");
        assert_eq!(offset, SEGMENT_HEADER_LEN as u64);
        assert!(
            reason.contains(&format!("record {}", segs[3].0 .0)),
            "{reason}"
        );
    }
    let after: Vec<Vec<u8>> = segs
        .iter()
        .map(|s| std::fs::read(&s.1).expect("read"))
        .collect();
    assert!(before == after, "nothing was changed");
}

/// A segment changed between start-up's check and replay (by something ignoring the
/// directory lock): replay names the record that changed, or the header.
#[test]
fn a_segment_changed_after_the_check_is_corruption_at_the_changed_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lens = ten_records(dir.path());
    let seg = segment_files(dir.path())[0].1.clone();
    let at = frame_offsets(&lens)[6];
    for (offset, want_at, want) in [
        (
            at + FRAME_HEADER_LEN + 2,
            at as u64,
            "record 7 checksum mismatch",
        ),
        (3, 0, "segment header changed"),
    ] {
        let (wal, mut rec) = open_std(dir.path(), Config::default());
        flip(&seg, offset);
        let mut seen = 0;
        let err = rec
            .records
            .replay(|_, _| {
                seen += 1;
                Ok::<(), StorageError>(())
            })
            .expect_err("changed bytes replayed");
        match err {
            StorageError::Corrupt {
                file,
                offset,
                reason,
            } => {
                assert_eq!((file, offset), (seg.clone(), want_at), "{reason}");
                assert!(reason.contains(want), "{reason}");
                assert!(
                    reason.contains("changed since start-up checked it"),
                    "{reason}"
                );
            }
            other => panic!("expected Corrupt, got {other}"),
        }
        assert_eq!(seen, if want_at == 0 { 0 } else { 6 });
        flip(&seg, offset); // undo, for the next case
        drop(wal);
    }
}
