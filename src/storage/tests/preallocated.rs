//! Preallocation (`FsyncPolicy::Always`): records are written over zeros the writer
//! fsynced ahead of them. What a crash can leave of such a log, and what recovery makes
//! of it (see the writer and recovery modules).

use super::super::segment::{scan, UNSYNCED_WINDOW};
use super::super::FaultyFs;
use super::*;

const MAX_LEN: u32 = 16 << 20;

/// The segment's length and where its records end.
fn extent(path: &Path, first: Lsn) -> (usize, usize) {
    let bytes = std::fs::read(path).expect("read");
    (bytes.len(), scan(&bytes, first, MAX_LEN).end)
}

fn append_bytes(path: &Path, extra: &[u8]) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes.extend_from_slice(extra);
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn zeros_run_ahead_of_the_records_and_are_cut_at_a_seal_and_at_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        segment_size: 8 * 1024,
        ..Config::default()
    };
    let (wal, _) = open_std(dir.path(), config.clone());
    fill(&wal, 200, 300);
    let segments = segment_files(dir.path());
    assert!(segments.len() > 3, "{} segments", segments.len());
    let (last, sealed) = segments.split_last().expect("segments");
    for (first, path) in sealed {
        let (len, end) = extent(path, *first);
        assert_eq!(len, end, "{} ends at its last record", path.display());
    }
    let (len, end) = extent(&last.1, last.0);
    assert!(len > end, "the open segment has zeros after its records");
    let bytes = std::fs::read(&last.1).expect("read");
    assert!(bytes[end..].iter().all(|&b| b == 0));
    drop(wal);
    let (len, end) = extent(&last.1, last.0);
    assert_eq!(len, end, "closing cut the zeros off");
    let (_wal, rec) = open_std(dir.path(), config);
    assert!(rec.torn_tail.is_none());
}

/// A crash leaves the zeros; recovery cuts them off and appends go on there.
#[test]
fn after_a_crash_the_zeros_are_a_torn_tail_and_appends_continue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), Config::default());
    let expected = fill(&wal, 30, 300);
    let (first, seg) = segment_files(dir.path())[0].clone();
    let crashed = tempfile::tempdir().expect("tempdir");
    // The directory as a crash would leave it: the writer never closed.
    std::fs::copy(&seg, crashed.path().join(seg.file_name().expect("name"))).expect("copy");
    drop(wal);
    let copy = crashed.path().join(seg.file_name().expect("name"));
    let (len, end) = extent(&copy, first);
    // Zeros follow the records: up to `PREALLOCATE_BYTES` of them, fewer when records
    // written after the last preallocation used some (how the writer thread batched
    // the 30 appends decides which: at least this much was asked for each time).
    assert!(len > end, "no zeros after the records");
    assert!(len as u64 <= end as u64 + PREALLOCATE_BYTES + 300 + FRAME_HEADER_LEN as u64);
    let bytes = std::fs::read(&copy).expect("read");
    assert!(bytes[end..].iter().all(|&b| b == 0));
    let (wal, mut rec) = open_std(crashed.path(), Config::default());
    let torn = rec.torn_tail.clone().expect("the zeros are reported");
    assert_eq!(
        (torn.offset, torn.dropped_bytes),
        (end as u64, (len - end) as u64)
    );
    let got: Vec<Vec<u8>> = records(&mut rec).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got, expected);
    assert_eq!(wal.append(b"next").expect("append"), Lsn(31));
    drop(wal);
    let (_wal, mut rec) = open_std(crashed.path(), Config::default());
    assert!(rec.torn_tail.is_none());
    assert_eq!(records(&mut rec).len(), 31);
}

