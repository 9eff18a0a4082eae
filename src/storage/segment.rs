//! WAL segment files: their names, their header, the record frame, and checking the bytes
//! of a segment frame by frame.
//!
//! # On-disk format (all integers little-endian)
//!
//! A segment is named `wal-<first_lsn:020>.log` (e.g. `wal-00000000000000000001.log`) and
//! holds records with consecutive LSNs; the record at index `i` has LSN `first_lsn + i`.
//!
//! ```text
//! segment header (24 bytes)
//! +--------+---------------------+-------------------+----------------------+-------------------+
//! | offset | 0                   | 8                 | 12                   | 20                |
//! | field  | magic "PITBWAL\0"   | version: u32 = 1  | first_lsn: u64       | crc32c: u32       |
//! |        | 8 bytes             | 4 bytes           | 8 bytes              | over bytes 0..20  |
//! +--------+---------------------+-------------------+----------------------+-------------------+
//!
//! then zero or more records, back to back, each framed as:
//! +-------------------+--------------------------------------+--------------------+
//! | len: u32          | crc32c: u32                          | payload: len bytes |
//! | payload length    | crc32c(payload ++ lsn as u64 LE)     | opaque to the log  |
//! +-------------------+--------------------------------------+--------------------+
//!   4 bytes             4 bytes                                 0 ..= max_record_len
//! ```
//!
//! The record's LSN is not stored; it is implied by its position. Folding it into the
//! checksum means a record copied to another position (or into another segment) fails its
//! check, as does a frame whose length field is wrong (the checksum then covers the wrong
//! bytes). A segment ends where its last complete record ends: there is no trailer, so a
//! segment can be appended to after a restart.
//!
//! The last segment of a log written with `FsyncPolicy::Always` may be followed by
//! zeros: space the writer preallocated (see the writer module) and has not used yet.
//! A closed log and every segment but the last end at their last record. While zeros
//! follow the records, the bytes written since the last fsync lie within
//! [`UNSYNCED_WINDOW`] bytes of the first of them, or are one record written header
//! first (see the recovery module).

use super::Lsn;

/// The first eight bytes of every segment.
pub const SEGMENT_MAGIC: [u8; 8] = *b"PITBWAL\0";
/// The segment format version this code writes and reads.
pub const SEGMENT_VERSION: u32 = 1;
/// Length of the segment header.
pub const SEGMENT_HEADER_LEN: usize = 24;
/// Length of a record frame's header (`len` + `crc32c`).
pub const FRAME_HEADER_LEN: usize = 8;
/// The most bytes of records the writer has written into preallocated space and not
/// yet fsynced, unless they are a single record longer than this (written header
/// first, see the writer module). Part of the on-disk contract: recovery relies on it.
pub const UNSYNCED_WINDOW: usize = 1 << 20;

/// The file name of the segment whose first record has LSN `first_lsn`.
pub fn segment_file_name(first_lsn: Lsn) -> String {
    format!("wal-{:020}.log", first_lsn.0)
}

/// The first LSN encoded in a segment file name, or `None` if `name` is not one.
pub fn parse_segment_name(name: &str) -> Option<Lsn> {
    parse_numbered_name(name, "wal-", ".log").map(Lsn)
}

/// Parses `<prefix><20 decimal digits><suffix>`, the naming scheme of segments and snapshots.
pub(crate) fn parse_numbered_name(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Reads a little-endian `u32` at `at`, if the bytes are there.
pub(crate) fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// Reads a little-endian `u64` at `at`, if the bytes are there.
pub(crate) fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// The segment header for a segment starting at `first_lsn`.
pub fn encode_header(first_lsn: Lsn) -> [u8; SEGMENT_HEADER_LEN] {
    encode_file_header(&SEGMENT_MAGIC, first_lsn)
}

/// Checks a segment header and returns the first LSN it records.
pub fn decode_header(bytes: &[u8]) -> Result<Lsn, String> {
    decode_file_header(bytes, &SEGMENT_MAGIC, "segment")
}

/// The 24-byte header shared by segments and snapshots:
/// `magic (8) | version u32 = 1 | lsn u64 | crc32c u32 of the previous 20 bytes`.
pub(crate) fn encode_file_header(magic: &[u8; 8], lsn: Lsn) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[0..8].copy_from_slice(magic);
    h[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&lsn.0.to_le_bytes());
    let crc = crc32c::crc32c(&h[0..20]);
    h[20..24].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks a header written by [`encode_file_header`]; `kind` names the file type in errors.
pub(crate) fn decode_file_header(bytes: &[u8], magic: &[u8; 8], kind: &str) -> Result<Lsn, String> {
    let header = bytes
        .get(..SEGMENT_HEADER_LEN)
        .ok_or_else(|| format!("{kind} header truncated ({} bytes)", bytes.len()))?;
    if header[0..8] != magic[..] {
        return Err(format!("bad {kind} magic"));
    }
    let stored = u32_at(header, 20).unwrap_or_default();
    if crc32c::crc32c(&header[0..20]) != stored {
        return Err(format!("{kind} header checksum mismatch"));
    }
    let version = u32_at(header, 8).unwrap_or_default();
    if version != SEGMENT_VERSION {
        return Err(format!("unsupported {kind} format version {version}"));
    }
    Ok(Lsn(u64_at(header, 12).unwrap_or_default()))
}

/// The checksum stored in a record's frame.
pub fn record_crc(payload: &[u8], lsn: Lsn) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(payload), &lsn.0.to_le_bytes())
}

