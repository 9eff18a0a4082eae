//! Fuzz target: arbitrary bytes as platform API requests through the server's
//! routing and every endpoint's body parsing (see `pitboss::fuzzing::platform_requests`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitboss::fuzzing::platform_requests(data));
