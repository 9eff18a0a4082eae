//! How many threads can run at once, read once per process: the standard library
//! reads the cgroup files on every call, which costs more than the work it sizes
//! when small engines are built often (tests, fuzz targets).

use std::num::NonZeroUsize;
use std::sync::OnceLock;

/// [`std::thread::available_parallelism`], cached; `None` when it cannot be known
/// (each caller picks its own fallback).
pub(crate) fn available() -> Option<usize> {
    static CORES: OnceLock<Option<usize>> = OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .ok()
            .map(NonZeroUsize::get)
    })
}
