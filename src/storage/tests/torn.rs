//! Torn tails: whatever a crash in the middle of the last write leaves is cut off, what
//! came before is kept, and appends continue from the cut.

use std::fs::OpenOptions;
use std::io::Write;

use super::super::FaultyFs;
use super::*;

/// Copies the files of `from` into the fresh directory `to`.
fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

fn set_len(path: &Path, len: u64) {
    let file = OpenOptions::new().write(true).open(path).expect("open");
    file.set_len(len).expect("set_len");
}

#[test]
fn cut_at_every_offset_of_the_last_record_keeps_the_rest_and_appends_continue() {
    let pristine = tempfile::tempdir().expect("tempdir");
    let lens = [30usize, 0, 55, 12, 40];
    let (wal, _) = open_std(pristine.path(), Config::default());
    let payloads: Vec<Vec<u8>> = lens
        .iter()
        .enumerate()
        .map(|(i, &n)| payload(i as u64, n))
        .collect();
    for p in &payloads {
        wal.append(p).expect("append");
    }
    drop(wal);
    let offsets = frame_offsets(&lens);
    let last_start = offsets[4] as u64;
    let last_end = last_start + (FRAME_HEADER_LEN + lens[4]) as u64;
    let name = crate::storage::segment::segment_file_name(Lsn(1));

    for cut in last_start..last_end {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(pristine.path(), dir.path());
        let seg = dir.path().join(&name);
        set_len(&seg, cut);
        let (wal, mut rec) = open_std(dir.path(), Config::default());
        let got = records(&mut rec);
        assert_eq!(got.len(), 4, "cut at {cut}");
        for (i, (lsn, bytes)) in got.iter().enumerate() {
            assert_eq!((*lsn, bytes), (Lsn(i as u64 + 1), &payloads[i]));
        }
        match &rec.torn_tail {
            None => assert_eq!(cut, last_start, "a cut at a frame boundary is no torn tail"),
            Some(torn) => {
                assert_eq!(
                    (torn.offset, torn.dropped_bytes),
                    (last_start, cut - last_start)
                );
                assert_eq!(torn.file, seg);
            }
        }
        assert_eq!(std::fs::metadata(&seg).expect("stat").len(), last_start);
        assert_eq!(wal.append(b"after the cut").expect("append"), Lsn(5));
        drop(wal);
        let (_wal, mut rec) = open_std(dir.path(), Config::default());
        assert!(rec.torn_tail.is_none());
        let got = records(&mut rec);
        assert_eq!(got.len(), 5);
        assert_eq!(got[4], (Lsn(5), b"after the cut".to_vec()));
    }
}

#[test]
fn zeros_or_a_bad_final_frame_at_the_end_are_a_torn_tail() {
    for garbage in [
        vec![0u8; 3000],
        vec![7, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9, 9, 9, 9],
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (wal, _) = open_std(dir.path(), Config::default());
        let expected = fill(&wal, 10, 50);
        drop(wal);
        let seg = &segment_files(dir.path())[0].1;
        let good_len = std::fs::metadata(seg).expect("stat").len();
        let mut file = OpenOptions::new().append(true).open(seg).expect("open");
        file.write_all(&garbage).expect("write");
        drop(file);
        let (_wal, mut rec) = open_std(dir.path(), Config::default());
        let torn = rec.torn_tail.clone().expect("torn tail reported");
        assert_eq!(
            (torn.offset, torn.dropped_bytes),
            (good_len, garbage.len() as u64)
        );
        let got: Vec<Vec<u8>> = records(&mut rec).into_iter().map(|(_, b)| b).collect();
        assert_eq!(got, expected);
    }
}

#[test]
fn a_segment_torn_while_being_created_is_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open_std(dir.path(), Config::default());
    let expected = fill(&wal, 5, 50);
    drop(wal);
    // A crash right after the writer created the next segment, mid-header.
    let next = dir
        .path()
        .join(crate::storage::segment::segment_file_name(Lsn(6)));
    let header = crate::storage::segment::encode_header(Lsn(6));
    std::fs::write(&next, &header[..10]).expect("write");
    let (wal, mut rec) = open_std(dir.path(), Config::default());
    assert_eq!(
        rec.torn_tail.as_ref().map(|t| (&t.file, t.offset)),
        Some((&next, 0))
    );
    assert_eq!(records(&mut rec).len(), 5);
    assert_eq!(wal.append(b"six").expect("append"), Lsn(6));
    drop(wal);
    let (_wal, mut rec) = open_std(dir.path(), Config::default());
    let got = records(&mut rec);
    assert_eq!(got.len(), 6);
    assert_eq!(
        got[..5].iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
        expected
    );
}

#[test]
fn a_torn_write_fails_the_log_and_recovery_cuts_it_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faulty = FaultyFs::new();
    let fs: Arc<dyn FileSystem> = Arc::new(faulty.clone());
    let (wal, _) = open_with(dir.path(), Config::default(), &fs);
    let expected = fill(&wal, 20, 100);
    faulty.tear_nth_write(1, 13);
    let lsn = wal
        .append(&payload(99, 500))
        .expect("append is only buffered");
    assert!(matches!(
        wal.wait_durable(lsn),
        Err(StorageError::Failed { .. })
    ));
    assert_eq!(wal.durable_lsn(), Lsn(20));
    drop(wal);
    faulty.clear_faults();
    let seg = segment_files(dir.path())[0].1.clone();
    let len = std::fs::metadata(&seg).expect("stat").len();
    let (wal, mut rec) = open_with(dir.path(), Config::default(), &fs);
    // The 13 bytes written over preallocated zeros, and the zeros after them.
    let torn = rec.torn_tail.clone().expect("torn tail");
    assert_eq!(torn.offset + torn.dropped_bytes, len);
    let kept = std::fs::read(&seg).expect("read");
    assert_eq!(kept.len() as u64, torn.offset);
    let got: Vec<Vec<u8>> = records(&mut rec).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got, expected);
    assert_eq!(wal.append(b"again").expect("append"), Lsn(21));
}
