//! Where `pitboss serve`'s log lines go: appended to a bounded buffer under a short
//! lock, and written to standard output by a thread of their own, a batch at a time.
//!
//! Why not a write per line, or a queue per line: at tens of thousands of requests a
//! second, a line each, a write per line costs a system call per request, and waking
//! a writer per line costs a context switch per request; both showed up as the
//! largest costs of logging (docs/performance.md). Here the writer wakes every
//! [`FLUSH_EVERY`] (or as soon as a batch passes [`WAKE_AT_BYTES`]) and writes
//! everything in one call.
//!
//! Bounded: at most [`MAX_BUFFERED_BYTES`] wait; a line that does not fit is dropped
//! and counted, never waited for: a slow log reader never slows a bet.

use parking_lot::{Condvar, Mutex};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Most bytes of log lines waiting for the writer thread.
pub const MAX_BUFFERED_BYTES: usize = 16 << 20;
/// A batch this large wakes the writer before its time.
pub const WAKE_AT_BYTES: usize = 1 << 20;
/// How often the writer writes what has been buffered.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

#[derive(Debug)]
struct Shared {
    buf: Mutex<Vec<u8>>,
    wake: Condvar,
    closing: AtomicBool,
    dropped: AtomicU64,
    /// [`MAX_BUFFERED_BYTES`] (smaller in tests).
    max_bytes: usize,
}

impl Shared {
    fn new(max_bytes: usize) -> Shared {
        Shared {
            buf: Mutex::new(Vec::new()),
            wake: Condvar::new(),
            closing: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            max_bytes,
        }
    }
}

/// The log's writer: give it to the subscriber (`MakeWriter`), keep its
/// [`LogFlusher`] until shutdown.
#[derive(Clone, Debug)]
pub struct BatchedStdout {
    shared: Arc<Shared>,
}

/// Writes the buffer out until dropped; dropping it writes what is left.
#[derive(Debug)]
pub struct LogFlusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A writer to standard output through a batching thread.
pub fn batched_stdout() -> (BatchedStdout, LogFlusher) {
    let shared = Arc::new(Shared::new(MAX_BUFFERED_BYTES));
    let worker = shared.clone();
    let thread = std::thread::Builder::new()
        .name("pitboss-log".into())
        .spawn(move || run(&worker))
        .ok();
    (
        BatchedStdout {
            shared: shared.clone(),
        },
        LogFlusher { shared, thread },
    )
}

impl BatchedStdout {
    /// Lines dropped so far because the buffer was full.
    pub fn dropped_lines(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

fn run(shared: &Shared) {
    let mut out = Vec::new();
    loop {
        {
            let mut buf = shared.buf.lock();
            if buf.is_empty() && !shared.closing.load(Ordering::Acquire) {
                shared.wake.wait_for(&mut buf, FLUSH_EVERY);
            }
            std::mem::swap(&mut out, &mut *buf);
        }
        if !out.is_empty() {
            let mut stdout = std::io::stdout().lock();
            // Nowhere to report a failed write of the log itself.
            let _ = stdout.write_all(&out);
            let _ = stdout.flush();
            out.clear();
        }
        if shared.closing.load(Ordering::Acquire) && shared.buf.lock().is_empty() {
            return;
        }
    }
}

impl Drop for LogFlusher {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One event's writer: the formatter writes the whole line through it.
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut buf = self.shared.buf.lock();
        if buf.len() + line.len() > self.shared.max_bytes {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(line.len());
        }
        let was = buf.len();
        buf.extend_from_slice(line);
        if was < WAKE_AT_BYTES && buf.len() >= WAKE_AT_BYTES {
            self.shared.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedStdout {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter {
            shared: &self.shared,
        }
    }
}

/// Log timestamps, `2026-12-07T01:30:12.345Z`: the date and time to the second are
/// formatted once a second per thread, not once a line (formatting a date took a
/// third of a request line's cost).
#[derive(Clone, Copy, Debug, Default)]
pub struct UtcMillis;

thread_local! {
    /// (Unix second, its `YYYY-MM-DDTHH:MM:SS`).
    static SECOND: std::cell::RefCell<(i64, String)> =
        const { std::cell::RefCell::new((i64::MIN, String::new())) };
}

impl tracing_subscriber::fmt::time::FormatTime for UtcMillis {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        use crate::clock::Clock;
        let ms = crate::clock::SystemClock.now_ms();
        let secs = ms.div_euclid(1000);
        SECOND.with(|cell| {
            let mut cached = cell.borrow_mut();
            if cached.0 != secs {
                let mut text = super::iso8601::iso8601(ms);
                text.pop(); // the `Z`, written after the milliseconds
                *cached = (secs, text);
            }
            write!(w, "{}.{:03}Z", cached.1, ms.rem_euclid(1000))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::fmt::MakeWriter;

    #[test]
    fn lines_past_the_bound_are_dropped_and_counted() {
        let out = BatchedStdout {
            shared: Arc::new(Shared::new(10)),
        };
        for line in [&b"abcd\n"[..], b"efgh\n", b"ij\n"] {
            let _ = out.make_writer().write_all(line);
        }
        assert_eq!(&*out.shared.buf.lock(), b"abcd\nefgh\n");
        assert_eq!(out.dropped_lines(), 1);
    }

    #[test]
    fn timestamps_are_utc_to_the_millisecond() {
        use tracing_subscriber::fmt::format::Writer;
        use tracing_subscriber::fmt::time::FormatTime;
        let mut text = String::new();
        UtcMillis
            .format_time(&mut Writer::new(&mut text))
            .unwrap_or_else(|e| panic!("{e}"));
        // 2026-12-07T01:30:12.345Z
        assert_eq!(text.len(), 24, "{text}");
        assert!(text.ends_with('Z') && text.as_bytes()[19] == b'.', "{text}");
    }
}
