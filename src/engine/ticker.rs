//! A background thread that runs a step at every tick until it is stopped: the
//! snapshotter and the history archiver are each one.

use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What a step asks of its thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Wait for the next tick.
    Tick,
    /// Run again at once: the step left work undone (an archiver pass that read
    /// its most records). A stop is still seen between two steps.
    Now,
    /// End the thread.
    Stop,
}

/// The thread and the flag that stops it. Stopping (or dropping) wakes the thread
/// at once and waits for the step in progress to finish.
pub(crate) struct Ticker {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Ticker {
    /// Spawns thread `name`, which calls `step` every `tick` (or at once after a
    /// step that returns [`Next::Now`]) until stopped or until a step returns
    /// [`Next::Stop`]. A thread that cannot be spawned leaves a ticker that
    /// does nothing (the engine runs on; what the step does is a background duty).
    pub(crate) fn start(
        name: &str,
        tick: Duration,
        mut step: impl FnMut() -> Next + Send + 'static,
    ) -> Ticker {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut next = Next::Tick;
                loop {
                    {
                        let mut stopped = flag.0.lock();
                        if !*stopped && next == Next::Tick {
                            flag.1.wait_for(&mut stopped, tick);
                        }
                        if *stopped {
                            return;
                        }
                    }
                    next = step();
                    if next == Next::Stop {
                        return;
                    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A step that asks to run again is not held back by the tick, and a step that
    /// asks for the tick waits for it: five steps, the first four asking again, run
    /// within a fraction of one tick of each other.
    #[test]
    fn a_step_with_work_left_runs_again_at_once() {
        let tick = Duration::from_secs(1);
        let (times_tx, times_rx) = std::sync::mpsc::channel();
        let mut n = 0;
        let ticker = Ticker::start("ticker-test", tick, move || {
            n += 1;
            let _ = times_tx.send(std::time::Instant::now());
            if n < 5 {
                Next::Now
            } else {
                Next::Tick
            }
        });
        let times: Vec<_> = (0..5)
            .map(|_| {
                times_rx
                    .recv_timeout(Duration::from_secs(30))
                    .expect("a step ran")
            })
            .collect();
        ticker.stop();
        let spread = times[4] - times[0];
        assert!(spread < tick, "four steps waited for ticks: {spread:?}");
    }

    #[test]
    fn a_step_that_stops_ends_the_thread() {
        let runs = Arc::new(AtomicU32::new(0));
        let seen = runs.clone();
        let ticker = Ticker::start("ticker-test", Duration::from_millis(1), move || {
            seen.fetch_add(1, Ordering::SeqCst);
            Next::Stop
        });
        std::thread::sleep(Duration::from_millis(50));
        ticker.stop();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
