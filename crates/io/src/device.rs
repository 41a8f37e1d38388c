//! The cpal backend: audio devices through cpal's hosts (PulseAudio, which PipeWire also
//! serves through pipewire-pulse, then ALSA on Linux; WASAPI or CoreAudio elsewhere).
//!
//! The first bus's output device is the clock master: its stream's callback runs
//! `Engine::process` and plays that bus. The device is the session's sink of the first
//! bus (`sink = { device = "NAME" }`, matched against the host's device ids and names),
//! or the host's default output device.
//!
//! Every other bus with a device sink plays through a clock bridge (`crate::bridge`):
//! the master callback pushes the bus through an asynchronous resampler into a ring,
//! whose fill a PI controller holds by nudging the ratio; the other device's callback
//! takes from the ring. Two devices' clocks never agree exactly; the bridge absorbs the
//! drift at the cost of one period of latency plus the resampler's ~2 ms. A strip's device input comes the
//! other way: its device's callback pushes into a bridge, the master callback pulls
//! from it before `Engine::process`. A device that delivers in bursts raises its bridge's
//! target (see `crate::bridge`). A device that does not open leaves its strip or bus
//! offline, which is said at start.
//!
//! Devices come and go (a USB interface unplugged, a sink unloaded). The control thread
//! calls [`DeviceBackend::maintain`] regularly: it lists the host's devices about once a
//! second, takes a bridged device that is no longer listed offline (its stream closed,
//! its bus or strip silent; a sound server would otherwise move the stream to another
//! device, where the bus does not belong) and reopens it when it is listed again. The
//! master callback takes a new or removed bridge through a lock-free mailbox ([`Swap`])
//! and hands the old one back to be freed off the audio thread. A master device that
//! goes away stops the backend (`gone`); the caller restarts it when the device returns.
//!
//! Real-time rules in the callbacks: the planar buffers the engine writes into and the
//! bridges' rings, resamplers and scratch buffers are allocated before the streams
//! start; the callbacks only fill and copy them and update atomic counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use troubadour_engine::Engine;
use troubadour_engine::session::{Session, Sink, Source};

pub use crate::accounting::CallbackSnapshot as DeviceSnapshot;
use crate::accounting::{CallbackStats, Watcher};
use crate::bridge::{BridgeInput, BridgeOutput, input_bridge};
use troubadour_rt::ring::{Consumer, LockFreeRingBuffer, Producer};

/// Most frames one engine call handles inside the callback; longer device buffers are
/// processed in pieces of this size.
const MAX_FRAMES: usize = 4096;

/// Why the cpal backend could not start.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The host has no output device (or none matching).
    #[error("{0}")]
    NoDevice(String),
    /// cpal refused the stream or the device.
    #[error("{host}: {message}")]
    Host {
        /// The host's name.
        host: String,
        /// What went wrong.
        message: String,
    },
}

/// One device as `troubadour devices` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// The host (PulseAudio, ALSA, ...).
    pub host: String,
    /// The id a session names the device by.
    pub id: String,
    /// A readable name.
    pub name: String,
    /// Most input channels (0: no input).
    pub inputs: u16,
    /// Most output channels (0: no output).
    pub outputs: u16,
    /// Lowest and highest supported rates over every configuration.
    pub rates: Option<(u32, u32)>,
    /// The default configuration's rate.
    pub default_rate: Option<u32>,
    /// The host's default input device.
    pub default_input: bool,
    /// The host's default output device.
    pub default_output: bool,
}

/// Every host cpal has here and each one's devices (a host that fails to open is
/// listed with no devices and its error).
pub fn list_devices() -> Vec<(String, Result<Vec<DeviceInfo>, String>)> {
    cpal::available_hosts()
        .into_iter()
        .map(|id| {
            let name = id.name().to_string();
            let devices = cpal::host_from_id(id)
                .map_err(|e| e.to_string())
                .and_then(|host| describe_host(&host, &name));
            (name, devices)
        })
        .collect()
}

