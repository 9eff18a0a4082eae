//! Fuzz target: arbitrary bytes as ledger operations (see `pitboss::fuzzing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitboss::fuzzing::ledger_ops(data));
