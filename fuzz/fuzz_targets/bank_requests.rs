//! Fuzz target: arbitrary bytes as bank wallet API requests, through parsing, the
//! signature, exact decimals and the engine (see `pitboss::fuzzing::bank_requests`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitboss::fuzzing::bank_requests(data));
