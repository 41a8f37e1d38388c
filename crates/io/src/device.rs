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
//! Real-time rules in the callbacks: the planar buffers the engine writes into and the
//! bridges' rings, resamplers and scratch buffers are allocated before the streams
//! start; the callbacks only fill and copy them and update atomic counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use troubadour_engine::Engine;
use troubadour_engine::session::{Session, Sink, Source};

pub use crate::accounting::CallbackSnapshot as DeviceSnapshot;
use crate::accounting::{CallbackStats, Watcher};
use crate::bridge::{BridgeInput, BridgeOutput, input_bridge};

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
    /// The device's name.
    pub device: String,
    /// Device callbacks that found the bridge's ring short (after it had filled once).
    pub underruns: Arc<AtomicU64>,
    /// Master pushes that found the ring full.
    pub overruns: Arc<AtomicU64>,
    /// The bridge's latency in engine frames at the start (ring target plus resampler
    /// delay).
    pub latency_frames: f64,
    /// The ring's fill target in engine frames now (underruns raise it).
    pub target: Arc<std::sync::atomic::AtomicUsize>,
    _stream: cpal::Stream,
}

/// The master side of one bridged bus: where its channels sit in the engine's output,
/// and the bridge it is pushed into.
struct BridgeFeed {
    first: usize,
    channels: usize,
    input: BridgeInput,
    interleaved: Vec<f32>,
    overruns: Arc<AtomicU64>,
}

/// The master side of one bridged device input: where its channels go among the
/// engine's inputs, and the bridge they are pulled from.
struct BridgeTap {
    first: usize,
    channels: usize,
    output: BridgeOutput,
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
        let device = match &first.sink {
            Some(Sink::Device(spec)) => match find_output(&host, spec) {
                Some(d) => d,
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
            match open_bridged(&host, spec, bus.channels, session.sample_rate, period, epoch) {
                Ok((feed_input, stream, name, underruns, latency, target)) => {
                    let overruns = Arc::new(AtomicU64::new(0));
                    feeds.push(BridgeFeed {
                        first: at,
                        channels: usize::from(bus.channels),
                        input: feed_input,
                        interleaved: vec![0.0; MAX_FRAMES * usize::from(bus.channels)],
                        overruns: Arc::clone(&overruns),
                    });
                    bridged.push(BridgedBus {
                        bus: bus.name.clone(),
                        device: name,
                        underruns,
                        overruns,
                        latency_frames: latency,
                        target,
                        input: false,
                        _stream: stream,
                    });
                }
                Err(why) => notes.push(format!(
                    "bus \"{}\": device \"{spec}\" not opened ({why}); the bus is offline (not heard)",
                    bus.name
                )),
            }
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
            match open_input(&host, spec, strip.channels, session.sample_rate, period, epoch) {
                Ok((output, stream, name, overruns, latency)) => {
                    let target = output.target_handle();
                    let underruns = Arc::new(AtomicU64::new(0));
                    taps.push(BridgeTap {
                        first: at,
                        channels: usize::from(strip.channels),
                        output,
                        interleaved: vec![0.0; MAX_FRAMES * usize::from(strip.channels)],
                        underruns: Arc::clone(&underruns),
                    });
                    bridged.push(BridgedBus {
                        bus: strip.name.clone(),
                        device: name,
                        underruns,
                        overruns,
                        latency_frames: latency,
                        target,
                        input: true,
                        _stream: stream,
                    });
                }
                Err(why) => notes.push(format!(
                    "strip \"{}\": device input \"{spec}\" not opened ({why}); the strip is offline (silent)",
                    strip.name
                )),
            }
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
                            tap.output.pull(buf, now_ns);
                            tap.underruns
                                .store(tap.output.underruns(), Ordering::Relaxed);
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
                            let ch = feed.channels;
                            let buf = &mut feed.interleaved[..n * ch];
                            for (c, src) in planar[feed.first..feed.first + ch].iter().enumerate() {
                                for (frame, &x) in buf.chunks_exact_mut(ch).zip(&src[..n]) {
                                    frame[c] = x;
                                }
                            }
                            feed.input.push(buf, now_ns);
                            feed.overruns
                                .store(feed.input.overruns(), Ordering::Relaxed);
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

    /// True once the device or its server went away.
    pub fn gone(&self) -> bool {
        self.stats.gone.load(Ordering::Relaxed)
    }
}

/// Opens output device `spec` for a `channels`-channel bus fed by an engine at
/// `engine_rate` with `period`-frame callbacks: the stream (started) whose callback
/// drains a bridge, and the bridge's pushing end for the master callback. Also returns
/// the device's name, its underrun counter and the bridge's latency in engine frames.
#[allow(clippy::type_complexity)]
fn open_bridged(
    host: &cpal::Host,
    spec: &str,
    channels: u16,
    engine_rate: u32,
    period: usize,
    epoch: Instant,
) -> Result<
    (
        BridgeInput,
        cpal::Stream,
        String,
        Arc<AtomicU64>,
        f64,
        Arc<std::sync::atomic::AtomicUsize>,
    ),
    String,
> {
    let device = find_output(host, spec).ok_or_else(|| "no such output device".to_string())?;
    let name = name_of(&device);
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
    Ok((input, stream, name, underruns, latency, target))
}

/// Opens input device `spec` for a `channels`-channel strip of an engine at
/// `engine_rate` with `period`-frame callbacks: the stream (started) whose callback
/// feeds a bridge, and the bridge's pulling end for the master callback. Also returns
/// the device's name, its overrun counter and the bridge's latency in engine frames.
#[allow(clippy::type_complexity)]
fn open_input(
    host: &cpal::Host,
    spec: &str,
    channels: u16,
    engine_rate: u32,
    period: usize,
    epoch: Instant,
) -> Result<(BridgeOutput, cpal::Stream, String, Arc<AtomicU64>, f64), String> {
    let device = find_input(host, spec).ok_or_else(|| "no such input device".to_string())?;
    let name = name_of(&device);
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
    Ok((output, stream, name, overruns, latency))
}