/// Reserves a frame header at the end of `buf` and returns where the frame starts. The
/// payload is then appended to `buf` and the frame finished with [`finish_frame`].
pub fn begin_frame(buf: &mut Vec<u8>) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; FRAME_HEADER_LEN]);
    start
}

/// Writes the payload length into the frame that starts at `start` (everything after its
/// header is its payload) and returns that length. The checksum is left for
/// [`seal_frame`], which the writer thread runs off the appenders' lock.
pub fn finish_frame(buf: &mut [u8], start: usize) -> usize {
    let len = buf.len() - start - FRAME_HEADER_LEN;
    // The caller has checked `len` against the maximum record length, which fits a u32.
    let len32 = u32::try_from(len).unwrap_or(u32::MAX);
    buf[start..start + 4].copy_from_slice(&len32.to_le_bytes());
    len
}

/// Fills in the checksum of the frame at `offset` of a batch, now that its LSN is known
/// to the writer, and returns the frame's total length; `None` means the batch is not a
/// sequence of whole frames (a bug in the framing, never caused by input).
pub fn seal_frame(buf: &mut [u8], offset: usize, lsn: Lsn) -> Option<usize> {
    let len = usize::try_from(u32_at(buf, offset)?).ok()?;
    let payload_start = offset.checked_add(FRAME_HEADER_LEN)?;
    let end = payload_start.checked_add(len)?;
    let crc = record_crc(buf.get(payload_start..end)?, lsn);
    buf.get_mut(offset + 4..offset + 8)?
        .copy_from_slice(&crc.to_le_bytes());
    Some(end - offset)
}

/// Why the frame at some offset is not a good record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadFrame {
    /// Fewer than 8 bytes remain: the frame header itself is cut off.
    TruncatedHeader { available: usize },
    /// The length field exceeds the maximum record length.
    TooLong { len: u32 },
    /// The payload runs past the end of the file.
    TruncatedPayload { len: u32, available: usize },
    /// The checksum does not match the payload and the expected LSN.
    Checksum,
}

impl BadFrame {
    /// A description naming the LSN that was expected at this position.
    pub fn describe(&self, lsn: Lsn) -> String {
        match self {
            BadFrame::TruncatedHeader { available } => {
                format!(
                    "record {} frame header cut off after {available} bytes",
                    lsn.0
                )
            }
            BadFrame::TooLong { len } => format!("record {} has impossible length {len}", lsn.0),
            BadFrame::TruncatedPayload { len, available } => format!(
                "record {} payload of {len} bytes cut off after {available} bytes",
                lsn.0
            ),
            BadFrame::Checksum => format!("record {} checksum mismatch", lsn.0),
        }
    }
}

/// Checks the frame at `offset` against the LSN expected there; on success returns the
/// payload and the offset just past the frame.
pub fn read_frame(
    bytes: &[u8],
    offset: usize,
    lsn: Lsn,
    max_len: u32,
) -> Result<(&[u8], usize), BadFrame> {
    let (payload, end) = frame_at(bytes, offset, max_len)?;
    // `frame_at` found the 8-byte header, so the checksum is there.
    let stored = u32_at(bytes, offset + 4).unwrap_or_default();
    if record_crc(payload, lsn) != stored {
        return Err(BadFrame::Checksum);
    }
    Ok((payload, end))
}

