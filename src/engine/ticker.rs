//! A background thread that runs a step at every tick until it is stopped: the
//! snapshotter and the history archiver are each one.

use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The thread and the flag that stops it. Stopping (or dropping) wakes the thread
/// at once and waits for the step in progress to finish.
pub(crate) struct Ticker {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Ticker {
    /// Spawns thread `name`, which calls `step` every `tick` until stopped or until
    /// `step` returns false. A thread that cannot be spawned leaves a ticker that
    /// does nothing (the engine runs on; what the step does is a background duty).
    pub(crate) fn start(
        name: &str,
        tick: Duration,
        mut step: impl FnMut() -> bool + Send + 'static,
    ) -> Ticker {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || loop {
                {
                    let mut stopped = flag.0.lock();
                    if !*stopped {
                        flag.1.wait_for(&mut stopped, tick);
                    }
                    if *stopped {
                        return;
                    }
                }
                if !step() {
                    return;
                }
            })
            .ok();
        Ticker {
            stop,
            thread: Mutex::new(thread),
        }
    }

    pub(crate) fn stop(&self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.lock().take() {
            // A panic in the thread is a bug already reported on stderr; stopping
            // must still complete.
            let _ = t.join();
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop();
    }
}