fn describe_host(host: &cpal::Host, host_name: &str) -> Result<Vec<DeviceInfo>, String> {
    let default_in = host.default_input_device().and_then(|d| id_of(&d));
    let default_out = host.default_output_device().and_then(|d| id_of(&d));
    let devices = host.devices().map_err(|e| e.to_string())?;
    Ok(devices
        .map(|d| {
            let id = id_of(&d).unwrap_or_default();
            let name = name_of(&d);
            let mut rates: Option<(u32, u32)> = None;
            // Most channels over a direction's configurations, widening `rates` with each.
            let mut scan = |configs: Result<Vec<cpal::SupportedStreamConfigRange>, _>| {
                configs.map_or(0, |list| {
                    list.iter()
                        .map(|r| {
                            let (lo, hi) = (r.min_sample_rate(), r.max_sample_rate());
                            rates = Some(rates.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
                            r.channels()
                        })
                        .max()
                        .unwrap_or(0)
                })
            };
            let inputs = scan(d.supported_input_configs().map(Iterator::collect));
            let outputs = scan(d.supported_output_configs().map(Iterator::collect));
            let default_rate = d
                .default_output_config()
                .or_else(|_| d.default_input_config())
                .map(|c| c.sample_rate())
                .ok();
            DeviceInfo {
                host: host_name.to_string(),
                default_input: default_in.as_deref() == Some(id.as_str()),
                default_output: default_out.as_deref() == Some(id.as_str()),
                id,
                name,
                inputs,
                outputs,
                rates,
                default_rate,
            }
        })
        .collect())
}

/// The host `auto` and `--backend cpal` use: cpal's default (PulseAudio when a server
/// answers, else ALSA, on Linux), and its default output device's name if it has one.
pub fn default_output() -> Option<(String, String)> {
    let host = cpal::default_host();
    let device = host.default_output_device()?;
    let name = name_of(&device);
    Some((host.id().name().to_string(), name))
}

/// The device among `devices` that `spec` names: its id, or its name, exactly; else the
/// one device whose id or name contains it.
fn find(devices: impl Iterator<Item = cpal::Device>, spec: &str) -> Option<cpal::Device> {
    let devices: Vec<cpal::Device> = devices.collect();
    let name = |d: &cpal::Device| d.description().map(|x| x.name().to_string()).ok();
    if let Some(d) = devices
        .iter()
        .find(|d| id_of(d).as_deref() == Some(spec) || name(d).as_deref() == Some(spec))
    {
        return Some(d.clone());
    }
    let mut partial = devices.iter().filter(|d| {
        name(d).is_some_and(|n| n.contains(spec)) || id_of(d).is_some_and(|n| n.contains(spec))
    });
    match (partial.next(), partial.next()) {
        (Some(d), None) => Some(d.clone()),
        _ => None,
    }
}

/// Whether cpal's default host lists an output device whose id (or name) is exactly
/// `id`: a device that went away is back (a partial match could be another device).
pub fn output_listed(id: &str) -> bool {
    listed(cpal::default_host().output_devices()).is_some_and(|list| {
        list.iter()
            .any(|(i, n)| i.as_deref() == Some(id) || n == id)
    })
}

/// The output device `spec` names (see [`find`]).
fn find_output(host: &cpal::Host, spec: &str) -> Option<cpal::Device> {
    find(host.output_devices().ok()?, spec)
}

/// The input device `spec` names (see [`find`]).
fn find_input(host: &cpal::Host, spec: &str) -> Option<cpal::Device> {
    find(host.input_devices().ok()?, spec)
}

/// The id a session names a device by.
fn id_of(device: &cpal::Device) -> Option<String> {
    device.id().map(|i| i.id().to_string()).ok()
}

/// A device's readable name (its description, else what cpal prints for it).
fn name_of(device: &cpal::Device) -> String {
    device
        .description()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|_| device.to_string())
}

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
    spec: String,
    /// The opened device's id, by which its presence is checked.
    device_id: Option<String>,
    channels: u16,
    stream: Option<cpal::Stream>,
    link: Link,
    next_try: Instant,
    wait: Duration,
}

/// The control side of a bridge's mailbox into the master callback.
enum Link {
    Output(SwapControl<BridgeInput>),
    Input(SwapControl<BridgeOutput>),
}

/// Capacity of a [`Swap`]'s rings: messages in flight at once (the control thread
/// sends at most one per device check).
const SWAP_SLOTS: usize = 4;

/// The audio thread's end of a value the control thread replaces while the stream
/// runs: replacements (`None`: remove) arrive through one ring, and the values they
/// replace leave through another, so the audio thread neither allocates nor frees.
struct Swap<T> {
    current: Option<Box<T>>,
    inbox: Consumer<Option<Box<T>>>,
    retired: Producer<Box<T>>,
}

