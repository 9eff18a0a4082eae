//! Fuzz target: the webhook outbox under arbitrary operations, then replayed from its
//! log with derived events applied late (see `pitboss::fuzzing::webhook_outbox`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pitboss::fuzzing::webhook_outbox(data));
