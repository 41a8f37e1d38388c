//! The compiled, audio-side form of a session: every buffer and every processor state,
//! allocated up front by [`Graph::build`] on the control side, then moved to the audio
//! thread whole.

mod bus;
mod order;
pub(crate) mod processors;
mod source;
mod strip;
mod taps;

use std::path::Path;
use std::sync::Arc;

use troubadour_dsp::compressor::Compressor;
use troubadour_dsp::eq::Equalizer;

use crate::profile::{Lap, Stage};
use troubadour_dsp::gain::db_to_gain;
use troubadour_dsp::gate::Gate;
use troubadour_dsp::generator::{Generator, GeneratorSpec, Waveform};
use troubadour_dsp::limiter::Limiter;
use troubadour_dsp::simd::{Avx2Fma, KernelChoice, Kernels};
use troubadour_rt::smooth::LinearRamp;

use crate::audio_file::AudioFileError;
use crate::command::{Command, Target};
use crate::meters::{MeterBank, rms_alpha};
use crate::player::{FileOptions, FileStream};
use crate::session::{GeneratorKind, Session, Source, Strip};

pub(crate) use bus::{BusState, OutputCounts};
use order::{pair, processing_order};
use source::SourcePlayer;
use strip::{Law, Route, SendState, StripState};

pub(crate) use taps::Listeners;

/// Gain changes glide over this long (about 10 ms), so nothing clicks.
pub const RAMP_SECONDS: f64 = 0.010;

/// Why a session could not be compiled into a graph.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A file source could not be read ([`BuildError::located`] says where in the
    /// session file).
    #[error("strip #{}: {source}", strip + 1)]
    File {
        /// Index of the strip whose source it is.
        strip: usize,
        /// Why.
        source: AudioFileError,
    },
    /// The block size is zero or absurd.
    #[error("a maximum block of {0} frames is outside 1..=65536")]
    BlockSize(usize),
    /// The session is invalid (every problem listed).
    #[error("invalid session\n{0}")]
    Invalid(#[from] crate::session::SessionError),
    /// A strip or bus has a channel count the engine cannot run.
    #[error("{what} has {channels} channels; 1..=8 are supported")]
    Channels {
        /// Which strip or bus.
        what: String,
        /// Its channel count.
        channels: u16,
    },
}

impl BuildError {
    /// The error with a file source's problem located in `loaded`'s session file like
    /// every other session error (file, line, column, field), for a file that changed or
    /// broke between validation and the build.
    pub fn located(self, loaded: &crate::session::LoadedSession) -> Self {
        match self {
            BuildError::File { strip, source } => {
                BuildError::Invalid(loaded.locate_source(strip, source.to_string()))
            }
            other => other,
        }
    }
}

/// A gain over one block: one value, or one per frame while ramping.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BlockGain<'a> {
    Const(f32),
    Ramp(&'a [f32]),
}

/// A zeroed buffer of `frames` samples whose pages are already mapped: the audio
/// thread must not fault them in on its first block.
fn touched(frames: usize) -> Box<[f32]> {
    let mut b = vec![0.0f32; frames].into_boxed_slice();
    troubadour_rt::prefault::touch(&mut b);
    b
}

/// Four block-long work buffers shared by all strips and buses of a graph.
#[derive(Debug)]
pub(crate) struct Scratch {
    /// Pre-fader (peak, energy) of the strip being processed, per channel.
    pub pre_levels: [(f32, f32); crate::session::MAX_CHANNELS as usize],
    a: Box<[f32]>,
    b: Box<[f32]>,
    c: Box<[f32]>,
    d: Box<[f32]>,
}

type ScratchRest<'a> = (&'a mut [f32], &'a mut [f32], &'a mut [f32]);

impl Scratch {
    fn new(frames: usize) -> Self {
        let buf = || touched(frames);
        Scratch {
            pre_levels: [(0.0, 0.0); crate::session::MAX_CHANNELS as usize],
            a: buf(),
            b: buf(),
            c: buf(),
            d: buf(),
        }
    }

    pub(crate) fn split(&mut self) -> (&mut [f32], ScratchRest<'_>) {
        (&mut self.a, (&mut self.b, &mut self.c, &mut self.d))
    }
}

