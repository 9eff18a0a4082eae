//! Fuzz target: the deterministic simulator with its choices read from the fuzzer's
//! bytes instead of a seeded generator (see `pitboss::fuzzing::simulation`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitboss::fuzzing::simulation(data));