/// The frame at `offset` with its length checked but not its checksum: for bytes whose
/// frames were already checked (see [`extent_crc`]). Returns the payload and the offset
/// just past the frame.
pub fn frame_at(bytes: &[u8], offset: usize, max_len: u32) -> Result<(&[u8], usize), BadFrame> {
    let available = bytes.len().saturating_sub(offset);
    let (Some(len), Some(_)) = (u32_at(bytes, offset), u32_at(bytes, offset + 4)) else {
        return Err(BadFrame::TruncatedHeader { available });
    };
    if len > max_len {
        return Err(BadFrame::TooLong { len });
    }
    let start = offset + FRAME_HEADER_LEN;
    let end = start.saturating_add(len as usize);
    let Some(payload) = bytes.get(start..end) else {
        return Err(BadFrame::TruncatedPayload {
            len,
            available: available - FRAME_HEADER_LEN,
        });
    };
    Ok((payload, end))
}

/// One checksum over the bytes of a segment whose frames [`scan`] checked: reading the
/// segment again, a match shows the bytes are the ones checked, at a cost per byte far
/// below checking each small frame again.
pub fn extent_crc(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// What [`scan`] found in the record area of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// Good records, from the segment's first LSN on.
    pub records: u64,
    /// Offset just past the last good record.
    pub end: usize,
    /// The first bad frame (it starts at `end`), if the good records do not reach the end
    /// of the bytes.
    pub bad: Option<BadFrame>,
}

/// Checks every frame of a segment (`bytes` is the whole file, header included) and stops
/// at the first bad one.
pub fn scan(bytes: &[u8], first_lsn: Lsn, max_len: u32) -> Scan {
    let mut offset = SEGMENT_HEADER_LEN.min(bytes.len());
    let mut records = 0u64;
    while offset < bytes.len() {
        match read_frame(bytes, offset, Lsn(first_lsn.0 + records), max_len) {
            Ok((_, next)) => {
                debug_assert!(next > offset, "a frame always advances the offset");
                offset = next;
                records += 1;
            }
            Err(bad) => {
                return Scan {
                    records,
                    end: offset,
                    bad: Some(bad),
                }
            }
        }
    }
    Scan {
        records,
        end: offset,
        bad: None,
    }
}

/// How many LSNs after a bad frame [`find_later_record`] tries at each position.
pub const RESYNC_LSNS: u64 = 64;
/// Work limit of [`find_later_record`], in bytes checksummed (plus 8 per LSN tried).
pub const RESYNC_BUDGET: u64 = 1 << 30;

/// Result of looking for good records after a bad frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resync {
    /// A checksum-valid frame for `lsn` starts at `offset`.
    Found { offset: usize, lsn: Lsn },
    /// No position after the bad frame holds a valid frame for the LSNs tried.
    NotFound,
    /// The search hit [`RESYNC_BUDGET`] before it could rule good records out.
    GaveUp,
}

/// Searches every byte position after `bad_offset` for a checksum-valid frame carrying
/// one of the LSNs `next_lsn ..= next_lsn + RESYNC_LSNS - 1` (never more than could fit
/// between the bad frame and that position). This is how recovery tells a torn tail
/// (nothing valid follows the damage) from corruption in the middle of the log (good
/// records follow it): see the recovery module.
pub fn find_later_record(bytes: &[u8], bad_offset: usize, next_lsn: Lsn, max_len: u32) -> Resync {
    let mut spent = 0u64;
    let last_start = bytes.len().saturating_sub(FRAME_HEADER_LEN);
    for q in bad_offset + 1..=last_start {
        let (Some(len), Some(stored)) = (u32_at(bytes, q), u32_at(bytes, q + 4)) else {
            break;
        };
        // Zero-filled space (what unwritten blocks read back as) cannot be a frame: a
        // checksum of zero would need a one-in-four-billion payload; skipping it keeps
        // large zeroed tails cheap.
        if (len == 0 && stored == 0) || len > max_len {
            continue;
        }
        let start = q + FRAME_HEADER_LEN;
        let Some(payload) = bytes.get(start..start.saturating_add(len as usize)) else {
            continue;
        };
        // At least one frame header sits between the bad frame and q for each LSN skipped.
        let max_skip = ((q - bad_offset) / FRAME_HEADER_LEN) as u64;
        let tries = RESYNC_LSNS.min(max_skip + 1);
        spent += len as u64 + 8 * tries;
        if spent > RESYNC_BUDGET {
            return Resync::GaveUp;
        }
        let crc = crc32c::crc32c(payload);
        for k in 0..tries {
            let lsn = Lsn(next_lsn.0 + k);
            if crc32c::crc32c_append(crc, &lsn.0.to_le_bytes()) == stored {
                return Resync::Found { offset: q, lsn };
            }
        }
    }
    Resync::NotFound
}