/// A session compiled for the audio thread.
#[derive(Debug)]
pub struct Graph {
    pub(crate) generation: u32,
    sample_rate: u32,
    max_block: usize,
    /// The AVX2 build of `process_block` runs with this token
    /// ([`troubadour_dsp::simd`]); the processors hold their own.
    avx2: Option<Avx2Fma>,
    strips: Box<[StripState]>,
    /// Strip indices in processing order: a sidechain source before its listener.
    order: Box<[u32]>,
    buses: Box<[BusState]>,
    /// Every bus channel's summing buffer, buses one after another.
    bus_bufs: Box<[Box<[f32]>]>,
    scratch: Scratch,
    meters: Arc<MeterBank>,
    input_channels: usize,
    solo_count: u32,
    /// For each strip / bus, the index of the same one in the graph this one replaces,
    /// whose running state it takes over when swapped in.
    carry_strips: Box<[Option<u32>]>,
    carry_buses: Box<[Option<u32>]>,
}

/// A deterministic default noise seed from the strip's name (FNV-1a), so two noise
/// strips differ but every render is the same.
fn seed_from_name(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn source_player(
    strip: &Strip,
    session: &Session,
    base_dir: &Path,
    next_input: &mut usize,
    files: FileOptions,
) -> Result<SourcePlayer, AudioFileError> {
    Ok(match &strip.source {
        Source::Device(_) | Source::Virtual(_) | Source::App(_) => {
            let first = *next_input;
            *next_input += usize::from(strip.channels);
            SourcePlayer::Input { first }
        }
        Source::Generator(g) => {
            let waveform = match g.kind {
                GeneratorKind::Sine => Waveform::Sine,
                GeneratorKind::White => Waveform::WhiteNoise,
                GeneratorKind::Pink => Waveform::PinkNoise,
                GeneratorKind::Impulse => Waveform::Impulse,
                GeneratorKind::Silence => Waveform::Silence,
            };
            let spec = GeneratorSpec {
                waveform,
                freq_hz: g.freq,
                level_db: g.level_db,
                seed: g.seed.unwrap_or_else(|| seed_from_name(&strip.name)),
                interval_frames: (g.interval_ms / 1000.0 * f64::from(session.sample_rate))
                    .round()
                    .max(1.0) as u64,
            };
            SourcePlayer::Generator(Generator::new(spec, session.sample_rate))
        }
        Source::File { path, looped } => {
            let full = base_dir.join(path);
            match FileStream::open(&full, session.sample_rate, *looped, files.ring_seconds) {
                Ok(stream) => SourcePlayer::File(stream),
                // A live mixer plays on without it (the strip is silent until the file
                // appears and the graph is built again).
                Err(AudioFileError::Open { source, .. })
                    if files.silent_missing && source.kind() == std::io::ErrorKind::NotFound =>
                {
                    let spec = GeneratorSpec {
                        waveform: Waveform::Silence,
                        freq_hz: 0.0,
                        level_db: 0.0,
                        seed: 0,
                        interval_frames: 1,
                    };
                    SourcePlayer::Generator(Generator::new(spec, session.sample_rate))
                }
                Err(e) => return Err(e),
            }
        }
    })
}

/// The routes of a send from a strip of `strip_ch` channels to a bus whose channels
/// start at `first` (count `bus_ch`), following `channels_compatible`.
fn routes_for(strip_ch: u16, first: usize, bus_ch: u16) -> Vec<(u16, u32, Law)> {
    let dst = |c: usize| (first + c) as u32;
    match (strip_ch, bus_ch) {
        (1, 1) => vec![(0, dst(0), Law::Unity)],
        (1, _) => vec![(0, dst(0), Law::PanLeft), (0, dst(1), Law::PanRight)],
        (2, 1) => vec![(0, dst(0), Law::FoldLeft), (1, dst(0), Law::FoldRight)],
        (2, 2) => vec![
            (0, dst(0), Law::BalanceLeft),
            (1, dst(1), Law::BalanceRight),
        ],
        (s, b) if s == b => (0..s)
            .map(|c| (c, dst(usize::from(c)), Law::Unity))
            .collect(),
        // Validation rejects every other pairing.
        _ => Vec::new(),
    }
}

impl Graph {
    /// Compiles a session (validate it first: [`create`](crate::create) does). Decodes
    /// file sources, so call it off the audio thread. `max_block` is the largest
    /// sub-block `process` will run at once; `kernels` says which instruction sets the
    /// mixing loops and every processor may use.
    pub fn build(
        session: &Session,
        base_dir: &Path,
        max_block: usize,
        generation: u32,
        kernels: KernelChoice,
    ) -> Result<Self, BuildError> {
        Self::build_with(
            session,
            base_dir,
            max_block,
            generation,
            kernels,
            FileOptions::default(),
        )
    }

    /// [`build`](Self::build), with file players as `files` says.
    pub(crate) fn build_with(
        session: &Session,
        base_dir: &Path,
        max_block: usize,
        generation: u32,
        kernels: KernelChoice,
        files: FileOptions,
    ) -> Result<Self, BuildError> {
        if !(1..=65_536).contains(&max_block) {
            return Err(BuildError::BlockSize(max_block));
        }
        // `create` validates first; this keeps the public `build` from ever handing the
        // audio thread a graph it cannot run, whatever it is given.
        let max = crate::session::MAX_CHANNELS;
        for (what, channels) in session
            .strips
            .iter()
            .map(|s| (format!("strip {:?}", s.name), s.channels))
            .chain(
                session
                    .buses
                    .iter()
                    .map(|b| (format!("bus {:?}", b.name), b.channels)),
            )
        {
            if !(1..=max).contains(&channels) {
                return Err(BuildError::Channels { what, channels });
            }
        }
        let ramp = (RAMP_SECONDS * f64::from(session.sample_rate)).round() as u32;
        let buf = || touched(max_block);

        let mut bus_first = Vec::with_capacity(session.buses.len());
        let mut total = 0;
        for b in &session.buses {
            bus_first.push(total);
            total += usize::from(b.channels);
        }
        let buses: Box<[BusState]> = session
            .buses
            .iter()
            .zip(&bus_first)
            .map(|(b, &first)| BusState {
                first,
                channels: usize::from(b.channels),
                on: LinearRamp::new(if b.mute { 0.0 } else { 1.0 }, ramp),
                fader: LinearRamp::new(db_to_gain(b.fader_db), ramp),
                mute: b.mute,
                post_ms: vec![0.0; usize::from(b.channels)].into_boxed_slice(),
                eq: (!b.eq.is_empty()).then(|| {
                    let bands: Vec<_> = b.eq.iter().map(processors::filter_params).collect();
                    Equalizer::new(&bands, usize::from(b.channels), session.sample_rate)
                        .with_kernels(kernels)
                }),
                compressor: b.compressor.as_ref().map(|c| {
                    Compressor::new(processors::compressor_params(c), session.sample_rate)
                        .with_kernels(kernels)
                }),
                limiter: b.limiter.as_ref().map(|l| {
                    Limiter::new(
                        processors::limiter_params(l),
                        usize::from(b.channels),
                        session.sample_rate,
                    )
                    .with_kernels(kernels)
                }),
            })
            .collect();

        let solo_count = session.strips.iter().filter(|s| s.solo).count() as u32;
        let mut next_input = 0;
        let mut strips = Vec::with_capacity(session.strips.len());
        for (index, strip) in session.strips.iter().enumerate() {
            let source = source_player(strip, session, base_dir, &mut next_input, files).map_err(
                |source| BuildError::File {
                    strip: index,
                    source,
                },
            )?;
            let mut sends = Vec::new();
            let mut routes = Vec::new();
            for (bus_name, send) in &strip.sends {
                let Some(bus) = session.bus_index(bus_name) else {
                    continue;
                };
                let index = sends.len() as u16;
                let state = SendState {
                    bus: bus as u32,
                    level: db_to_gain(send.level_db),
                    on: send.on,
                    pre_fader: send.pre_fader,
                };
                for (src, dst, law) in
                    routes_for(strip.channels, bus_first[bus], session.buses[bus].channels)
                {
                    let target = StripState::route_target(&state, law, strip.pan);
                    routes.push(Route {
                        send: index,
                        src,
                        dst,
                        law,
                        coef: LinearRamp::new(target, ramp),
                    });
                }
                sends.push(state);
            }
            let channels = usize::from(strip.channels);
            let audible = !strip.mute && (solo_count == 0 || strip.solo);
            strips.push(StripState {
                source,
                buf: (0..channels).map(|_| buf()).collect(),
                trim: LinearRamp::new(db_to_gain(strip.gain_db), ramp),
                on: LinearRamp::new(if audible { 1.0 } else { 0.0 }, ramp),
                fader: LinearRamp::new(db_to_gain(strip.fader_db), ramp),
                mute: strip.mute,
                solo: strip.solo,
                pan: strip.pan,
                sends: sends.into_boxed_slice(),
                routes: routes.into_boxed_slice(),
                pre_ms: vec![0.0; channels].into_boxed_slice(),
                post_ms: vec![0.0; channels].into_boxed_slice(),
                gate: strip.gate.as_ref().map(|g| {
                    Gate::new(processors::gate_params(g), session.sample_rate).with_kernels(kernels)
                }),
                eq: (!strip.eq.is_empty()).then(|| {
                    let bands: Vec<_> = strip.eq.iter().map(processors::filter_params).collect();
                    Equalizer::new(&bands, channels, session.sample_rate).with_kernels(kernels)
                }),
                compressor: strip.compressor.as_ref().map(|c| {
                    Compressor::new(processors::compressor_params(c), session.sample_rate)
                        .with_kernels(kernels)
                }),
                sidechain: strip
                    .compressor
                    .as_ref()
                    .and_then(|c| c.sidechain.as_ref())
                    .and_then(|name| session.strip_index(name))
                    .filter(|&j| j != index)
                    .map(|j| j as u32),
            });
        }

        let strip_channels: Vec<usize> = session
            .strips
            .iter()
            .map(|s| usize::from(s.channels))
            .collect();
        let bus_channels: Vec<usize> = session
            .buses
            .iter()
            .map(|b| usize::from(b.channels))
            .collect();
        let order = processing_order(&strips);
        Ok(Graph {
            generation,
            sample_rate: session.sample_rate,
            max_block,
            avx2: Kernels::new(kernels).avx2(),
            strips: strips.into_boxed_slice(),
            order,
            buses,
            bus_bufs: (0..total).map(|_| buf()).collect(),
            scratch: Scratch::new(max_block),
            meters: MeterBank::new(&strip_channels, &bus_channels),
            input_channels: next_input,
            solo_count,
            carry_strips: vec![None; session.strips.len()].into_boxed_slice(),
            carry_buses: vec![None; session.buses.len()].into_boxed_slice(),
        })
    }

    /// Marks which strips and buses continue from the graph built from `old`: same
    /// name, same channel count and, for strips, the same source.
    pub fn carry_over_from(&mut self, old: &Session, new: &Session) {
        for (i, s) in new.strips.iter().enumerate() {
            self.carry_strips[i] = old
                .strips
                .iter()
                .position(|o| {
                    o.name == s.name
                        && o.channels == s.channels
                        && crate::diff::same_source(&o.source, &s.source)
                })
                .map(|j| j as u32);
        }
        for (i, b) in new.buses.iter().enumerate() {
            self.carry_buses[i] = old
                .buses
                .iter()
                .position(|o| o.name == b.name && o.channels == b.channels)
                .map(|j| j as u32);
        }
    }

    /// Takes over the running state of the graph it replaces (audio thread; no
    /// allocation).
    pub(crate) fn inherit(&mut self, old: &mut Graph) {
        for (i, carry) in self.carry_strips.iter().enumerate() {
            if let Some(j) = carry
                && let Some(o) = old.strips.get_mut(*j as usize)
            {
                self.strips[i].inherit(o, &self.carry_buses);
            }
        }
        for (i, carry) in self.carry_buses.iter().enumerate() {
            if let Some(j) = carry
                && let Some(o) = old.buses.get(*j as usize)
            {
                self.buses[i].inherit(o);
            }
        }
    }

    /// The strip of the graph this one replaces whose running state strip `i` takes
    /// over when swapped in ([`carry_over_from`](Self::carry_over_from)).
    pub(crate) fn carried(&self, i: usize) -> Option<usize> {
        self.carry_strips
            .get(i)
            .copied()
            .flatten()
            .map(|j| j as usize)
    }

    /// Each strip's file player handle (`None` for other sources), in strip order.
    pub(crate) fn players(&self) -> Vec<Option<crate::player::Player>> {
        self.strips.iter().map(|s| s.source.player()).collect()
    }

    /// The strips' running state, in strip order.
    pub(crate) fn strips(&self) -> &[StripState] {
        &self.strips
    }

    /// Meters of this graph.
    pub fn meters(&self) -> &Arc<MeterBank> {
        &self.meters
    }

    /// Device input channels the graph reads (strips with device sources, in order).
    pub fn input_channels(&self) -> usize {
        self.input_channels
    }

    /// Output channels it writes: every bus's channels, bus after bus.
    pub fn output_channels(&self) -> usize {
        self.bus_bufs.len()
    }

    /// Largest block processed at once.
    pub fn max_block(&self) -> usize {
        self.max_block
    }

    /// The rate the graph was built for.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Runs one sub-block of `n <= max_block` frames.
    pub(crate) fn process_block<L: Lap>(
        &mut self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        offset: usize,
        n: usize,
        taps: &mut Listeners<'_>,
        lap: &mut L,
    ) -> OutputCounts {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = self.avx2 {
            // SAFETY: the token proves this CPU has AVX2 and FMA.
            return unsafe { self.process_block_avx2(avx2, inputs, outputs, offset, n, taps, lap) };
        }
        self.process_block_any(inputs, outputs, offset, n, taps, lap)
    }

    /// [`process_block`](Self::process_block) compiled for AVX2 and FMA: the mixing,
    /// metering and gain kernels inlined into it use 8-lane vectors (the processors
    /// choose their own build).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    fn process_block_avx2<L: Lap>(
        &mut self,
        _: Avx2Fma,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        offset: usize,
        n: usize,
        taps: &mut Listeners<'_>,
        lap: &mut L,
    ) -> OutputCounts {
        self.process_block_any(inputs, outputs, offset, n, taps, lap)
    }

    #[inline(always)]
    fn process_block_any<L: Lap>(
        &mut self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        offset: usize,
        n: usize,
        taps: &mut Listeners<'_>,
        lap: &mut L,
    ) -> OutputCounts {
        debug_assert!(n <= self.max_block);
        for b in self.bus_bufs.iter_mut() {
            b[..n].fill(0.0);
        }
        let alpha = rms_alpha(n, self.sample_rate);
        lap.lap(Stage::Mixing);
        // Strips in three passes: sources, trims and gates; the EQs, two strips at a
        // time; the rest in sidechain order (a compressor's sidechain source is finished
        // before it is read, as in a single pass).
        for (strip, meter) in self.strips.iter_mut().zip(self.meters.strips.iter()) {
            strip.process_front(inputs, offset, n, &mut self.scratch, meter, lap);
        }
        eqs_in_pairs(
            self.strips
                .iter_mut()
                .filter_map(|s| Some((s.eq.as_mut()?, &mut s.buf[..]))),
            n,
        );
        lap.lap(Stage::StripDsp);
        for &i in self.order.iter() {
            let i = i as usize;
            let meter = &self.meters.strips[i];
            let (strip, sidechain) = match self.strips[i].sidechain {
                Some(j) => {
                    let (strip, source) = pair(&mut self.strips, i, j as usize);
                    (strip, Some(&source.buf[..]))
                }
                None => (&mut self.strips[i], None),
            };
            let gains = strip.process_back(
                n,
                &mut self.bus_bufs,
                &mut self.scratch,
                meter,
                alpha,
                sidechain,
                lap,
            );
            taps.strip(i, &self.strips[i].buf, gains, &self.scratch, n);
        }
        // The buses' EQs two at a time (their channels are consecutive runs of
        // `bus_bufs`, in bus order), then the rest of each bus.
        let mut rest = &mut self.bus_bufs[..];
        eqs_in_pairs(
            self.buses.iter_mut().filter_map(|bus| {
                let (bufs, tail) = std::mem::take(&mut rest).split_at_mut(bus.channels);
                rest = tail;
                Some((bus.eq.as_mut()?, bufs))
            }),
            n,
        );
        let mut counts = OutputCounts::default();
        for (bus, meter) in self.buses.iter_mut().zip(self.meters.buses.iter()) {
            let c = bus.process(
                &mut self.bus_bufs,
                outputs,
                offset,
                n,
                &mut self.scratch,
                meter,
                alpha,
                lap,
            );
            counts.non_finite += c.non_finite;
            counts.over_full_scale += c.over_full_scale;
        }
        taps.buses(&self.buses, &self.bus_bufs, self.strips.len() as u32, n);
        counts
    }

    /// Applies one parameter change; `false` if it names a strip, bus or send this graph
    /// does not have.
    pub(crate) fn apply(&mut self, command: Command) -> bool {
        match command {
            Command::StripTrim { strip: i, gain } => self
                .strips
                .get_mut(i as usize)
                .map(|s| s.trim.set_target(gain))
                .is_some(),
            Command::StripFader { strip: i, gain } => self
                .strips
                .get_mut(i as usize)
                .map(|s| s.fader.set_target(gain))
                .is_some(),
            Command::StripPan { strip: i, pan } => self
                .strips
                .get_mut(i as usize)
                .map(|s| {
                    s.pan = pan;
                    s.retarget_routes();
                })
                .is_some(),
            Command::StripMute { strip: i, on } => {
                let Some(s) = self.strips.get_mut(i as usize) else {
                    return false;
                };
                s.mute = on;
                self.update_audibility();
                true
            }
            Command::StripSolo { strip: i, on } => {
                let Some(s) = self.strips.get_mut(i as usize) else {
                    return false;
                };
                if s.solo != on {
                    s.solo = on;
                    if on {
                        self.solo_count += 1;
                    } else {
                        self.solo_count = self.solo_count.saturating_sub(1);
                    }
                }
                self.update_audibility();
                true
            }
            Command::Send {
                strip: i,
                bus,
                level,
                on,
                pre_fader,
            } => {
                let Some(s) = self.strips.get_mut(i as usize) else {
                    return false;
                };
                let Some(send) = s.sends.iter_mut().find(|x| x.bus == bus) else {
                    return false;
                };
                *send = SendState {
                    bus,
                    level,
                    on,
                    pre_fader,
                };
                s.retarget_routes();
                true
            }
            Command::BusFader { bus, gain } => self
                .buses
                .get_mut(bus as usize)
                .map(|b| b.fader.set_target(gain))
                .is_some(),
            Command::EqBand {
                target,
                band,
                params,
            } => match self.eq_mut(target) {
                Some(eq) if usize::from(band) < eq.bands() => {
                    eq.set_band(usize::from(band), params);
                    true
                }
                _ => false,
            },
            Command::Compressor { target, params } => {
                let compressor = match target {
                    Target::Strip(i) => self
                        .strips
                        .get_mut(i as usize)
                        .and_then(|s| s.compressor.as_mut()),
                    Target::Bus(i) => self
                        .buses
                        .get_mut(i as usize)
                        .and_then(|b| b.compressor.as_mut()),
                };
                compressor.map(|c| c.set_params(params)).is_some()
            }
            Command::Gate { strip, params } => self
                .strips
                .get_mut(strip as usize)
                .and_then(|s| s.gate.as_mut())
                .map(|g| g.set_params(params))
                .is_some(),
            Command::Limiter { bus, params } => self
                .buses
                .get_mut(bus as usize)
                .and_then(|b| b.limiter.as_mut())
                .map(|l| l.set_params(params))
                .is_some(),
            Command::BusMute { bus, on } => self
                .buses
                .get_mut(bus as usize)
                .map(|b| {
                    b.mute = on;
                    b.on.set_target(if on { 0.0 } else { 1.0 });
                })
                .is_some(),
        }
    }

    fn eq_mut(&mut self, target: Target) -> Option<&mut Equalizer> {
        match target {
            Target::Strip(i) => self.strips.get_mut(i as usize)?.eq.as_mut(),
            Target::Bus(i) => self.buses.get_mut(i as usize)?.eq.as_mut(),
        }
    }

    /// Frames of delay bus `bus` adds (its look-ahead limiter), for honest latency
    /// figures; 0 for buses without one.
    pub fn bus_latency_frames(&self, bus: usize) -> usize {
        self.buses.get(bus).map_or(0, |b| b.latency_frames())
    }

    /// Mute and solo-in-place decide whether each strip is heard.
    fn update_audibility(&mut self) {
        let any_solo = self.solo_count > 0;
        for s in self.strips.iter_mut() {
            let audible = !s.mute && (!any_solo || s.solo);
            s.on.set_target(if audible { 1.0 } else { 0.0 });
        }
    }
}

/// Runs each EQ over its buffers, two at a time through `Equalizer::process_pair` (which
/// interleaves them where that is faster), the odd one out alone.
fn eqs_in_pairs<'a>(
    eqs: impl Iterator<Item = (&'a mut Equalizer, &'a mut [Box<[f32]>])>,
    n: usize,
) {
    let mut waiting = None;
    for (eq, bufs) in eqs {
        match waiting.take() {
            None => waiting = Some((eq, bufs)),
            Some((x, x_bufs)) => Equalizer::process_pair(x, x_bufs, eq, bufs, n),
        }
    }
    if let Some((eq, bufs)) = waiting {
        eq.process(bufs, n);
    }
}
