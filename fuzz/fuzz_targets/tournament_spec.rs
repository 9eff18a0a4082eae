//! Fuzz target: arbitrary bytes as a tournament spec, through the server's parser,
//! validation and the engine (see `pitboss::fuzzing::tournament_spec`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitboss::fuzzing::tournament_spec(data));