/// What the bytes of a last segment are from its first bad frame on (the rules are
/// the recovery module's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailVerdict {
    /// A write a crash interrupted: cut it off. `zeros`: nothing but zeros.
    Torn { zeros: bool },
    /// Damage that a torn write cannot explain; the text says why, to follow the bad
    /// frame's own description.
    Corrupt(String),
}

/// Judges the bytes of a last segment from the bad frame `bad` at `bad_offset` (where
/// record `bad_lsn` should be) on: a torn tail, or corruption.
pub fn judge_tail(
    bytes: &[u8],
    bad_offset: usize,
    bad: BadFrame,
    bad_lsn: Lsn,
    max_len: u32,
) -> TailVerdict {
    if matches!(bad, BadFrame::TooLong { .. })
        && read_frame(bytes, bad_offset, bad_lsn, u32::MAX).is_ok()
    {
        // A whole, checksum-valid record: not damage but a lowered `max_record_len`.
        return TailVerdict::Corrupt(format!(
            ": the record is intact, so max_record_len ({max_len}) must have been lowered"
        ));
    }
    let after = bytes.get(bad_offset..).unwrap_or_default();
    if after.iter().all(|&b| b == 0) {
        return TailVerdict::Torn { zeros: true };
    }
    if after.len() >= FRAME_HEADER_LEN && after[after.len() - FRAME_HEADER_LEN..] == [0; 8] {
        // Written over preallocated zeros: the unsynced piece is at most the window,
        // or the one record whose header is intact here.
        let claimed = u32_at(after, 0)
            .filter(|&len| len <= max_len)
            .map_or(0, |len| FRAME_HEADER_LEN + len as usize);
        let window = UNSYNCED_WINDOW.max(claimed);
        return match after.iter().rposition(|&b| b != 0) {
            Some(last) if last >= window => TailVerdict::Corrupt(format!(
                ", yet data follows {last} bytes after it, past the {window} bytes a torn write can reach"
            )),
            _ => TailVerdict::Torn { zeros: false },
        };
    }
    match find_later_record(bytes, bad_offset, Lsn(bad_lsn.0 + 1), max_len) {
        Resync::Found { offset, lsn } => TailVerdict::Corrupt(format!(
            ", yet a valid record {} follows at byte {offset}",
            lsn.0
        )),
        Resync::GaveUp => {
            TailVerdict::Corrupt("; could not rule out valid records after it".into())
        }
        Resync::NotFound => TailVerdict::Torn { zeros: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8], lsn: u64) -> Vec<u8> {
        let mut buf = Vec::new();
        let start = begin_frame(&mut buf);
        buf.extend_from_slice(payload);
        finish_frame(&mut buf, start);
        assert_eq!(seal_frame(&mut buf, start, Lsn(lsn)), Some(buf.len()));
        buf
    }

    #[test]
    fn names_round_trip_and_reject_lookalikes() {
        assert_eq!(segment_file_name(Lsn(42)), "wal-00000000000000000042.log");
        assert_eq!(
            parse_segment_name("wal-00000000000000000042.log"),
            Some(Lsn(42))
        );
        assert_eq!(parse_segment_name("wal-42.log"), None);
        assert_eq!(parse_segment_name("wal-0000000000000000004x.log"), None);
        assert_eq!(parse_segment_name("wal-00000000000000000042.log.tmp"), None);
    }

    #[test]
    fn header_round_trips_and_detects_damage() {
        let h = encode_header(Lsn(7));
        assert_eq!(decode_header(&h), Ok(Lsn(7)));
        for i in 0..SEGMENT_HEADER_LEN {
            let mut bad = h;
            bad[i] ^= 0x10;
            assert!(decode_header(&bad).is_err(), "flip at {i} undetected");
        }
        assert!(decode_header(&h[..10]).is_err());
    }

    /// A segment of records 1..=3 (payloads of `len` bytes), then `tail`; the bad
    /// frame is where record 4 should start.
    fn judged(len: usize, tail: &[u8]) -> TailVerdict {
        let mut bytes = encode_header(Lsn(1)).to_vec();
        for lsn in 1..=3 {
            bytes.extend(frame(&vec![lsn as u8; len], lsn));
        }
        let end = bytes.len();
        bytes.extend_from_slice(tail);
        let found = scan(&bytes, Lsn(1), 1 << 24);
        assert_eq!((found.records, found.end), (3, end));
        judge_tail(
            &bytes,
            end,
            found.bad.expect("a bad frame"),
            Lsn(4),
            1 << 24,
        )
    }

    #[test]
    fn a_tail_is_torn_or_corrupt_by_what_follows_the_bad_frame() {
        let record4 = frame(&[4; 100], 4);
        let record5 = frame(&[5; 100], 5);
        let torn_record4 = {
            let mut f = record4.clone();
            f[50] ^= 1;
            f
        };
        // Appended (no zeros at the end): any valid record after the damage is corruption.
        assert_eq!(
            judged(10, &record4[..60]),
            TailVerdict::Torn { zeros: false }
        );
        let mut bytes = torn_record4.clone();
        bytes.extend(&record5);
        assert!(
            matches!(judged(10, &bytes), TailVerdict::Corrupt(why) if why.contains("record 5"))
        );
        // Only zeros: preallocated space, or a write that never reached the disk.
        assert_eq!(judged(10, &[0; 5000]), TailVerdict::Torn { zeros: true });
        // Over zeros, a valid record after the damage is within the unsynced window:
        // pages of one piece land in any order.
        let mut bytes = torn_record4.clone();
        bytes.extend(&record5);
        bytes.extend([0; 4096]);
        assert_eq!(judged(10, &bytes), TailVerdict::Torn { zeros: false });
        // Data past the window is not a torn write.
        let mut bytes = torn_record4;
        bytes.resize(UNSYNCED_WINDOW + 1, 0);
        bytes.push(1);
        bytes.extend([0; 8]);
        assert!(
            matches!(judged(10, &bytes), TailVerdict::Corrupt(why) if why.contains("past the"))
        );
        // A record over a lowered maximum length is intact, not torn.
        let mut bytes = encode_header(Lsn(1)).to_vec();
        bytes.extend(frame(&[9; 300], 1));
        let found = scan(&bytes, Lsn(1), 200);
        let bad = found.bad.expect("too long");
        assert!(matches!(
            judge_tail(&bytes, found.end, bad, Lsn(1), 200),
            TailVerdict::Corrupt(why) if why.contains("lowered")
        ));
    }

    #[test]
    fn frame_checksum_binds_the_lsn() {
        let f = frame(b"hello", 5);
        assert_eq!(read_frame(&f, 0, Lsn(5), 100), Ok((&b"hello"[..], f.len())));
        assert_eq!(read_frame(&f, 0, Lsn(6), 100), Err(BadFrame::Checksum));
        assert_eq!(
            read_frame(&f, 0, Lsn(5), 4),
            Err(BadFrame::TooLong { len: 5 })
        );
        assert!(matches!(
            read_frame(&f[..10], 0, Lsn(5), 100),
            Err(BadFrame::TruncatedPayload {
                len: 5,
                available: 2
            })
        ));
        assert!(matches!(
            read_frame(&f[..3], 0, Lsn(5), 100),
            Err(BadFrame::TruncatedHeader { available: 3 })
        ));
    }

    #[test]
    fn resync_finds_records_after_damage_and_nothing_in_a_torn_tail() {
        let mut seg = encode_header(Lsn(1)).to_vec();
        for lsn in 1..=4 {
            seg.extend(frame(&[lsn as u8; 30], lsn));
        }
        let second = SEGMENT_HEADER_LEN + 38;
        let mut damaged = seg.clone();
        damaged[second + 1] ^= 0xff; // length field of record 2
        let s = scan(&damaged, Lsn(1), 1 << 20);
        assert_eq!((s.records, s.end), (1, second));
        assert_eq!(
            find_later_record(&damaged, second, Lsn(3), 1 << 20),
            Resync::Found {
                offset: second + 38,
                lsn: Lsn(3)
            }
        );
        let torn = &seg[..seg.len() - 5];
        let s = scan(torn, Lsn(1), 1 << 20);
        assert_eq!(s.records, 3);
        assert_eq!(
            find_later_record(torn, s.end, Lsn(5), 1 << 20),
            Resync::NotFound
        );
    }
}