/// The control thread's end of a [`Swap`].
struct SwapControl<T> {
    outbox: Producer<Option<Box<T>>>,
    retired: Consumer<Box<T>>,
}

/// An empty mailbox: the audio thread's end holds nothing until a value is sent.
fn swap_pair<T>() -> (Swap<T>, SwapControl<T>) {
    let (outbox, inbox) = LockFreeRingBuffer::with_capacity(SWAP_SLOTS);
    let (back, retired) = LockFreeRingBuffer::with_capacity(SWAP_SLOTS);
    (
        Swap {
            current: None,
            inbox,
            retired: back,
        },
        SwapControl { outbox, retired },
    )
}

impl<T> Swap<T> {
    /// Audio thread: the current value, after taking any replacement sent.
    fn get(&mut self) -> Option<&mut T> {
        while let Some(next) = self.inbox.pop() {
            if let Some(old) = std::mem::replace(&mut self.current, next)
                && let Err(old) = self.retired.push(old)
            {
                // Cannot happen: the control thread empties `retired` before each send
                // and never has more than SWAP_SLOTS in flight. Leaking beats freeing
                // on the audio thread.
                std::mem::forget(old);
            }
        }
        self.current.as_deref_mut()
    }
}

impl<T> SwapControl<T> {
    /// Control thread: frees what the audio thread handed back, then sends `next`.
    /// False (and `next` dropped here) if the mailbox is full.
    fn send(&mut self, next: Option<Box<T>>) -> bool {
        self.collect();
        self.outbox.push(next).is_ok()
    }

    /// Control thread: frees what the audio thread handed back.
    fn collect(&mut self) {
        while self.retired.pop().is_some() {}
    }
}

/// The master side of one bridged bus: where its channels sit in the engine's output,
/// and the bridge it is pushed into.
struct BridgeFeed {
    first: usize,
    channels: usize,
    input: Swap<BridgeInput>,
    interleaved: Vec<f32>,
    overruns: Arc<AtomicU64>,
}

/// The master side of one bridged device input: where its channels go among the
/// engine's inputs, and the bridge they are pulled from.
struct BridgeTap {
    first: usize,
    channels: usize,
    output: Swap<BridgeOutput>,
    interleaved: Vec<f32>,
    underruns: Arc<AtomicU64>,
}

/// A running cpal output stream with the engine in its callback.
pub struct DeviceBackend {
    _stream: cpal::Stream,
    bridged: Vec<BridgedBus>,
    _watcher: Watcher,
    stats: Arc<CallbackStats>,
    host: String,
    device: String,
    /// The master device's id, by which its presence is checked.
    device_id: Option<String>,
    /// Whether the master's presence is checked (the session named it).
    watch_master: bool,
    cpal_host: cpal::Host,
    engine_rate: u32,
    period: usize,
    epoch: Instant,
    next_check: Instant,
}

