//! A thread the control plane starts and stops: OSC's and MIDI's. It runs until its stop
//! flag is set; stopping wakes it (for a thread asleep in `park_timeout`) and waits a
//! second at most, so a thread stuck on a request the control thread will no longer
//! answer cannot hold up a shutdown (it ends when the service goes).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

/// How long [`Worker::stop`] waits for the thread.
const GRACE: Duration = Duration::from_secs(1);

/// The running thread; stopped when dropped.
pub(crate) struct Worker {
    stop: Arc<AtomicBool>,
    done: mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Runs `body` on a thread named `name`; `body` returns once the flag it is given
    /// is set.
    pub(crate) fn spawn(
        name: &str,
        body: impl FnOnce(Arc<AtomicBool>) + Send + 'static,
    ) -> std::io::Result<Worker> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let (done_tx, done) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                body(flag);
                let _ = done_tx.send(());
            })?;
        Ok(Worker {
            stop,
            done,
            thread: Some(thread),
        })
    }

    /// The thread, to wake it.
    pub(crate) fn thread(&self) -> Option<&Thread> {
        self.thread.as_ref().map(JoinHandle::thread)
    }

    /// Stops the thread and waits for it ([`GRACE`] at most).
    pub(crate) fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let Some(thread) = self.thread.take() else {
            return;
        };
        thread.thread().unpark();
        if self.done.recv_timeout(GRACE).is_ok() {
            let _ = thread.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.halt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn stop_wakes_a_parked_thread_and_waits_for_it() {
        let ended = Arc::new(AtomicBool::new(false));
        let e = Arc::clone(&ended);
        let worker = Worker::spawn("test-worker", move |stop| {
            while !stop.load(Ordering::Relaxed) {
                std::thread::park_timeout(Duration::from_secs(60));
            }
            e.store(true, Ordering::Relaxed);
        })
        .unwrap();
        let t = Instant::now();
        worker.stop();
        assert!(ended.load(Ordering::Relaxed));
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }

    #[test]
    fn a_thread_that_does_not_stop_holds_up_a_drop_a_second_at_most() {
        let (release, wait) = mpsc::channel::<()>();
        let worker = Worker::spawn("test-stuck", move |_| {
            let _ = wait.recv();
        })
        .unwrap();
        let t = Instant::now();
        drop(worker);
        let took = t.elapsed();
        assert!((GRACE..GRACE * 3).contains(&took), "{took:?}");
        drop(release);
    }
}
