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
use crate::catalog::CatalogSnapshot;
use crate::identity::IdentitySnapshot;
use crate::journal::Lsn;
use crate::leaderboard::TournamentsSnapshot;
use crate::ledger::records::GameRecord;
use crate::ledger::snapshot::Counters;
use crate::ledger::wallet::Wallet;
use serde::{Deserialize, Serialize};
use std::io::{self, BufWriter, Read, Write};

/// The snapshot body's own format version (the file header has the storage layer's).
pub const SNAPSHOT_FORMAT: u32 = 1;

/// Largest section accepted on read: a corrupt length must not allocate the machine.
const MAX_SECTION_LEN: u32 = 256 << 20;

/// Variants are only ever added at the end: their index is part of the format.
#[derive(Serialize, Deserialize)]
enum Section {
    Header { format: u32, counters: Counters },
    Wallets(Vec<Wallet>),
    Records(Vec<GameRecord>),
    End,
    Tournaments(TournamentsSnapshot),
    Catalog(CatalogSnapshot),
    Identity(IdentitySnapshot),
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
    write_section(&mut out, &Section::Catalog(catalog.export()))?;
    write_section(&mut out, &Section::Identity(identity.export()))?;
    write_section(&mut out, &Section::End)?;
    out.flush().map_err(|e| bad(e.to_string()))
}

fn read_section(input: &mut impl Read, buf: &mut Vec<u8>) -> Result<Section, EngineError> {
    let io = |e: io::Error| bad(e.to_string());
    let mut len = [0u8; 4];
    input.read_exact(&mut len).map_err(io)?;
    let len = u32::from_le_bytes(len);
    if len > MAX_SECTION_LEN {
        return Err(bad(format!("section of {len} bytes")));
    }
    buf.resize(len as usize, 0);
    input.read_exact(buf).map_err(io)?;
    postcard::from_bytes(buf).map_err(|e| bad(e.to_string()))
}

/// Loads a snapshot into an empty ledger.
pub(crate) fn read(domains: &Domains, input: impl Read, lsn: Lsn) -> Result<(), EngineError> {
    let Domains {
        ledger,
        tournaments,
        catalog,
        identity,
    } = domains;
    let mut input = io::BufReader::with_capacity(1 << 20, input);
    let mut buf = Vec::new();
    match read_section(&mut input, &mut buf)? {
        Section::Header {
            format: SNAPSHOT_FORMAT,
            counters,
        } => ledger.restore_counters(counters),
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
    loop {
        match read_section(&mut input, &mut buf)? {
            Section::Wallets(ws) => ledger.import_wallets(ws),
            Section::Records(rs) => ledger.import_records(rs),
            Section::Tournaments(t) => tournaments.import(t),
            Section::Catalog(c) => catalog.import(c),
            Section::Identity(i) => identity.import(i),
            Section::End => return Ok(()),
            Section::Header { .. } => return Err(bad("a second header")),
        }
    }
}
