//! Meter frames for WebSocket clients, made once per rate. Every client that asks for
//! the same rate shares one clock, one reading and one encoding, so thirty pages at
//! 60 Hz cost one frame's work and thirty writes, not thirty of each. The feed reads
//! the engine's meters itself, on the server's thread, through a seat at the control
//! service's [`MeterReader`](crate::service::MeterReader): the control thread is not
//! woken for a page's frames, and no reader steals another's peaks. Clients at one
//! rate see the same frame boundaries, so each frame still holds the peaks since that
//! client's previous one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::task::AbortHandle;
use tokio::time::MissedTickBehavior;

use crate::event::meters_json;
use crate::service::{Handle, MeterSeat};

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
        let seat = handle.meter_reader.seat();
        let task = tokio::spawn(feed(seat, rate, frames.clone())).abort_handle();
        let feed = Arc::new(Feed { frames, task });
        feeds.insert(key, Arc::downgrade(&feed));
        MeterFeed {
            frames: receiver,
            _feed: feed,
        }
    }
}

/// Reads the meters and sends a frame at each tick of this feed's clock. A tick the
/// server's thread was too busy for is skipped, not made up in a burst: a late meter
/// is worth nothing, and the next frame holds the peaks meanwhile.
async fn feed(seat: MeterSeat, rate: f64, frames: broadcast::Sender<Arc<str>>) {
    let mut clock = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        clock.tick().await;
        if let Some(frame) = seat.read_and_look(meters_json) {
            // No receiver only between the last client leaving and the abort.
            let _ = frames.send(frame.into());
        }
    }
}