/// The last batch, written over zeros and never synced, reached the disk page by page
/// in any order: whatever pages survived, the records before the batch are kept, the
/// batch's surviving records are a prefix of it, and nothing is called corruption.
#[test]
fn any_pages_of_the_unsynced_batch_may_survive() {
    let source = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(source.path(), Config::default());
    let acknowledged = fill(&wal, 20, 300);
    let (first, seg) = segment_files(source.path())[0].clone();
    let (_, batch_start) = extent(&seg, first);
    let batch: Vec<Vec<u8>> = (0..60).map(|i| payload(900 + i, 250)).collect();
    for p in &batch {
        wal.append(p).expect("append");
    }
    wal.flush().expect("flush");
    let image = std::fs::read(&seg).expect("read");
    drop(wal);
    let (_, batch_end) = extent(&seg, first);
    let pages: Vec<usize> = (batch_start / 4096..=(batch_end - 1) / 4096).collect();
    assert!(pages.len() >= 4, "the batch spans {} pages", pages.len());
    let name = seg.file_name().expect("name").to_owned();
    for lost in 0u32..(1 << pages.len()) {
        let mut bytes = image.clone();
        for (bit, page) in pages.iter().enumerate() {
            if lost >> bit & 1 == 1 {
                let from = (page * 4096).max(batch_start);
                let to = ((page + 1) * 4096).min(batch_end);
                bytes[from..to].fill(0);
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(&name), &bytes).expect("write");
        let (_wal, mut rec) = open_std(dir.path(), Config::default());
        let got: Vec<Vec<u8>> = records(&mut rec).into_iter().map(|(_, b)| b).collect();
        assert_eq!(got[..20], acknowledged[..], "pages lost {lost:b}");
        let kept = &got[20..];
        assert_eq!(kept, &batch[..kept.len()], "pages lost {lost:b}");
        if lost != 0 {
            assert!(kept.len() < batch.len(), "pages lost {lost:b}");
            assert!(rec.torn_tail.is_some(), "pages lost {lost:b}");
        }
    }
}

/// Damage more than the unsynced window before the zeros is corruption; within it, it
/// cannot be told from a torn write (the cost the recovery module states).
#[test]
fn damage_before_the_window_is_corruption_and_within_it_a_torn_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), Config::default());
    let lens = vec![40 * 1024; 40];
    for (i, &len) in lens.iter().enumerate() {
        wal.append(&payload(i as u64, len)).expect("append");
    }
    drop(wal);
    let (_, seg) = segment_files(dir.path())[0].clone();
    // The zeros a crash would have left after the records.
    append_bytes(&seg, &[0; 4096]);
    let offsets = frame_offsets(&lens);
    let clean = std::fs::read(&seg).expect("read");

    let far = offsets[5] + FRAME_HEADER_LEN + 7;
    assert!(clean.len() - far > UNSYNCED_WINDOW);
    flip(&seg, far);
    let damaged = std::fs::read(&seg).expect("read");
    match open(dir.path(), Config::default(), Arc::new(StdFs)) {
        Err(StorageError::Corrupt {
            file,
            offset,
            reason,
        }) => {
            assert_eq!((file, offset), (seg.clone(), offsets[5] as u64));
            assert!(
                reason.contains("record 6") && reason.contains("past the"),
                "{reason}"
            );
        }
        other => panic!("expected Corrupt, got {:?}", other.map(|_| ())),
    }
    assert_eq!(
        std::fs::read(&seg).expect("read"),
        damaged,
        "nothing was cut"
    );

    std::fs::write(&seg, &clean).expect("restore");
    let near = offsets[36] + FRAME_HEADER_LEN + 7;
    assert!(clean.len() - near < UNSYNCED_WINDOW);
    flip(&seg, near);
    let (_wal, mut rec) = open_std(dir.path(), Config::default());
    let torn = rec.torn_tail.clone().expect("torn tail");
    assert_eq!(torn.offset, offsets[36] as u64);
    assert_eq!(records(&mut rec).len(), 36);
}

/// A record longer than the window is written header first: its length on disk covers
/// whatever of its payload survived. Without its header, payload that far out is
/// corruption.
#[test]
fn a_record_longer_than_the_window_is_torn_only_behind_its_own_header() {
    let big = UNSYNCED_WINDOW + UNSYNCED_WINDOW / 2;
    for header_survived in [true, false] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (wal, _) = open_std(dir.path(), Config::default());
        let expected = fill(&wal, 5, 100);
        drop(wal);
        let (_, seg) = segment_files(dir.path())[0].clone();
        let mut tail = vec![0u8; FRAME_HEADER_LEN + big + 4096];
        if header_survived {
            tail[..4].copy_from_slice(&(big as u32).to_le_bytes());
            tail[4..8].copy_from_slice(&0xdead_beef_u32.to_le_bytes());
        }
        // Pages of the payload reached the disk, the last one well past the window.
        for page in [1, 100, 300] {
            let at = FRAME_HEADER_LEN + page * 4096;
            tail[at..at + 4096].fill(0x77);
        }
        append_bytes(&seg, &tail);
        match (
            header_survived,
            open(dir.path(), Config::default(), Arc::new(StdFs)),
        ) {
            (true, Ok((_wal, mut rec))) => {
                assert!(rec.torn_tail.is_some());
                let got: Vec<Vec<u8>> = records(&mut rec).into_iter().map(|(_, b)| b).collect();
                assert_eq!(got, expected);
            }
            (false, Err(StorageError::Corrupt { reason, .. })) => {
                assert!(reason.contains("past the"), "{reason}");
            }
            (_, other) => panic!("header {header_survived}: {:?}", other.map(|_| ())),
        }
    }
}

/// However big the batches grow, no more than the window is ever written and unsynced
/// (the log's own bound on what a torn write can reach).
#[test]
fn never_more_than_the_window_is_written_and_unsynced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faulty = FaultyFs::new();
    let fs: Arc<dyn FileSystem> = Arc::new(faulty.clone());
    let (wal, _) = open_with(dir.path(), Config::default(), &fs);
    // Slow fsyncs let appends pile up into batches of several windows.
    faulty.sync_delay(std::time::Duration::from_millis(20));
    let mut last = Lsn(0);
    for i in 0..6_000u64 {
        last = wal.append(&payload(i, 1000)).expect("append");
    }
    wal.wait_durable(last).expect("durable");
    assert!(faulty.max_unsynced_bytes() > 0);
    assert!(
        faulty.max_unsynced_bytes() <= UNSYNCED_WINDOW as u64,
        "{} bytes were unsynced at once",
        faulty.max_unsynced_bytes()
    );
    drop(wal);
    let (_wal, mut rec) = open_with(dir.path(), Config::default(), &fs);
    assert_eq!(records(&mut rec).len(), 6_000);
}