impl DeviceBackend {
    /// Opens the first bus's device (or the default output) at the session's rate with
    /// `period`-frame buffers and starts it. Returns the backend and a line for each
    /// strip or bus left offline.
    pub fn start(
        engine: Engine,
        session: &Session,
        period: usize,
    ) -> Result<(DeviceBackend, Vec<String>), DeviceError> {
        let host = cpal::default_host();
        let host_name = host.id().name().to_string();
        let err = |message: String| DeviceError::Host {
            host: host_name.clone(),
            message,
        };
        let first = session
            .buses
            .first()
            .ok_or_else(|| DeviceError::NoDevice("the session has no bus to play".into()))?;
        let mut notes = Vec::new();
        // The master is watched for disappearance only where the session named it and
        // it was found; a default device may be absent from the host's listing (ALSA's
        // "default" often is) and is left to the stream's error callback.
        let mut named = false;
        let device = match &first.sink {
            Some(Sink::Device(spec)) => match find_output(&host, spec) {
                Some(d) => {
                    named = true;
                    d
                }
                None => {
                    notes.push(format!(
                        "bus \"{}\": no {host_name} output device matches \"{spec}\"; playing to the default output instead",
                        first.name
                    ));
                    host.default_output_device().ok_or_else(|| {
                        DeviceError::NoDevice(format!("{host_name} has no output device"))
                    })?
                }
            },
            _ => host.default_output_device().ok_or_else(|| {
                DeviceError::NoDevice(format!("{host_name} has no output device"))
            })?,
        };
        let device_name = name_of(&device);
        // The other buses' devices, each through a clock bridge.
        let epoch = Instant::now();
        let mut feeds = Vec::new();
        let mut bridged = Vec::new();
        let mut first_channel = usize::from(first.channels);
        for bus in session.buses.iter().skip(1) {
            let at = first_channel;
            first_channel += usize::from(bus.channels);
            let Some(Sink::Device(spec)) = &bus.sink else {
                continue;
            };
            let (input, control) = swap_pair();
            let mut entry =
                BridgedBus::offline(&bus.name, spec, bus.channels, Link::Output(control));
            // Once open, the bridge reaches the callback through the mailbox, as on a
            // reopening.
            match open_bridged(
                &host,
                spec,
                bus.channels,
                session.sample_rate,
                period,
                epoch,
            ) {
                Ok(o) => {
                    entry.attach_output(o);
                }
                Err(why) => notes.push(format!(
                    "bus \"{}\": device \"{spec}\" not opened ({why}); the bus is offline (not heard) until it appears",
                    bus.name
                )),
            }
            feeds.push(BridgeFeed {
                first: at,
                channels: usize::from(bus.channels),
                input,
                interleaved: vec![0.0; MAX_FRAMES * usize::from(bus.channels)],
                overruns: Arc::clone(&entry.overruns),
            });
            bridged.push(entry);
        }
        // Device inputs, each through a clock bridge into the master's domain. The
        // engine takes the device-source strips' channels in strip order; a strip whose
        // device does not open gets silence.
        let mut taps = Vec::new();
        let mut input_channels = 0;
        for strip in &session.strips {
            let Source::Device(spec) = &strip.source else {
                continue;
            };
            let at = input_channels;
            input_channels += usize::from(strip.channels);
            let (output, control) = swap_pair();
            let mut entry =
                BridgedBus::offline(&strip.name, spec, strip.channels, Link::Input(control));
            match open_input(
                &host,
                spec,
                strip.channels,
                session.sample_rate,
                period,
                epoch,
            ) {
                Ok(o) => {
                    entry.attach_input(o);
                }
                Err(why) => notes.push(format!(
                    "strip \"{}\": device input \"{spec}\" not opened ({why}); the strip is offline (silent) until it appears",
                    strip.name
                )),
            }
            taps.push(BridgeTap {
                first: at,
                channels: usize::from(strip.channels),
                output,
                interleaved: vec![0.0; MAX_FRAMES * usize::from(strip.channels)],
                underruns: Arc::clone(&entry.underruns),
            });
            bridged.push(entry);
        }
        let mut inputs: Vec<Box<[f32]>> = (0..input_channels)
            .map(|_| vec![0.0f32; MAX_FRAMES].into_boxed_slice())
            .collect();

        let channels = usize::from(first.channels);
        let config = cpal::StreamConfig {
            channels: first.channels,
            sample_rate: session.sample_rate,
            buffer_size: cpal::BufferSize::Fixed(period as u32),
        };
        let stats = Arc::new(CallbackStats::default());
        stats
            .sample_rate
            .store(session.sample_rate, Ordering::Relaxed);
        stats.buffer_size.store(period as u32, Ordering::Relaxed);
        let mut engine = engine;
        // Every bus channel the engine writes; only the first bus's reach the device.
        let mut planar: Vec<Box<[f32]>> = (0..engine.output_channels())
            .map(|_| vec![0.0f32; MAX_FRAMES].into_boxed_slice())
            .collect();
        let ns_per_frame = 1e9 / f64::from(session.sample_rate);
        let cb_stats = Arc::clone(&stats);
        let err_stats = Arc::clone(&stats);
        let stream = device
            .build_output_stream::<f32, _, _>(
                config,
                move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
                    let start = Instant::now();
                    let frames = data.len() / channels;
                    let mut done = 0;
                    while done < frames {
                        let n = (frames - done).min(MAX_FRAMES);
                        let now_ns = epoch.elapsed().as_nanos() as u64;
                        for tap in taps.iter_mut() {
                            let ch = tap.channels;
                            let buf = &mut tap.interleaved[..n * ch];
                            match tap.output.get() {
                                Some(output) => {
                                    output.pull(buf, now_ns);
                                    tap.underruns.store(output.underruns(), Ordering::Relaxed);
                                }
                                // Offline: the strip hears silence.
                                None => buf.fill(0.0),
                            }
                            for (c, dst) in inputs[tap.first..tap.first + ch].iter_mut().enumerate()
                            {
                                for (d, frame) in dst[..n].iter_mut().zip(buf.chunks_exact(ch)) {
                                    *d = frame[c];
                                }
                            }
                        }
                        {
                            let empty: &[f32] = &[];
                            let mut ins = [empty; crate::jack::MAX_PORTS];
                            let n_in = inputs.len().min(ins.len());
                            for (slot, buf) in ins.iter_mut().zip(inputs.iter()) {
                                *slot = &buf[..n];
                            }
                            let mut outs: [&mut [f32]; crate::jack::MAX_PORTS] =
                                std::array::from_fn(|_| &mut [][..]);
                            let count = planar.len().min(outs.len());
                            for (slot, buf) in outs.iter_mut().zip(planar.iter_mut()) {
                                *slot = &mut buf[..n];
                            }
                            engine.process(&ins[..n_in], &mut outs[..count], n);
                        }
                        let dst = &mut data[done * channels..(done + n) * channels];
                        for (c, src) in planar.iter().take(channels).enumerate() {
                            for (frame, &x) in dst.chunks_exact_mut(channels).zip(&src[..n]) {
                                frame[c] = x;
                            }
                        }
                        for feed in feeds.iter_mut() {
                            let Some(input) = feed.input.get() else {
                                // Offline: the bus is not heard.
                                continue;
                            };
                            let ch = feed.channels;
                            let buf = &mut feed.interleaved[..n * ch];
                            for (c, src) in planar[feed.first..feed.first + ch].iter().enumerate() {
                                for (frame, &x) in buf.chunks_exact_mut(ch).zip(&src[..n]) {
                                    frame[c] = x;
                                }
                            }
                            input.push(buf, now_ns);
                            feed.overruns.store(input.overruns(), Ordering::Relaxed);
                        }
                        done += n;
                    }
                    cb_stats.buffer_size.store(frames as u32, Ordering::Relaxed);
                    let busy = start.elapsed().as_nanos() as u64;
                    cb_stats.record(busy, (frames as f64 * ns_per_frame) as u64);
                },
                move |e: cpal::Error| match e.kind() {
                    cpal::ErrorKind::DeviceNotAvailable
                    | cpal::ErrorKind::HostUnavailable
                    | cpal::ErrorKind::StreamInvalidated => {
                        err_stats.gone.store(true, Ordering::Relaxed);
                    }
                    _ => {
                        err_stats.xruns.fetch_add(1, Ordering::Relaxed);
                    }
                },
                None,
            )
            .map_err(|e| err(format!("cannot open \"{device_name}\": {e}")))?;
        stream
            .play()
            .map_err(|e| err(format!("cannot start \"{device_name}\": {e}")))?;
        Ok((
            DeviceBackend {
                _stream: stream,
                bridged,
                _watcher: Watcher::spawn(Arc::clone(&stats)),
                stats,
                host: host_name,
                device: device_name,
                device_id: id_of(&device),
                watch_master: named,
                cpal_host: host,
                engine_rate: session.sample_rate,
                period,
                epoch,
                next_check: Instant::now() + DEVICE_CHECK,
            },
            notes,
        ))
    }

    /// The buses played on other devices through clock bridges.
    pub fn bridged(&self) -> &[BridgedBus] {
        &self.bridged
    }

    /// Counters since the start (the load maximum since the previous reading).
    pub fn stats(&self) -> DeviceSnapshot {
        self.stats.snapshot()
    }

    /// The host's name (PulseAudio, ALSA, ...).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The master device's name.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The master device's id (its name where the host gives none).
    pub fn device_id(&self) -> &str {
        self.device_id.as_deref().unwrap_or(&self.device)
    }

    /// True once the device or its server went away.
    pub fn gone(&self) -> bool {
        self.stats.gone.load(Ordering::Relaxed)
    }

    /// Control thread, called often (it acts about once a second): checks which
    /// devices the host lists, takes bridged devices that went away offline, reopens
    /// those that came back (with backoff after a failed attempt), and marks the backend
    /// `gone` when the master device went away. Returns a line for each change.
    pub fn maintain(&mut self) -> Vec<String> {
        let now = Instant::now();
        let mut notes = Vec::new();
        if now < self.next_check {
            return notes;
        }
        self.next_check = now + DEVICE_CHECK;
        // A listing that fails says nothing about the devices: no change this time.
        let Some(outputs) = listed(self.cpal_host.output_devices()) else {
            return notes;
        };
        let inputs = if self.bridged.iter().any(|b| b.input) {
            let Some(inputs) = listed(self.cpal_host.input_devices()) else {
                return notes;
            };
            inputs
        } else {
            Vec::new()
        };
        if self.watch_master && !present(&outputs, self.device_id.as_deref(), &self.device) {
            self.stats.gone.store(true, Ordering::Relaxed);
        }
        for b in &mut self.bridged {
            let list = if b.input { &inputs } else { &outputs };
            let here = present(list, b.device_id.as_deref(), &b.device);
            match (b.online, here) {
                (true, false) => {
                    b.take_offline();
                    notes.push(format!(
                        "offline: {} \"{}\": device \"{}\" went away; {} until it returns",
                        if b.input { "strip" } else { "bus" },
                        b.bus,
                        b.device,
                        if b.input { "silent" } else { "not heard" }
                    ));
                }
                (false, true) if now >= b.next_try => {
                    // Reopened by its id where it had one (a name could match another
                    // device), else by the session's spec.
                    let spec = b.device_id.clone().unwrap_or_else(|| b.spec.clone());
                    let had_opened = b.device_id.is_some();
                    let (rate, period, epoch) = (self.engine_rate, self.period, self.epoch);
                    let sent = if b.input {
                        open_input(&self.cpal_host, &spec, b.channels, rate, period, epoch)
                            .map(|o| b.attach_input(o))
                    } else {
                        open_bridged(&self.cpal_host, &spec, b.channels, rate, period, epoch)
                            .map(|o| b.attach_output(o))
                    };
                    match sent {
                        Ok(true) => {
                            b.wait = DEVICE_CHECK;
                            b.reopened += u32::from(had_opened);
                            notes.push(format!(
                                "online: {} \"{}\": device \"{}\" {}",
                                if b.input { "strip" } else { "bus" },
                                b.bus,
                                b.device,
                                if had_opened { "opened again" } else { "opened" }
                            ));
                        }
                        Ok(false) | Err(_) => {
                            b.take_offline();
                            b.wait = (b.wait * 2).min(MAX_RETRY_WAIT);
                            b.next_try = now + b.wait;
                        }
                    }
                }
                _ => {}
            }
        }
        notes
    }
}

