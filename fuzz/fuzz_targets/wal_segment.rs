//! Fuzz target: arbitrary bytes through one of the engine's decoders of what it
//! reads back from disk (see `pitboss::fuzzing::wal_segment`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitboss::fuzzing::wal_segment(data));
