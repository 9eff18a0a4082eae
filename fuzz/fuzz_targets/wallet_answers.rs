//! Fuzz target: arbitrary bytes as an operator's wallet's answer to each kind of
//! seamless call, in both dialects (see `pitboss::fuzzing::wallet_answers`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitboss::fuzzing::wallet_answers(data));
