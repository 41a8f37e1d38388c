//! The control thread's handle: what servers and adapters (HTTP, WebSocket, OSC, MIDI,
//! `ctl`) hold. Cheap to clone, `Send`, never blocks on the audio side.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, oneshot};

use crate::api::{ApiError, ErrorCode, Reply, Request};
use crate::event::{MeterSample, Outgoing};
use troubadour_engine::spectrum::SpectrumBank;

/// What a call asks of the control thread.
#[derive(Debug)]
pub enum CallKind {
    /// An API request.
    Api(Request),
    /// The Prometheus text of `/metrics`.
    Metrics,
}

/// A call with its origin (who asks: `http`, `ws-3`, `osc`…, as change events name it)
/// and where the answer goes.
#[derive(Debug)]
pub struct Call {
    /// What is asked.
    pub kind: CallKind,
    /// Who asks.
    pub origin: String,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Answer, ApiError>>,
}

/// What the control thread answers.
#[derive(Debug)]
pub enum Answer {
    /// An API reply.
    Reply(Reply),
    /// Text (metrics).
    Text(String),
}

/// Calls waiting for the control thread at most: beyond, callers are told `queue_full`.
pub const CALL_BACKLOG: usize = 4096;

/// Events kept for subscribers that fall behind; one that falls further is dropped
/// (it reconnects and fetches the state again).
pub const EVENT_BACKLOG: usize = 8192;

/// Meter readings kept for a subscriber between two of its frames.
pub const METER_BACKLOG: usize = 64;

/// The handle.
#[derive(Debug, Clone)]
pub struct Handle {
    pub(crate) calls: SyncSender<Call>,
    pub(crate) events: broadcast::Sender<Arc<Outgoing>>,
    pub(crate) meters: broadcast::Sender<Arc<MeterSample>>,
    pub(crate) meter_subscribers: Arc<AtomicUsize>,
    pub(crate) meter_rates: Arc<MeterRates>,
    pub(crate) spectrum: Arc<SpectrumBank>,
    /// The engine's meters, for readers on the server's thread.
    pub(crate) meter_reader: Arc<super::MeterReader>,
}

/// The rates meter subscriptions take frames at: the control thread reads the meters as
/// often as the fastest of them needs, not more (the engine's meters hold their peaks
/// between readings, so a slower reading loses none).
#[derive(Debug, Default)]
pub(crate) struct MeterRates {
    rates: Mutex<Vec<f64>>,
    /// The fastest rate, as `f64` bits; 0 with none.
    fastest: AtomicU64,
}

impl MeterRates {
    fn add(&self, rate: f64) {
        let mut rates = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        rates.push(rate);
        self.publish(&rates);
    }

    fn remove(&self, rate: f64) {
        let mut rates = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = rates.iter().position(|&r| r == rate) {
            rates.swap_remove(i);
        }
        self.publish(&rates);
    }

    fn publish(&self, rates: &[f64]) {
        let fastest = rates.iter().copied().fold(0.0, f64::max);
        self.fastest.store(fastest.to_bits(), Ordering::Relaxed);
    }

    /// The fastest rate any subscription takes frames at, per second; 0 with none.
    pub(crate) fn fastest(&self) -> f64 {
        f64::from_bits(self.fastest.load(Ordering::Relaxed))
    }
}

impl Handle {
    fn post(
        &self,
        kind: CallKind,
        origin: &str,
    ) -> Result<oneshot::Receiver<Result<Answer, ApiError>>, ApiError> {
        let (tx, rx) = oneshot::channel();
        let call = Call {
            kind,
            origin: origin.to_string(),
            reply: tx,
        };
        match self.calls.try_send(call) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(ApiError::new(
                ErrorCode::QueueFull,
                format!("the control thread has {CALL_BACKLOG} requests waiting; try again"),
            )),
            Err(TrySendError::Disconnected(_)) => Err(unavailable()),
        }
    }

    /// Sends a request and waits for its reply.
    pub async fn request(&self, request: Request, origin: &str) -> Result<Reply, ApiError> {
        let rx = self.post(CallKind::Api(request), origin)?;
        match rx.await {
            Ok(Ok(Answer::Reply(r))) => Ok(r),
            Ok(Ok(Answer::Text(_))) => Err(unavailable()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(unavailable()),
        }
    }

    /// Sends a request and blocks until its reply (for threads outside an async
    /// runtime: OSC, MIDI).
    pub fn request_blocking(&self, request: Request, origin: &str) -> Result<Reply, ApiError> {
        let rx = self.post(CallKind::Api(request), origin)?;
        match rx.blocking_recv() {
            Ok(Ok(Answer::Reply(r))) => Ok(r),
            Ok(Ok(Answer::Text(_))) => Err(unavailable()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(unavailable()),
        }
    }

    /// The Prometheus text for `/metrics`.
    pub async fn metrics(&self) -> Result<String, ApiError> {
        let rx = self.post(CallKind::Metrics, "metrics")?;
        match rx.await {
            Ok(Ok(Answer::Text(t))) => Ok(t),
            Ok(Ok(Answer::Reply(_))) => Err(unavailable()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(unavailable()),
        }
    }

    /// Every event from now on (changes and status; meters come apart). A receiver
    /// that falls [`EVENT_BACKLOG`] behind gets `Lagged`: drop that client.
    pub fn events(&self) -> broadcast::Receiver<Arc<Outgoing>> {
        self.events.subscribe()
    }

    /// The engine's spectrum taps (the same bank across restarts of the audio side).
    pub fn spectrum(&self) -> &Arc<SpectrumBank> {
        &self.spectrum
    }

    /// Meter readings from now on, while the subscription lives, for frames at `rate`
    /// per second: the control thread reads the meters at the fastest rate its
    /// subscriptions take, up to [`METER_RATE_HZ`](super::METER_RATE_HZ) (readings are
    /// taken only while someone listens).
    pub fn meters(&self, rate: f64) -> MeterSubscription {
        let rate = rate.clamp(1.0, f64::from(super::METER_RATE_HZ));
        self.meter_subscribers.fetch_add(1, Ordering::Relaxed);
        self.meter_rates.add(rate);
        MeterSubscription {
            receiver: self.meters.subscribe(),
            count: Arc::clone(&self.meter_subscribers),
            rates: Arc::clone(&self.meter_rates),
            rate,
        }
    }
}

fn unavailable() -> ApiError {
    ApiError::new(ErrorCode::Unavailable, "the mixer is stopping")
}

/// A live meter subscription: readings arrive on `receiver`.
#[derive(Debug)]
pub struct MeterSubscription {
    /// The readings.
    pub receiver: broadcast::Receiver<Arc<MeterSample>>,
    count: Arc<AtomicUsize>,
    rates: Arc<MeterRates>,
    rate: f64,
}

impl Drop for MeterSubscription {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
        self.rates.remove(self.rate);
    }
}
