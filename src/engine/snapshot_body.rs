//! Snapshot files: the engine's whole state as a sequence of sections, each a
//! length-prefixed postcard value, written while writes go on (a fuzzy snapshot: see
//! `ledger::snapshot` for why that is correct).
//!
//! Body format (inside the storage layer's header and checksummed trailer):
//! ```text
//! { len: u32 LE | postcard(Section) }*   ending with Section::End
//! ```
//! The first section is `Header`; sections of one kind may repeat (one per shard).

use super::domains::Domains;
use super::EngineError;
use crate::catalog::currency::CurrencySpec;
use crate::catalog::CatalogSnapshot;
use crate::identity::types::RemoteWallet;
use crate::identity::IdentitySnapshot;
use crate::ids::ClientId;
use crate::journal::Lsn;
use crate::ledger::export::Counters;
use crate::ledger::records::GameRecord;
use crate::ledger::wallet::Wallet;
use crate::seamless::SeamlessExport;
use crate::tournaments::{BindRecord, BindTime, RoundHistories, TournamentsSnapshot};
use crate::webhooks::WebhooksExport;
use serde::{Deserialize, Serialize};
use std::io::{self, BufWriter, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// The snapshot body's own format version (the file header has the storage layer's).
pub const SNAPSHOT_FORMAT: u32 = 1;

/// Largest section accepted on read: a corrupt length must not allocate the machine.
const MAX_SECTION_LEN: u32 = 256 << 20;

/// Variants are only ever added at the end: their index is part of the format.
#[derive(Serialize, Deserialize)]
enum Section {
    Header {
        format: u32,
        counters: Counters,
    },
    Wallets(Vec<Wallet>),
    Records(Vec<GameRecord>),
    End,
    Tournaments(TournamentsSnapshot),
    Catalog(CatalogSnapshot),
    Identity(IdentitySnapshot),
    /// Registered currencies (added after format 1's first fixtures: a snapshot
    /// without this section holds the default currencies only).
    Currencies(Vec<CurrencySpec>),
    /// Seamless operators' remote wallets (likewise added later: none without it).
    RemoteWallets(Vec<(ClientId, RemoteWallet)>),
    /// Unfinished calls to operators' wallets (likewise added later: none without it).
    SeamlessCalls(SeamlessExport),
    /// Webhook subscriptions and their outbox (likewise added later: none without it).
    /// Written after the ledger and tournament sections: once those have locked every
    /// shard and tournament, every event of a record at or below P has been queued.
    Webhooks(WebhooksExport),
    /// Players' score steps per tournament round (likewise added later: none without
    /// it). Written after `Tournaments`, whose rounds it fills in.
    ScoreHistories(Vec<RoundHistories>),
    /// When each bound game was bound (likewise added later: without it, bound
    /// since ever). Written after `Tournaments`.
    BindTimes(Vec<BindTime>),
    /// The first game record after each bind (likewise added later: without it, binds
    /// are told apart from records by time only). Written after `Tournaments`.
    BindRecords(Vec<BindRecord>),
}

fn bad(reason: impl Into<String>) -> EngineError {
    EngineError::Storage(format!("snapshot: {}", reason.into()))
}

fn write_section(out: &mut impl Write, section: &Section) -> Result<(), EngineError> {
    let bytes = postcard::to_stdvec(section).map_err(|e| bad(e.to_string()))?;
    let len = u32::try_from(bytes.len()).map_err(|_| bad("section too large"))?;
    let io = |e: io::Error| bad(e.to_string());
    out.write_all(&len.to_le_bytes()).map_err(io)?;
    out.write_all(&bytes).map_err(io)
}

/// Writes the ledger's state to `out`. The caller read the log position `P` the
/// snapshot covers *before* calling this.
pub(crate) fn write(domains: &Domains, out: impl Write) -> Result<(), EngineError> {
    // Exhaustive on purpose: a domain added to `Domains` fails to compile here until
    // its state is in the snapshot.
    let Domains {
        ledger,
        tournaments,
        catalog,
        identity,
        seamless,
        webhooks,
    } = domains;
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let counters = ledger.counters();
    write_section(
        &mut out,
        &Section::Header {
            format: SNAPSHOT_FORMAT,
            counters,
        },
    )?;
    ledger.export_wallets(|ws| write_section(&mut out, &Section::Wallets(ws)))?;
    // Records after wallets: once every shard has been locked once, every effect at or
    // below P has been applied in full, records included.
    ledger.export_records(|rs| write_section(&mut out, &Section::Records(rs)))?;
    write_section(&mut out, &Section::Tournaments(tournaments.export()))?;
    write_section(
        &mut out,
        &Section::ScoreHistories(tournaments.export_histories()),
    )?;
    write_section(
        &mut out,
        &Section::BindTimes(tournaments.export_bind_times()),
    )?;
    write_section(
        &mut out,
        &Section::BindRecords(tournaments.export_bind_records()),
    )?;
    write_section(&mut out, &Section::Catalog(catalog.export()))?;
    write_section(&mut out, &Section::Identity(identity.export()))?;
    write_section(&mut out, &Section::Currencies(catalog.currencies()))?;
    write_section(
        &mut out,
        &Section::RemoteWallets(identity.export_remote_wallets()),
    )?;
    write_section(&mut out, &Section::SeamlessCalls(seamless.export()))?;
    write_section(&mut out, &Section::Webhooks(webhooks.export()))?;
    write_section(&mut out, &Section::End)?;
    out.flush().map_err(|e| bad(e.to_string()))
}

/// Reads one section's bytes (without decoding them) into `buf`.
fn read_section_bytes(input: &mut impl Read, buf: &mut Vec<u8>) -> Result<(), EngineError> {
    let io = |e: io::Error| bad(e.to_string());
    let mut len = [0u8; 4];
    input.read_exact(&mut len).map_err(io)?;
    let len = u32::from_le_bytes(len);
    if len > MAX_SECTION_LEN {
        return Err(bad(format!("section of {len} bytes")));
    }
    // Read what is there rather than zero `len` bytes first: a corrupt length must
    // not cost a 256 MiB allocation before the short read is noticed.
    buf.clear();
    buf.reserve((len as usize).min(1 << 20));
    input
        .by_ref()
        .take(u64::from(len))
        .read_to_end(buf)
        .map_err(io)?;
    if buf.len() != len as usize {
        return Err(bad(format!(
            "section of {len} bytes cut short after {}",
            buf.len()
        )));
    }
    Ok(())
}

fn decode_section(bytes: &[u8]) -> Result<Section, EngineError> {
    postcard::from_bytes(bytes).map_err(|e| bad(e.to_string()))
}

/// The variant index a section's bytes start with (postcard writes an enum's variant
/// index first, as a varint), read without decoding the rest.
fn section_tag(bytes: &[u8]) -> Result<u32, EngineError> {
    postcard::take_from_bytes::<u32>(bytes)
        .map(|(tag, _)| tag)
        .map_err(|e| bad(e.to_string()))
}

/// Variant indexes of `Section` (part of the format, pinned by a test).
const WALLETS_TAG: u32 = 1;
const RECORDS_TAG: u32 = 2;

/// Most threads that decode wallet and record sections at once.
const MAX_DECODERS: usize = 8;
/// Sections read ahead per decoder.
const QUEUED_SECTIONS: usize = 2;

/// Loads a snapshot into an empty ledger.
///
/// Decoding is most of the work, and wallet and record sections are independent of
/// each other (each holds whole wallets, or records by id), so this thread reads the
/// file and hands those sections to one decoder per core; the few other sections it
/// decodes and imports itself, in file order.
pub(crate) fn read(domains: &Domains, input: impl Read, lsn: Lsn) -> Result<(), EngineError> {
    let mut input = io::BufReader::with_capacity(1 << 20, input);
    let mut buf = Vec::new();
    read_section_bytes(&mut input, &mut buf)?;
    match decode_section(&buf)? {
        Section::Header {
            format: SNAPSHOT_FORMAT,
            counters,
        } => domains.ledger.restore_counters(counters),
        Section::Header { format, .. } => {
            return Err(bad(format!("format {format} is not {SNAPSHOT_FORMAT}")))
        }
        _ => {
            return Err(bad(format!(
                "snapshot {} does not start with a header",
                lsn.0
            )))
        }
    }
    let decoders = crate::cores::available().unwrap_or(1).min(MAX_DECODERS);
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let mut queues = Vec::with_capacity(decoders);
        let mut workers = Vec::with_capacity(decoders);
        for i in 0..decoders {
            let (queue, work) = sync_channel::<Vec<u8>>(QUEUED_SECTIONS);
            let failed = &failed;
            let spawned = std::thread::Builder::new()
                .name(format!("pitboss-snapshot-{i}"))
                .spawn_scoped(scope, move || decode_sections(domains, work, failed));
            // Without threads the sections are decoded here (`queues` stays empty).
            let Ok(worker) = spawned else { break };
            queues.push(queue);
            workers.push(worker);
        }
        let read = read_body(domains, &mut input, &queues, &failed);
        drop(queues); // the decoders finish what is queued and return
        let mut first_error = read.err();
        for worker in workers {
            let outcome = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            if let Err(e) = outcome {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    })
}

/// Reads the sections after the header up to `End`, sending wallet and record
/// sections to `queues` (or importing them here when there are none).
fn read_body(
    domains: &Domains,
    input: &mut impl Read,
    queues: &[SyncSender<Vec<u8>>],
    failed: &AtomicBool,
) -> Result<(), EngineError> {
    let mut next = 0usize;
    loop {
        if failed.load(Ordering::Acquire) {
            // A decoder's error is the one reported.
            return Ok(());
        }
        let mut bytes = Vec::new();
        read_section_bytes(input, &mut bytes)?;
        let tag = section_tag(&bytes)?;
        if let (Some(last), true) = (queues.last(), tag == WALLETS_TAG || tag == RECORDS_TAG) {
            // Record sections come a stripe at a time in id order; imported by two
            // threads at once, one's ids would land in the middle of the other's
            // (each a shift of the stripe's index). One decoder takes them all, in
            // file order; wallet sections (one shard each) go round robin.
            let queue = if tag == RECORDS_TAG {
                last
            } else {
                next = next.wrapping_add(1);
                &queues[next % queues.len()]
            };
            // Fails only if the decoder is gone (it panicked): its join reports that.
            if queue.send(bytes).is_err() {
                return Ok(());
            }
            continue;
        }
        match decode_section(&bytes)? {
            Section::Wallets(ws) => domains.ledger.import_wallets(ws),
            Section::Records(rs) => domains.ledger.import_records(rs),
            Section::Tournaments(t) => domains.tournaments.import(t),
            Section::Catalog(c) => domains.catalog.import(c),
            Section::Identity(i) => domains.identity.import(i),
            Section::Currencies(c) => domains.catalog.import_currencies(c),
            Section::RemoteWallets(w) => domains.identity.import_remote_wallets(w),
            Section::SeamlessCalls(c) => domains.seamless.import(c),
            Section::Webhooks(w) => domains.webhooks.import(w),
            Section::ScoreHistories(h) => domains.tournaments.import_histories(h),
            Section::BindTimes(b) => domains.tournaments.import_bind_times(b),
            Section::BindRecords(b) => domains.tournaments.import_bind_records(b),
            Section::End => return Ok(()),
            Section::Header { .. } => return Err(bad("a second header")),
        }
    }
}

/// A decoder: decodes and imports the wallet and record sections it is sent.
fn decode_sections(
    domains: &Domains,
    work: Receiver<Vec<u8>>,
    failed: &AtomicBool,
) -> Result<(), EngineError> {
    let mut outcome = Ok(());
    for bytes in work {
        // After an error, keep draining so that the reader never waits on this queue.
        if outcome.is_err() {
            continue;
        }
        match decode_section(&bytes) {
            Ok(Section::Wallets(ws)) => domains.ledger.import_wallets(ws),
            Ok(Section::Records(rs)) => domains.ledger.import_records(rs),
            Ok(_) => outcome = Err(bad("a section tagged as wallets or records is not")),
            Err(e) => outcome = Err(e),
        }
        if outcome.is_err() {
            failed.store(true, Ordering::Release);
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `read` routes sections by their variant index without decoding them: the
    /// indexes it relies on are these.
    #[test]
    fn section_tags_are_the_variant_indexes() {
        let tag = |s: &Section| section_tag(&postcard::to_stdvec(s).expect("encode")).expect("tag");
        assert_eq!(tag(&Section::Wallets(Vec::new())), WALLETS_TAG);
        assert_eq!(tag(&Section::Records(Vec::new())), RECORDS_TAG);
        assert_ne!(tag(&Section::End), WALLETS_TAG);
        assert_ne!(tag(&Section::End), RECORDS_TAG);
    }
}
