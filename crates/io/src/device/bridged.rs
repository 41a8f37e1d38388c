//! The devices other than the clock master: each bridged to the master's clock (see
//! `crate::bridge`), opened, taken offline when it goes away and reopened when it
//! returns, its bridge sent to the master callback through a swap-and-return mailbox.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use troubadour_rt::exchange::ExchangeControl;

use super::listing::{find_input, find_output, id_of, name_of};
use crate::accounting::CallbackStats;
use crate::backend::BridgeStats;
use crate::bridge::{BridgeInput, BridgeOutput, input_bridge};

/// A bus played on another device than the master, or a strip's device input, through
/// a clock bridge.
pub struct BridgedBus {
    /// The bus's (or, for an input, the strip's) name.
    pub bus: String,
    /// A device input (the device pushes, the master pulls) rather than an output.
    pub input: bool,
    /// The device's name (the session's spec while it has never opened).
    pub device: String,
    /// Device callbacks that found the bridge's ring short (after it had filled once),
    /// on the current connection.
    pub underruns: Arc<AtomicU64>,
    /// Master pushes that found the ring full, on the current connection.
    pub overruns: Arc<AtomicU64>,
    /// The bridge's latency in engine frames at the start (ring target plus resampler
    /// delay).
    pub latency_frames: f64,
    /// The ring's fill target in engine frames now (underruns raise it).
    pub target: Arc<AtomicUsize>,
    /// The device is open and playing (or capturing); false: offline, silent.
    pub online: bool,
    /// Times the device was reopened after it went away.
    pub reopened: u32,
    pub(super) spec: String,
    /// The opened device's id, by which its presence is checked.
    pub(super) device_id: Option<String>,
    pub(super) channels: u16,
    stream: Option<cpal::Stream>,
    link: Link,
    pub(super) next_try: Instant,
    pub(super) wait: Duration,
}

/// The control side of a bridge's mailbox into the master callback (`None`: detach).
pub(super) enum Link {
    Output(ExchangeControl<Option<Box<BridgeInput>>>),
    Input(ExchangeControl<Option<Box<BridgeOutput>>>),
}

/// How often [`DeviceBackend::maintain`] lists the host's devices.
pub(super) const DEVICE_CHECK: Duration = Duration::from_secs(1);
/// Longest wait between attempts to reopen a device that is listed but will not open.
pub(super) const MAX_RETRY_WAIT: Duration = Duration::from_secs(8);

/// What opening a bridged output gives: the master's end of the bridge, the stream,
/// the device's name and id, its underrun counter, the latency and the target.
pub(super) type OpenedOutput = (
    BridgeInput,
    cpal::Stream,
    String,
    Option<String>,
    Arc<AtomicU64>,
    f64,
    Arc<AtomicUsize>,
);

/// What opening a bridged input gives: the master's end, the stream, the device's
/// name and id, its overrun counter and the latency.
pub(super) type OpenedInput = (
    BridgeOutput,
    cpal::Stream,
    String,
    Option<String>,
    Arc<AtomicU64>,
    f64,
);

impl BridgedBus {
    /// An entry for `spec`, not (yet) open, whose bridges go to the master callback
    /// through `link`.
    pub(super) fn offline(name: &str, spec: &str, channels: u16, link: Link) -> Self {
        BridgedBus {
            bus: name.to_string(),
            input: matches!(link, Link::Input(_)),
            device: spec.to_string(),
            underruns: Arc::new(AtomicU64::new(0)),
            overruns: Arc::new(AtomicU64::new(0)),
            latency_frames: 0.0,
            target: Arc::new(AtomicUsize::new(0)),
            online: false,
            reopened: 0,
            spec: spec.to_string(),
            device_id: None,
            channels,
            stream: None,
            link,
            next_try: Instant::now() + DEVICE_CHECK,
            wait: DEVICE_CHECK,
        }
    }

    /// Takes over an opened output device and sends the master's end of its bridge to
    /// the callback. False if the mailbox would not take it.
    pub(super) fn attach_output(&mut self, opened: OpenedOutput) -> bool {
        let (input, stream, name, id, underruns, latency, target) = opened;
        self.underruns = underruns;
        self.target = target;
        self.opened(stream, name, id, latency);
        match &mut self.link {
            Link::Output(c) => c.send(Some(Box::new(input))).is_ok(),
            Link::Input(_) => false,
        }
    }

    /// Takes over an opened input device and sends the master's end of its bridge to
    /// the callback. False if the mailbox would not take it.
    pub(super) fn attach_input(&mut self, opened: OpenedInput) -> bool {
        let (output, stream, name, id, overruns, latency) = opened;
        self.overruns = overruns;
        self.target = output.target_handle();
        self.opened(stream, name, id, latency);
        match &mut self.link {
            Link::Input(c) => c.send(Some(Box::new(output))).is_ok(),
            Link::Output(_) => false,
        }
    }

    /// The bridge's counters now.
    pub(super) fn stats(&self) -> BridgeStats {
        BridgeStats {
            name: self.bus.clone(),
            input: self.input,
            device: self.device.clone(),
            online: self.online,
            underruns: self.underruns.load(Ordering::Relaxed),
            overruns: self.overruns.load(Ordering::Relaxed),
            target_frames: self.target.load(Ordering::Relaxed),
            latency_frames: self.latency_frames,
        }
    }

