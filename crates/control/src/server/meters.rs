//! Meter frames for WebSocket clients, made once per rate. Every client that asks for
//! the same rate shares one fold of the control thread's readings, one clock and one
//! encoding, so thirty pages at 60 Hz cost one frame's work and thirty writes, not
//! thirty folds and thirty encodings. Clients at one rate see the same frame
//! boundaries, so each frame still holds the peaks since that client's previous one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::AbortHandle;

use crate::event::{MeterAccumulator, meters_json};
use crate::service::{Handle, MeterSubscription};

/// Frames a client may fall behind before it misses some (then it skips to the
/// newest: a late meter is worth nothing).
const FRAMES_QUEUED: usize = 8;

/// The feeds that have clients, by rate.
#[derive(Debug, Default)]
pub(crate) struct MeterHub {
    feeds: Mutex<HashMap<u64, Weak<Feed>>>,
}

/// One rate's frames: the task that folds and encodes them, running while any
/// client holds the feed.
#[derive(Debug)]
struct Feed {
    frames: broadcast::Sender<Arc<str>>,
    task: AbortHandle,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A client's place on a feed: encoded frames arrive on `frames`.
#[derive(Debug)]
pub(crate) struct MeterFeed {
    pub(crate) frames: broadcast::Receiver<Arc<str>>,
    _feed: Arc<Feed>,
}

impl MeterHub {
    /// Frames at `rate` per second from now on, joining the feed of that rate or
    /// starting it. Must be called on the server's runtime.
    pub(crate) fn subscribe(&self, handle: &Handle, rate: f64) -> MeterFeed {
        // The lock is only ever taken on the server's one thread; it cannot be
        // poisoned by anything that holds it across a panic, but be lenient anyway.
        let mut feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        feeds.retain(|_, feed| feed.strong_count() > 0);
        let key = rate.to_bits();
        if let Some(feed) = feeds.get(&key).and_then(Weak::upgrade) {
            return MeterFeed {
                frames: feed.frames.subscribe(),
                _feed: feed,
            };
        }
        let (frames, receiver) = broadcast::channel(FRAMES_QUEUED);
        let task = tokio::spawn(fold(handle.meters(rate), rate, frames.clone())).abort_handle();
        let feed = Arc::new(Feed { frames, task });
        feeds.insert(key, Arc::downgrade(&feed));
        MeterFeed {
            frames: receiver,
            _feed: feed,
        }
    }
}

/// Folds the readings and sends a frame with each reading due at this feed's rate.
/// The control thread reads the meters at the fastest rate any subscription takes (up
/// to [`METER_RATE_HZ`](crate::service::METER_RATE_HZ)), so readings come at least as
/// often as this feed's frames, and a clock of the feed's own would only add a wake-up
/// per frame: frames follow the readings, on average at `rate`. A reading up to half a
/// frame early counts as due, so readings at the feed's own rate (with their jitter)
/// each make a frame.
async fn fold(mut readings: MeterSubscription, rate: f64, frames: broadcast::Sender<Arc<str>>) {
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut due = Instant::now();
    let mut frame = MeterAccumulator::new();
    loop {
        match readings.receiver.recv().await {
            Ok(reading) => frame.fold(&reading),
            // The server's thread was busy past a few readings: the frame has fewer.
            Err(RecvError::Lagged(_)) => continue,
            // The control thread is gone; the shutdown follows.
            Err(RecvError::Closed) => return,
        }
        let now = Instant::now();
        if now + period / 2 < due {
            continue;
        }
        // Due times keep the rate on average; a feed that fell far behind starts afresh.
        due += period;
        if due < now {
            due = now + period;
        }
        if let Some(frame) = frame.take() {
            // No receiver only between the last client leaving and the abort.
            let _ = frames.send(meters_json(&frame).into());
        }
    }
}
