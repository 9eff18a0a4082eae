//! Disk errors through `FaultyFs`: the log fails closed, never acknowledges what was not
//! synced, and what it did acknowledge survives a crash.

use std::io;

use super::super::FaultyFs;
use super::*;

fn faulty_log(dir: &Path, config: Config) -> (FaultyFs, Arc<dyn FileSystem>, Wal) {
    let faulty = FaultyFs::new();
    let fs: Arc<dyn FileSystem> = Arc::new(faulty.clone());
    let (wal, _) = open_with(dir, config, &fs);
    (faulty, fs, wal)
}

/// The failed state, as every caller sees it afterwards.
fn assert_failed(wal: &Wal, durable: Lsn, lsn: Lsn) {
    assert!(matches!(
        wal.wait_durable(lsn),
        Err(StorageError::Failed { .. })
    ));
    assert!(matches!(
        block_on(wal.durable(lsn)),
        Err(StorageError::Failed { .. })
    ));
    assert!(matches!(wal.flush(), Err(StorageError::Failed { .. })));
    assert_eq!(wal.durable_lsn(), durable, "the durable LSN did not move");
    let later = wal.append(b"later");
    assert!(
        matches!(later, Err(StorageError::Failed { .. })),
        "{later:?}"
    );
    assert!(wal.failure().is_some());
    assert!(wal.close().is_err());
    // What was durable before stays answered as durable.
    wal.wait_durable(durable)
        .expect("earlier LSNs stay durable");
}

#[test]
fn a_failed_fsync_fails_the_waiter_and_every_later_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (faulty, _fs, wal) = faulty_log(dir.path(), Config::default());
    fill(&wal, 10, 50);
    faulty.fail_syncs(true);
    let lsn = wal
        .append(b"never acknowledged")
        .expect("append is only buffered");
    assert_failed(&wal, Lsn(10), lsn);
}

/// Appending (the policy is not `Always`), a write runs out of space half way.
#[test]
fn disk_full_fails_the_log_and_recovery_keeps_what_was_synced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        fsync: FsyncPolicy::Interval(std::time::Duration::from_millis(1)),
        ..Config::default()
    };
    let (faulty, fs, wal) = faulty_log(dir.path(), config);
    let expected = fill(&wal, 10, 50);
    faulty.enospc_after(100);
    let lsn = wal
        .append(&payload(7, 400))
        .expect("append is only buffered");
    assert_failed(&wal, Lsn(10), lsn);
    let Some(StorageError::Failed { cause }) = wal.failure() else {
        panic!("not failed");
    };
    match &*cause {
        StorageError::Io { source, .. } => assert_eq!(source.kind(), io::ErrorKind::StorageFull),
        other => panic!("cause {other}"),
    }
    drop(wal);
    faulty.clear_faults();
    let (_wal, mut rec) = open_with(dir.path(), Config::default(), &fs);
    assert_eq!(rec.torn_tail.as_ref().map(|t| t.dropped_bytes), Some(100));
    let got: Vec<Vec<u8>> = records(&mut rec).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got, expected);
}

/// Preallocating (`Always`), records go into space the file already owns, so the disk
/// fills up when the writer extends that space: nothing of the record is written.
#[test]
fn disk_full_while_preallocating_fails_the_log_before_the_record_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (faulty, fs, wal) = faulty_log(dir.path(), Config::default());
    let expected = fill(&wal, 10, 50);
    faulty.enospc_after(100);
    // Fits the space preallocated after the first records: written, no space taken.
    let fits = wal.append(&payload(7, 400)).expect("append");
    wal.wait_durable(fits)
        .expect("written over preallocated zeros");
    // Needs more than the writer keeps ahead: the extension does not fit.
    let lsn = wal
        .append(&payload(8, PREALLOCATE_BYTES as usize + 1))
        .expect("append is only buffered");
    assert_failed(&wal, fits, lsn);
    drop(wal);
    faulty.clear_faults();
    let (_wal, mut rec) = open_with(dir.path(), Config::default(), &fs);
    let torn = rec
        .torn_tail
        .clone()
        .expect("the preallocated zeros are cut off");
    assert!(torn.reason.contains("only zeros"), "{}", torn.reason);
    let got: Vec<Vec<u8>> = records(&mut rec).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got[..10], expected[..]);
    assert_eq!(got[10], payload(7, 400));
    assert_eq!(got.len(), 11);
}

#[test]
fn a_failed_write_fails_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (faulty, _fs, wal) = faulty_log(dir.path(), Config::default());
    fill(&wal, 3, 50);
    faulty.fail_nth_write(1);
    let lsn = wal.append(b"lost").expect("append is only buffered");
    assert_failed(&wal, Lsn(3), lsn);
}

#[test]
fn a_failure_while_rolling_to_a_new_segment_fails_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (faulty, fs, wal) = faulty_log(dir.path(), small(200));
    let expected = fill(&wal, 2, 60);
    // The next record does not fit: the roll syncs the old segment, and that fails.
    faulty.fail_syncs(true);
    let lsn = wal
        .append(&payload(1, 150))
        .expect("append is only buffered");
    assert_failed(&wal, Lsn(2), lsn);
    drop(wal);
    faulty.clear_faults();
    let (_wal, mut rec) = open_with(dir.path(), small(200), &fs);
    let got: Vec<Vec<u8>> = records(&mut rec).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got, expected);
}

#[test]
fn short_writes_are_retried_transparently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (faulty, fs, wal) = faulty_log(dir.path(), small(2048));
    faulty.short_writes(7);
    let expected = fill(&wal, 50, 300);
    drop(wal);
    let (_wal, mut rec) = open_with(dir.path(), small(2048), &fs);
    let got: Vec<Vec<u8>> = records(&mut rec).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got, expected);
}

#[test]
fn a_crash_keeps_every_acknowledged_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (faulty, fs, wal) = faulty_log(dir.path(), small(4096));
    let acknowledged = fill(&wal, 200, 100);
    // From here on data reaches the page cache but no fsync succeeds; then power is cut.
    faulty.fail_syncs(true);
    for i in 0..50 {
        let _ = wal.append(&payload(1000 + i, 100));
    }
    let _ = wal.flush();
    drop(wal);
    faulty.clear_faults();
    faulty.lose_unsynced_data().expect("crash");
    let (_wal, mut rec) = open_with(dir.path(), small(4096), &fs);
    let got: Vec<Vec<u8>> = records(&mut rec).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got, acknowledged);
}

/// A fuzzy snapshot's body may hold the effects of records appended while it was
/// being written: it is committed only once those are durable too, so a record the
/// log fails to make durable leaves no snapshot behind that would restore its effect.
#[test]
fn a_snapshot_waits_for_the_records_appended_while_it_was_written() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let (faulty, _fs, wal) = faulty_log(dir.path(), Config::default());
    fill(&wal, 5, 50);
    wal.wait_durable(Lsn(5)).expect("durable");
    let mut writer = wal.begin_snapshot(Lsn(5)).expect("begin");
    writer
        .write_all(b"state copied after record 6 was applied")
        .expect("write");
    faulty.fail_nth_write(1);
    let lsn = wal
        .append(b"copied into the snapshot, never durable")
        .expect("append is only buffered");
    assert!(wal.wait_durable(lsn).is_err(), "the log failed");
    faulty.clear_faults();
    let committed = writer.commit();
    assert!(committed.is_err(), "{committed:?}");
    let name = crate::storage::snapshot_file::snapshot_file_name(Lsn(5));
    assert!(!dir.path().join(name).exists(), "no snapshot was committed");
}