/// How often [`DeviceBackend::maintain`] lists the host's devices.
const DEVICE_CHECK: Duration = Duration::from_secs(1);
/// Longest wait between attempts to reopen a device that is listed but will not open.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(8);

/// (id, name) of every device of a listing; `None` if the host would not list.
fn listed<I: Iterator<Item = cpal::Device>, E>(
    devices: Result<I, E>,
) -> Option<Vec<(Option<String>, String)>> {
    devices
        .ok()
        .map(|d| d.map(|d| (id_of(&d), name_of(&d))).collect())
}

/// Whether the device with `id` (or, without one, `name`) is in `list`.
fn present(list: &[(Option<String>, String)], id: Option<&str>, name: &str) -> bool {
    list.iter().any(|(i, n)| match id {
        Some(id) => i.as_deref() == Some(id),
        None => n == name,
    })
}

/// What opening a bridged output gives: the master's end of the bridge, the stream,
/// the device's name and id, its underrun counter, the latency and the target.
type OpenedOutput = (
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
type OpenedInput = (
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
    fn offline(name: &str, spec: &str, channels: u16, link: Link) -> Self {
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
    fn attach_output(&mut self, opened: OpenedOutput) -> bool {
        let (input, stream, name, id, underruns, latency, target) = opened;
        self.underruns = underruns;
        self.target = target;
        self.opened(stream, name, id, latency);
        match &mut self.link {
            Link::Output(c) => c.send(Some(Box::new(input))),
            Link::Input(_) => false,
        }
    }

    /// Takes over an opened input device and sends the master's end of its bridge to
    /// the callback. False if the mailbox would not take it.
    fn attach_input(&mut self, opened: OpenedInput) -> bool {
        let (output, stream, name, id, overruns, latency) = opened;
        self.overruns = overruns;
        self.target = output.target_handle();
        self.opened(stream, name, id, latency);
        match &mut self.link {
            Link::Input(c) => c.send(Some(Box::new(output))),
            Link::Output(_) => false,
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
    fn take_offline(&mut self) {
        self.stream = None;
        self.online = false;
        // A full mailbox cannot happen (one message per check, and the callback empties
        // it every period); the next check would send again.
        let _ = match &mut self.link {
            Link::Output(c) => c.send(None),
            Link::Input(c) => c.send(None),
        };
        self.next_try = Instant::now() + DEVICE_CHECK;
    }
}

/// Opens output device `spec` for a `channels`-channel bus fed by an engine at
/// `engine_rate` with `period`-frame callbacks: the stream (started) whose callback
/// drains a bridge, and the bridge's pushing end for the master callback. Also returns
/// the device's name and id, its underrun counter and the bridge's latency in engine
/// frames.
fn open_bridged(
    host: &cpal::Host,
    spec: &str,
    channels: u16,
    engine_rate: u32,
    period: usize,
    epoch: Instant,
) -> Result<OpenedOutput, String> {
    let device = find_output(host, spec).ok_or_else(|| "no such output device".to_string())?;
    let name = name_of(&device);
    let id = id_of(&device);
    // The device runs at the session's rate where it can (a server resamples for it if
    // need be); its clock is its own all the same, which the bridge absorbs.
    let device_rate = engine_rate;
    // The master pushes a period at a time (a longer device buffer in pieces, which
    // the bridge takes in pieces too); the ring holds one period.
    let (input, mut output) = input_bridge(
        usize::from(channels),
        engine_rate,
        device_rate,
        period,
        period,
        troubadour_dsp::resample::Quality::High,
    )
    .map_err(|e| e.to_string())?;
    let latency = output.target() as f64 + input.resampler_delay();
    let target = output.target_handle();
    let underruns = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&underruns);
    let config = cpal::StreamConfig {
        channels,
        sample_rate: device_rate,
        buffer_size: cpal::BufferSize::Fixed(period as u32),
    };
    let stream = device
        .build_output_stream::<f32, _, _>(
            config,
            move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
                output.pull(data, epoch.elapsed().as_nanos() as u64);
                counted.store(output.underruns(), Ordering::Relaxed);
            },
            |_: cpal::Error| {},
            None,
        )
        .map_err(|e| format!("cannot open \"{name}\": {e}"))?;
    stream
        .play()
        .map_err(|e| format!("cannot start \"{name}\": {e}"))?;
    Ok((input, stream, name, id, underruns, latency, target))
}

/// Opens input device `spec` for a `channels`-channel strip of an engine at
/// `engine_rate` with `period`-frame callbacks: the stream (started) whose callback
/// feeds a bridge, and the bridge's pulling end for the master callback. Also returns
/// the device's name and id, its overrun counter and the bridge's latency in engine
/// frames.
fn open_input(
    host: &cpal::Host,
    spec: &str,
    channels: u16,
    engine_rate: u32,
    period: usize,
    epoch: Instant,
) -> Result<OpenedInput, String> {
    let device = find_input(host, spec).ok_or_else(|| "no such input device".to_string())?;
    let name = name_of(&device);
    let id = id_of(&device);
    let device_rate = engine_rate;
    let (mut input, output) = input_bridge(
        usize::from(channels),
        device_rate,
        engine_rate,
        period,
        period,
        troubadour_dsp::resample::Quality::High,
    )
    .map_err(|e| e.to_string())?;
    let latency = output.target() as f64 + input.resampler_delay();
    let overruns = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&overruns);
    let config = cpal::StreamConfig {
        channels,
        sample_rate: device_rate,
        buffer_size: cpal::BufferSize::Fixed(period as u32),
    };
    let stream = device
        .build_input_stream::<f32, _, _>(
            config,
            move |data: &[f32], _: &cpal::InputCallbackInfo| {
                input.push(data, epoch.elapsed().as_nanos() as u64);
                counted.store(input.overruns(), Ordering::Relaxed);
            },
            |_: cpal::Error| {},
            None,
        )
        .map_err(|e| format!("cannot open \"{name}\": {e}"))?;
    stream
        .play()
        .map_err(|e| format!("cannot start \"{name}\": {e}"))?;
    Ok((output, stream, name, id, overruns, latency))
}
