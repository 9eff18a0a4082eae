//! A short fuzz run that needs no nightly toolchain: the fuzz entry points get random
//! bytes from proptest, plus every input committed under `fuzz/regressions/`.

use proptest::prelude::*;
use std::path::Path;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn ledger_ops_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        pitboss::fuzzing::ledger_ops(&data);
    }
}

#[test]
fn committed_fuzz_inputs_replay_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/ledger_ops");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let data = std::fs::read(entry.path()).expect("read regression input");
        pitboss::fuzzing::ledger_ops(&data);
    }
}
