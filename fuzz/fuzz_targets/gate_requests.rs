//! Fuzz target: arbitrary bytes as gate wallet API requests, through parsing, the
//! signature and the engine (see `pitboss::fuzzing::gate_requests`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitboss::fuzzing::gate_requests(data));
