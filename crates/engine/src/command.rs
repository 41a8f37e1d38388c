//! Parameter changes sent to the audio thread: small `Copy` values, so the queue moves
//! them without allocating and the engine applies them without freeing anything. Gains
//! travel as linear factors (the control side does the dB conversion).

use troubadour_dsp::biquad::FilterParams;
use troubadour_dsp::compressor::CompressorParams;
use troubadour_dsp::gate::GateParams;
use troubadour_dsp::limiter::LimiterParams;

/// A strip or a bus, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Strip index.
    Strip(u32),
    /// Bus index.
    Bus(u32),
}

/// One parameter change. Indices refer to the graph of the [`Tagged`] generation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command {
    /// Strip input trim, linear gain.
    StripTrim { strip: u32, gain: f32 },
    /// Strip fader, linear gain (0 = off).
    StripFader { strip: u32, gain: f32 },
    /// Strip pan (mono) or balance (stereo), -1..=1.
    StripPan { strip: u32, pan: f32 },
    /// Strip mute.
    StripMute { strip: u32, on: bool },
    /// Strip solo (in place).
    StripSolo { strip: u32, on: bool },
    /// A send's linear level, on/off and tap point.
    Send {
        strip: u32,
        bus: u32,
        level: f32,
        on: bool,
        pre_fader: bool,
    },
    /// Bus fader, linear gain.
    BusFader { bus: u32, gain: f32 },
    /// Bus mute.
    BusMute { bus: u32, on: bool },
    /// One EQ band's settings (they glide).
    EqBand {
        target: Target,
        band: u8,
        params: FilterParams,
    },
    /// A compressor's settings.
    Compressor {
        target: Target,
        params: CompressorParams,
    },
    /// A strip gate's settings.
    Gate { strip: u32, params: GateParams },
    /// A bus limiter's ceiling and release (its look-ahead is structural).
    Limiter { bus: u32, params: LimiterParams },
}

impl Command {
    /// Which parameter the command sets: two commands with the same key set the same
    /// thing, so of a run of them only the last matters.
    #[inline]
    pub fn key(&self) -> (u8, u32, u32) {
        let target = |t: &Target| match *t {
            Target::Strip(i) => i,
            Target::Bus(i) => i | 1 << 31,
        };
        match self {
            Command::StripTrim { strip, .. } => (0, *strip, 0),
            Command::StripFader { strip, .. } => (1, *strip, 0),
            Command::StripPan { strip, .. } => (2, *strip, 0),
            Command::StripMute { strip, .. } => (3, *strip, 0),
            Command::StripSolo { strip, .. } => (4, *strip, 0),
            Command::Send { strip, bus, .. } => (5, *strip, *bus),
            Command::BusFader { bus, .. } => (6, *bus, 0),
            Command::BusMute { bus, .. } => (7, *bus, 0),
            Command::EqBand {
                target: t, band, ..
            } => (8, target(t), u32::from(*band)),
            Command::Compressor { target: t, .. } => (9, target(t), 0),
            Command::Gate { strip, .. } => (10, *strip, 0),
            Command::Limiter { bus, .. } => (11, *bus, 0),
        }
    }
}

/// A command stamped with the generation of the graph it was computed against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tagged {
    /// Graph generation.
    pub generation: u32,
    /// The change.
    pub command: Command,
}