    /// What an opened device of either direction sets.
    fn opened(&mut self, stream: cpal::Stream, name: String, id: Option<String>, latency: f64) {
        self.stream = Some(stream);
        self.device = name;
        self.device_id = id;
        self.latency_frames = latency;
        self.online = true;
    }

    /// Closes the device's stream and detaches the bridge from the master callback.
    pub(super) fn take_offline(&mut self) {
        self.stream = None;
        self.online = false;
        // A full mailbox cannot happen (one message per check, and the callback empties
        // it every period); the next check would send again.
        let _ = match &mut self.link {
            Link::Output(c) => c.send(None).is_ok(),
            Link::Input(c) => c.send(None).is_ok(),
        };
        self.next_try = Instant::now() + DEVICE_CHECK;
    }
}

/// Opens output device `spec` for a `channels`-channel bus fed by an engine at
/// `engine_rate` with `period`-frame callbacks: the stream (started) whose callback
/// drains a bridge, and the bridge's pushing end for the master callback. Also returns
/// the device's name and id, its underrun counter and the bridge's latency in engine
/// frames.
pub(super) fn open_bridged(
    host: &cpal::Host,
    spec: &str,
    channels: u16,
    engine_rate: u32,
    period: usize,
    epoch: Instant,
    guard: &Arc<CallbackStats>,
) -> Result<OpenedOutput, String> {
    let device = find_output(host, spec).ok_or_else(|| "no such output device".to_string())?;
    let (name, id) = (name_of(&device), id_of(&device));
    let (input, mut output) = bridge(channels, engine_rate, engine_rate, period)?;
    let latency = output.target() as f64 + input.resampler_delay();
    let target = output.target_handle();
    let underruns = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&underruns);
    // The device's callback is an audio thread too: its allocations count with the
    // master's.
    let guard = Arc::clone(guard);
    let stream = device.build_output_stream::<f32, _, _>(
        config(channels, engine_rate, period),
        move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
            let now = epoch.elapsed().as_nanos() as u64;
            guard.guarded(|| output.pull(data, now));
            counted.store(output.underruns(), Ordering::Relaxed);
        },
        |_: cpal::Error| {},
        None,
    );
    let stream = play(stream, &name)?;
    Ok((input, stream, name, id, underruns, latency, target))
}

/// Opens input device `spec` for a `channels`-channel strip of an engine at
/// `engine_rate` with `period`-frame callbacks: the stream (started) whose callback
/// feeds a bridge, and the bridge's pulling end for the master callback. Also returns
/// the device's name and id, its overrun counter and the bridge's latency in engine
/// frames.
pub(super) fn open_input(
    host: &cpal::Host,
    spec: &str,
    channels: u16,
    engine_rate: u32,
    period: usize,
    epoch: Instant,
    guard: &Arc<CallbackStats>,
) -> Result<OpenedInput, String> {
    let device = find_input(host, spec).ok_or_else(|| "no such input device".to_string())?;
    let (name, id) = (name_of(&device), id_of(&device));
    let (mut input, output) = bridge(channels, engine_rate, engine_rate, period)?;
    let latency = output.target() as f64 + input.resampler_delay();
    let overruns = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&overruns);
    let guard = Arc::clone(guard);
    let stream = device.build_input_stream::<f32, _, _>(
        config(channels, engine_rate, period),
        move |data: &[f32], _: &cpal::InputCallbackInfo| {
            let now = epoch.elapsed().as_nanos() as u64;
            guard.guarded(|| input.push(data, now));
            counted.store(input.overruns(), Ordering::Relaxed);
        },
        |_: cpal::Error| {},
        None,
    );
    let stream = play(stream, &name)?;
    Ok((output, stream, name, id, overruns, latency))
}

/// A bridge from a clock at `from` Hz to one at `to` Hz. The pushing side goes a period
/// at a time (a longer device buffer in pieces, which the bridge takes in pieces too);
/// the ring holds one period.
fn bridge(
    channels: u16,
    from: u32,
    to: u32,
    period: usize,
) -> Result<(BridgeInput, BridgeOutput), String> {
    input_bridge(
        usize::from(channels),
        from,
        to,
        period,
        period,
        troubadour_dsp::resample::Quality::High,
    )
    .map_err(|e| e.to_string())
}

/// A bridged device's stream settings: the session's rate where the device can (a
/// server resamples for it if need be; its clock is its own all the same, which the
/// bridge absorbs), `period`-frame buffers.
fn config(channels: u16, rate: u32, period: usize) -> cpal::StreamConfig {
    cpal::StreamConfig {
        channels,
        sample_rate: rate,
        buffer_size: cpal::BufferSize::Fixed(period as u32),
    }
}

/// Starts a stream that was built, or says why it could not be.
fn play(stream: Result<cpal::Stream, cpal::Error>, name: &str) -> Result<cpal::Stream, String> {
    let stream = stream.map_err(|e| format!("cannot open \"{name}\": {e}"))?;
    stream
        .play()
        .map_err(|e| format!("cannot start \"{name}\": {e}"))?;
    Ok(stream)
}
