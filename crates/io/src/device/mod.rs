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

mod bridged;
mod listing;
mod master;
mod pulse;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use troubadour_engine::Engine;
use troubadour_engine::session::{Session, Sink, Source};
use troubadour_rt::exchange::exchange;

use crate::accounting::{CallbackStats, Watcher};
use crate::backend::limits::MAX_FRAMES;
use crate::backend::{
    Backend, BackendError, BackendKind, BackendStats, Clock, DeviceChange, Driver, Health, Latency,
    Started,
};
use bridged::{BridgedBus, DEVICE_CHECK, Link, MAX_RETRY_WAIT, open_bridged, open_input};
pub use listing::{DeviceInfo, default_output, list_devices, output_listed};
use listing::{find_output, id_of, listed, name_of, named_in, present};
use master::{BridgeFeed, BridgeTap, Mailbox, Master};
pub use pulse::{PulseDevices, clashes as pulse_clashes};

/// Messages in flight at once through a bridge's mailbox (the control thread sends at
/// most one per device check).
const MAILBOX_SLOTS: usize = 4;

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
        // Counts for every callback of this backend, the bridged devices' too.
        let stats = Arc::new(CallbackStats::default());
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
            let (control, input) = exchange(MAILBOX_SLOTS);
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
                &stats,
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
                input: Mailbox::new(input),
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
            let (control, output) = exchange(MAILBOX_SLOTS);
            let mut entry =
                BridgedBus::offline(&strip.name, spec, strip.channels, Link::Input(control));
            match open_input(
                &host,
                spec,
                strip.channels,
                session.sample_rate,
                period,
                epoch,
                &stats,
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
                output: Mailbox::new(output),
                interleaved: vec![0.0; MAX_FRAMES * usize::from(strip.channels)],
                underruns: Arc::clone(&entry.underruns),
            });
            bridged.push(entry);
        }
        let inputs: Vec<Box<[f32]>> = (0..input_channels)
            .map(|_| vec![0.0f32; MAX_FRAMES].into_boxed_slice())
            .collect();
        let config = cpal::StreamConfig {
            channels: first.channels,
            sample_rate: session.sample_rate,
            buffer_size: cpal::BufferSize::Fixed(period as u32),
        };
        stats
            .sample_rate
            .store(session.sample_rate, Ordering::Relaxed);
        stats.buffer_size.store(period as u32, Ordering::Relaxed);
        let planar: Vec<Box<[f32]>> = (0..engine.output_channels())
            .map(|_| vec![0.0f32; MAX_FRAMES].into_boxed_slice())
            .collect();
        let mut master = Master {
            engine,
            taps,
            feeds,
            inputs,
            planar,
            channels: usize::from(first.channels),
            epoch,
        };
        master.prefault();
        let ns_per_frame = 1e9 / f64::from(session.sample_rate);
        let cb_stats = Arc::clone(&stats);
        let err_stats = Arc::clone(&stats);
        let stream = device
            .build_output_stream::<f32, _, _>(
                config,
                move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
                    let start = Instant::now();
                    let frames = cb_stats.guarded(|| master.render(data));
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
    pub fn stats(&self) -> BackendStats {
        let mut stats = self.stats.snapshot();
        stats.bridges = self.bridged.iter().map(BridgedBus::stats).collect();
        stats
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
    /// `gone` when the master device went away. Returns what changed.
    pub fn maintain(&mut self) -> Vec<DeviceChange> {
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
            // A device that has opened is looked for by its id; one that never has, by
            // the session's spec, as it would be opened.
            let here = match b.device_id.as_deref() {
                Some(id) => present(list, Some(id), &b.device),
                None => named_in(list, &b.spec),
            };
            match (b.online, here) {
                (true, false) => {
                    b.take_offline();
                    notes.push(DeviceChange::Offline(format!(
                        "{} \"{}\": device \"{}\" went away; {} until it returns",
                        if b.input { "strip" } else { "bus" },
                        b.bus,
                        b.device,
                        if b.input { "silent" } else { "not heard" }
                    )));
                }
                (false, true) if now >= b.next_try => {
                    // Reopened by its id where it had one (a name could match another
                    // device), else by the session's spec.
                    let spec = b.device_id.clone().unwrap_or_else(|| b.spec.clone());
                    let had_opened = b.device_id.is_some();
                    let (rate, period, epoch) = (self.engine_rate, self.period, self.epoch);
                    let sent = if b.input {
                        open_input(
                            &self.cpal_host,
                            &spec,
                            b.channels,
                            rate,
                            period,
                            epoch,
                            &self.stats,
                        )
                        .map(|o| b.attach_input(o))
                    } else {
                        open_bridged(
                            &self.cpal_host,
                            &spec,
                            b.channels,
                            rate,
                            period,
                            epoch,
                            &self.stats,
                        )
                        .map(|o| b.attach_output(o))
                    };
                    match sent {
                        Ok(true) => {
                            b.wait = DEVICE_CHECK;
                            b.reopened += u32::from(had_opened);
                            notes.push(DeviceChange::Online(format!(
                                "{} \"{}\": device \"{}\" {}",
                                if b.input { "strip" } else { "bus" },
                                b.bus,
                                b.device,
                                if had_opened { "opened again" } else { "opened" }
                            )));
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

impl Backend for DeviceBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpal
    }

    fn clock(&self) -> Clock {
        // The period asked of the device: hosts that deliver buffers of varying sizes
        // would otherwise report a "new period" every few callbacks.
        Clock {
            sample_rate: self.engine_rate,
            period_frames: self.period,
        }
    }

    fn latency(&self) -> Latency {
        // cpal reports no device latency; the bridges' is in their statistics.
        Latency::default()
    }

    fn stats(&self) -> BackendStats {
        DeviceBackend::stats(self)
    }

    fn health(&self) -> Health {
        if self.gone() {
            Health::Lost(format!("the output device \"{}\" went away", self.device))
        } else {
            Health::Running
        }
    }

    fn maintain(&mut self, _: &Session) -> Vec<DeviceChange> {
        DeviceBackend::maintain(self)
    }

    fn needs_restart(&self, old: &Session, new: &Session) -> bool {
        // The master's channels, each bridge's channel offset and device are fixed
        // when the streams open.
        crate::backend::wiring(old) != crate::backend::wiring(new)
            || crate::backend::virtual_devices(old) != crate::backend::virtual_devices(new)
    }

    fn stop(self: Box<Self>) -> Option<Engine> {
        // cpal owns the callback and the engine in it: dropping the stream stops the
        // callback and drops it after its last call (on cpal's worker thread on ALSA,
        // never inside a callback).
        None
    }
}

/// Starts cpal backends on the default host: the first bus's device (or the default
/// output) is the clock master. Once a master has opened, restarts (after it went away,
/// or at a new rate or period) open that same device by its id: the session's spec, or
/// the default output, could by then name another device.
#[derive(Debug, Default)]
pub struct CpalDriver {
    master_id: Option<String>,
    /// The session's virtual devices on a PulseAudio server, for the session (its
    /// devices and rate) they were made for: kept across restarts of the streams, so
    /// apps that picked them keep them.
    pulse: Option<(PulseDevices, (Vec<crate::backend::VirtualDevice>, u32))>,
    period_frames: usize,
    described: String,
}

impl CpalDriver {
    /// A driver that has opened nothing yet.
    pub fn new() -> Self {
        CpalDriver::default()
    }
}

impl Driver for CpalDriver {
    fn kind(&self) -> BackendKind {
        BackendKind::Cpal
    }

    fn connect(
        &mut self,
        session: &Session,
        period_frames: usize,
        _quiet: bool,
    ) -> Result<Clock, BackendError> {
        if let Some(id) = &self.master_id
            && !output_listed(id)
        {
            return Err(BackendError::Unavailable(format!(
                "the output device \"{id}\" is not listed"
            )));
        }
        self.period_frames = period_frames.max(1);
        Ok(Clock {
            sample_rate: session.sample_rate,
            period_frames: self.period_frames,
        })
    }

    fn start(&mut self, engine: Engine, session: &Session) -> Result<Started, BackendError> {
        let mut pulse_notes = Vec::new();
        let wanted = (
            crate::backend::virtual_devices(session),
            session.sample_rate,
        );
        if self.pulse.as_ref().map(|(_, w)| w) != Some(&wanted) {
            // The old devices go before the new ones come (they may share names).
            self.pulse = None;
            if !wanted.0.is_empty() {
                let host = cpal::default_host().id();
                if host != cpal::HostId::PulseAudio {
                    return Err(BackendError::Refused(format!(
                        "virtual devices need a PulseAudio server on the cpal backend (the cpal host is {}), or --backend pipewire",
                        host.name()
                    )));
                }
                let devices = PulseDevices::start(session)
                    .map_err(|e| BackendError::Refused(format!("virtual devices: {e}")))?;
                pulse_notes = devices.notes.clone();
                self.pulse = Some((devices, wanted));
            }
        }
        let mut on_it = if self.pulse.is_some() {
            pulse::on_devices(session)
        } else {
            session.clone()
        };
        if let (Some(id), Some(bus)) = (&self.master_id, on_it.buses.first_mut()) {
            bus.sink = Some(Sink::Device(id.clone()));
        }
        let (backend, offline) = DeviceBackend::start(engine, &on_it, self.period_frames)
            .map_err(|e| BackendError::Refused(e.to_string()))?;
        self.master_id = Some(backend.device_id().to_string());
        self.described = format!("{}, output \"{}\"", backend.host(), backend.device());
        let mut notes: Vec<String> = backend
            .bridged()
            .iter()
            .filter(|x| x.online)
            .map(|x| {
                format!(
                    "bridged: {} \"{}\" {} \"{}\" through a clock bridge ({:.1} ms: ring target and resampler)",
                    if x.input { "strip" } else { "bus" },
                    x.bus,
                    if x.input { "takes" } else { "plays to" },
                    x.device,
                    x.latency_frames * 1e3 / f64::from(session.sample_rate)
                )
            })
            .collect();
        notes.extend(pulse_notes);
        notes.push(
            "audio thread: cpal's callback thread (cpal asks for real-time priority itself)".into(),
        );
        Ok(Started {
            backend: Box::new(backend),
            offline,
            notes,
        })
    }

    fn describe(&self) -> String {
        self.described.clone()
    }
}
