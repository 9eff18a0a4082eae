//! A background thread that runs a step at every tick until it is stopped: the
//! snapshotter and the history archiver are each one.

use parking_lot::{Condvar, Mutex};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    /// Spawns thread `name`, which calls `step` every `tick` from the start of
    /// the previous step (at once after a step that took a tick or more, or that
    /// returned [`Next::Now`]) until stopped or until a step returns
    /// [`Next::Stop`]. A thread that cannot be spawned (a thread or memory limit) is
    /// an error: without its archiver an engine would refuse every bet once the lag
    /// bound is reached, and without its snapshotter the log would grow for ever.
    pub(crate) fn start(
        name: &str,
        tick: Duration,
        mut step: impl FnMut() -> Next + Send + 'static,
    ) -> std::io::Result<Ticker> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut next = Next::Tick;
                let mut started = Instant::now();
                loop {
                    {
                        let mut stopped = flag.0.lock();
                        // Ticks are counted from the start of the last step, not
                        // its end: a step that took a tick or longer (an archiver
                        // pass under load) is followed at once, so the thread keeps
                        // up with work that arrives faster than one step a tick.
                        let wait = tick.saturating_sub(started.elapsed());
                        if !*stopped && next == Next::Tick && !wait.is_zero() {
                            flag.1.wait_for(&mut stopped, wait);
                        }
                        if *stopped {
                            return;
                        }
                    }
                    started = Instant::now();
                    next = step();
                    if next == Next::Stop {
                        return;
                    }
                }
            })?;
        Ok(Ticker {
            stop,
            thread: Mutex::new(Some(thread)),
        })
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

    /// What the first `n` steps sent.
    fn first_steps<T>(steps: &std::sync::mpsc::Receiver<T>, n: usize) -> Vec<T> {
        (0..n)
            .map(|_| {
                steps
                    .recv_timeout(Duration::from_secs(30))
                    .expect("a step ran")
            })
            .collect()
    }

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
        })
        .expect("spawn");
        let times = first_steps(&times_rx, 5);
        ticker.stop();
        let spread = times[4] - times[0];
        assert!(spread < tick, "four steps waited for ticks: {spread:?}");
    }

    /// Ticks count from a step's start: a step that took longer than a tick is
    /// followed at once (an archiver pass under load keeps up), and one that took
    /// part of a tick is followed a tick after it started, not a tick after it ended.
    /// (Counted from the end, the two waits would be a tick and 1.75 ticks; the
    /// bounds leave room for a busy machine's late wake-ups.)
    #[test]
    fn ticks_count_from_the_start_of_a_step() {
        let tick = Duration::from_millis(400);
        let (times_tx, times_rx) = std::sync::mpsc::channel();
        let mut n = 0;
        let ticker = Ticker::start("ticker-test", tick, move || {
            n += 1;
            let start = Instant::now();
            // The first step overruns its tick; the others take most of one.
            std::thread::sleep(if n == 1 { tick * 3 / 2 } else { tick * 3 / 4 });
            let _ = times_tx.send((start, Instant::now()));
            Next::Tick
        })
        .expect("spawn");
        let steps = first_steps(&times_rx, 3);
        ticker.stop();
        let idle_after_overrun = steps[1].0 - steps[0].1;
        assert!(
            idle_after_overrun < tick / 2,
            "waited {idle_after_overrun:?} after a step that overran its tick"
        );
        let period = steps[2].0 - steps[1].0;
        assert!(
            period >= tick && period < tick * 7 / 5,
            "a step of 3/4 of a tick was followed after {period:?}, not one tick"
        );
    }

    #[test]
    fn a_step_that_stops_ends_the_thread() {
        let runs = Arc::new(AtomicU32::new(0));
        let seen = runs.clone();
        let ticker = Ticker::start("ticker-test", Duration::from_millis(1), move || {
            seen.fetch_add(1, Ordering::SeqCst);
            Next::Stop
        })
        .expect("spawn");
        std::thread::sleep(Duration::from_millis(50));
        ticker.stop();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
