//! The session: what the user saves and the control side owns. Plain data with serde;
//! the audio side never sees it (it gets a compiled [`Graph`](crate::graph::Graph)).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The session file format this build reads and writes.
pub const SESSION_VERSION: u32 = 1;

/// A whole mixer: engine settings, input strips and output buses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// File format version; must be [`SESSION_VERSION`].
    pub version: u32,
    /// The engine's sample rate in Hz.
    #[serde(default = "default_sample_rate")]
    pub sample_rate: u32,
    /// The engine's largest processing block in frames.
    #[serde(default = "default_block_frames")]
    pub block_frames: u32,
    /// Input strips, in mixer order.
    #[serde(default, rename = "strip", skip_serializing_if = "Vec::is_empty")]
    pub strips: Vec<Strip>,
    /// Output buses, in mixer order.
    #[serde(default, rename = "bus", skip_serializing_if = "Vec::is_empty")]
    pub buses: Vec<Bus>,
    /// Saved mixes, recalled by name (the control API's scenes).
    #[serde(default, rename = "scene", skip_serializing_if = "Vec::is_empty")]
    pub scenes: Vec<Scene>,
    /// MIDI controls mapped onto parameters.
    #[serde(default, rename = "midi", skip_serializing_if = "Vec::is_empty")]
    pub midi: Vec<super::MidiMapping>,
    /// Buttons that run several actions as one change.
    #[serde(default, rename = "macro", skip_serializing_if = "Vec::is_empty")]
    pub macros: Vec<super::Macro>,
    /// Where takes go and what they record (`[recorder]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorder: Option<super::Recorder>,
}

/// A saved mix: the value of every parameter it covers, by control path
/// (`strip/Mic/fader_db`), in the session file's units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    /// Unique among scenes.
    pub name: String,
    /// Parameter values by path.
    #[serde(default)]
    pub values: BTreeMap<String, SceneValue>,
}

/// One value of a scene: what the parameter's session field holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SceneValue {
    /// A switch.
    Bool(bool),
    /// A level, frequency, time or ratio (`-inf` for a fader that is off).
    Number(f64),
    /// A name or a kind.
    Text(String),
}

fn default_sample_rate() -> u32 {
    48_000
}

fn default_block_frames() -> u32 {
    256
}

fn default_channels() -> u16 {
    2
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(x: &f32) -> bool {
    *x == 0.0
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// An input strip: a source, its processing, its fader and its sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strip {
    /// Unique among strips; used by sends, sidechains and remote control.
    pub name: String,
    /// Where the signal comes from.
    pub source: Source,
    /// 1 (mono) to 8.
    #[serde(default = "default_channels")]
    pub channels: u16,
    /// Input trim in dB, before any processing.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gain_db: f32,
    /// Fader in dB: `-inf` (off) to +12.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fader_db: f32,
    /// Pan (mono strips) or balance (stereo strips), -1 (left) to 1 (right).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pan: f32,
    /// Silences the strip on every bus.
    #[serde(default, skip_serializing_if = "is_false")]
    pub mute: bool,
    /// Solo in place: while any strip is soloed, the others are silent on every bus.
    #[serde(default, skip_serializing_if = "is_false")]
    pub solo: bool,
    /// Noise gate slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
    /// Parametric EQ bands (at most 8).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eq: Vec<EqBand>,
    /// Compressor slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressor: Option<Compressor>,
    /// Sends to buses, by bus name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sends: BTreeMap<String, BusSend>,
    /// Left alone when a scene is recalled.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recall_safe: bool,
}

/// One strip's send to one bus.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSend {
    /// Send level in dB: `-inf` to +12.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub level_db: f32,
    /// Taps the signal before the fader (a monitor mix independent of the fader).
    #[serde(default, skip_serializing_if = "is_false")]
    pub pre_fader: bool,
    /// Whether the send is active.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub on: bool,
}

impl Default for BusSend {
    fn default() -> Self {
        Self {
            level_db: 0.0,
            pre_fader: false,
            on: true,
        }
    }
}

/// An output bus: the sum of its sends, its processing, its fader and its sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bus {
    /// Unique among buses.
    pub name: String,
    /// 1 (mono) to 8.
    #[serde(default = "default_channels")]
    pub channels: u16,
    /// Fader in dB: `-inf` (off) to +12.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fader_db: f32,
    /// Silences the bus.
    #[serde(default, skip_serializing_if = "is_false")]
    pub mute: bool,
    /// Where the bus plays; none means it is only metered (and written by `render`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink: Option<Sink>,
    /// Parametric EQ bands (at most 8).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eq: Vec<EqBand>,
    /// Compressor slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressor: Option<Compressor>,
    /// Limiter slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limiter: Option<Limiter>,
    /// Left alone when a scene is recalled.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recall_safe: bool,
}

/// Where a strip's signal comes from. In the file: a table with exactly one of
/// `device`, `file`, `generator`, `virtual` or `app`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SourceTable", into = "SourceTable")]
pub enum Source {
    /// A device channel or channel list, e.g. `system:capture_1`, opened by the live
    /// backends.
    Device(String),
    /// A virtual playback device that applications play into (on PipeWire: an
    /// `Audio/Sink` node made by the mixer, see [`virtual_node_name`]).
    Virtual(VirtualSource),
    /// The playback streams of matching applications, moved onto a virtual device of
    /// the strip's own (named after the strip). The pattern is a regular expression,
    /// case-insensitive and unanchored, over a stream's `application.name` and
    /// `application.process.binary` ("firefox" matches "Firefox" and "firefox-esr").
    App(String),
    /// An audio file, resolved relative to the session file.
    File {
        /// Path as written in the session.
        path: PathBuf,
        /// Start over at the end.
        looped: bool,
    },
    /// A test signal.
    Generator(GeneratorSource),
}

/// A virtual source's settings (`{ virtual = NAME, default = false, persist = false }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualSource {
    /// The device's name (its description; see [`virtual_node_name`]).
    pub name: String,
    /// Make it the system's default output while the mixer runs (the previous default
    /// comes back when it stops).
    pub default: bool,
    /// Leave the device on the server when the mixer exits, and reuse it at the next
    /// start (`object.linger`), so apps keep it selected.
    pub persist: bool,
}

impl VirtualSource {
    /// A virtual source `name`, neither default nor persistent.
    pub fn named(name: impl Into<String>) -> Self {
        VirtualSource {
            name: name.into(),
            default: false,
            persist: false,
        }
    }
}

/// A generator source's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeneratorSource {
    /// Which signal.
    pub kind: GeneratorKind,
    /// Sine frequency in Hz.
    pub freq: f64,
    /// Peak (sine, impulse) or RMS (noise) level in dBFS.
    pub level_db: f32,
    /// Noise seed; by default derived from the strip's name.
    pub seed: Option<u64>,
    /// Impulse spacing in milliseconds.
    pub interval_ms: f64,
}

/// The test signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeneratorKind {
    /// A sine tone.
    Sine,
    /// White noise.
    White,
    /// Pink noise.
    Pink,
    /// An impulse train.
    Impulse,
    /// Digital silence.
    Silence,
}

/// The source table as written in the file; checked into a [`Source`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device: Option<String>,
    #[serde(default, rename = "virtual", skip_serializing_if = "Option::is_none")]
    virtual_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    persist: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<PathBuf>,
    #[serde(default, rename = "loop", skip_serializing_if = "Option::is_none")]
    looped: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generator: Option<GeneratorKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    freq: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    level_db: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interval_ms: Option<f64>,
}

impl TryFrom<SourceTable> for Source {
    type Error = String;

    fn try_from(t: SourceTable) -> Result<Self, String> {
        let generator_fields =
            t.freq.is_some() || t.level_db.is_some() || t.seed.is_some() || t.interval_ms.is_some();
        let others = t.device.is_some()
            || t.file.is_some()
            || t.generator.is_some()
            || t.looped.is_some()
            || generator_fields;
        if let Some(name) = t.virtual_name {
            return if !others && t.app.is_none() {
                Ok(Source::Virtual(VirtualSource {
                    name,
                    default: t.default.unwrap_or(false),
                    persist: t.persist.unwrap_or(false),
                }))
            } else {
                Err("a virtual source takes only `virtual` (the device's name), `default` and `persist`".into())
            };
        }
        if t.default.is_some() || t.persist.is_some() {
            return Err(
                "`default` and `persist` belong to a virtual source: { virtual = \"NAME\", default = true }"
                    .into(),
            );
        }
        if let Some(pattern) = t.app {
            return if !others {
                Ok(Source::App(pattern))
            } else {
                Err("an app source takes only `app` (a pattern over application names)".into())
            };
        }
        match (t.device, t.file, t.generator) {
            (Some(device), None, None) if t.looped.is_none() && !generator_fields => {
                Ok(Source::Device(device))
            }
            (None, Some(path), None) if !generator_fields => Ok(Source::File {
                path,
                looped: t.looped.unwrap_or(false),
            }),
            (None, None, Some(kind)) if t.looped.is_none() => {
                Ok(Source::Generator(GeneratorSource {
                    kind,
                    freq: t.freq.unwrap_or(1000.0),
                    level_db: t.level_db.unwrap_or(-18.0),
                    seed: t.seed,
                    interval_ms: t.interval_ms.unwrap_or(1000.0),
                }))
            }
            (None, None, None) => Err(
                "a source needs one of `device`, `file`, `generator`, `virtual` or `app`, e.g. { generator = \"sine\", freq = 1000.0 }"
                    .into(),
            ),
            (d, f, g) if [d.is_some(), f.is_some(), g.is_some()].iter().filter(|x| **x).count() > 1 => {
                Err("a source takes only one of `device`, `file` or `generator`".into())
            }
            (Some(_), ..) => Err("a device source takes only `device`".into()),
            (_, Some(_), _) => Err("a file source takes only `file` and `loop`".into()),
            _ => Err(
                "a generator source takes only `generator`, `freq`, `level_db`, `seed` and `interval_ms`"
                    .into(),
            ),
        }
    }
}

impl From<Source> for SourceTable {
    fn from(s: Source) -> Self {
        match s {
            Source::Device(device) => SourceTable {
                device: Some(device),
                ..Default::default()
            },
            Source::Virtual(v) => SourceTable {
                virtual_name: Some(v.name),
                default: v.default.then_some(true),
                persist: v.persist.then_some(true),
                ..Default::default()
            },
            Source::App(pattern) => SourceTable {
                app: Some(pattern),
                ..Default::default()
            },
            Source::File { path, looped } => SourceTable {
                file: Some(path),
                looped: looped.then_some(true),
                ..Default::default()
            },
            Source::Generator(g) => SourceTable {
                generator: Some(g.kind),
                freq: (g.kind == GeneratorKind::Sine).then_some(g.freq),
                level_db: (g.kind != GeneratorKind::Silence).then_some(g.level_db),
                seed: g.seed,
                interval_ms: (g.kind == GeneratorKind::Impulse).then_some(g.interval_ms),
                ..Default::default()
            },
        }
    }
}

/// Where a bus plays. In the file: a table with exactly one of `device`, `file` or
/// `virtual`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SinkTable", into = "SinkTable")]
pub enum Sink {
    /// Device channels, e.g. `system:playback_1,system:playback_2`.
    Device(String),
    /// A WAV file, resolved relative to the session file.
    File(PathBuf),
    /// A virtual recording device ("microphone") of this name that applications record
    /// the bus from (on PipeWire: an `Audio/Source/Virtual` node made by the mixer).
    Virtual {
        /// The device's name (its description; see [`virtual_node_name`]).
        name: String,
        /// Make it the system's default input while the mixer runs (the previous
        /// default comes back when it stops).
        default: bool,
        /// Leave the device on the server when the mixer exits and reuse it at the next
        /// start (`object.linger`).
        persist: bool,
    },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SinkTable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<PathBuf>,
    #[serde(default, rename = "virtual", skip_serializing_if = "Option::is_none")]
    virtual_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    persist: Option<bool>,
}

impl TryFrom<SinkTable> for Sink {
    type Error = String;

    fn try_from(t: SinkTable) -> Result<Self, String> {
        match (t.device, t.file, t.virtual_name) {
            (None, None, Some(name)) => Ok(Sink::Virtual {
                name,
                default: t.default.unwrap_or(false),
                persist: t.persist.unwrap_or(false),
            }),
            _ if t.default.is_some() || t.persist.is_some() => {
                Err("`default` and `persist` belong to a virtual sink: { virtual = \"NAME\", default = true }".into())
            }
            (Some(d), None, None) => Ok(Sink::Device(d)),
            (None, Some(f), None) => Ok(Sink::File(f)),
            (None, None, None) => Err("a sink needs one of `device`, `file` or `virtual`".into()),
            _ => Err("a sink takes only one of `device`, `file` or `virtual`".into()),
        }
    }
}

impl From<Sink> for SinkTable {
    fn from(s: Sink) -> Self {
        match s {
            Sink::Device(d) => SinkTable {
                device: Some(d),
                ..Default::default()
            },
            Sink::File(f) => SinkTable {
                file: Some(f),
                ..Default::default()
            },
            Sink::Virtual {
                name,
                default,
                persist,
            } => SinkTable {
                virtual_name: Some(name),
                default: default.then_some(true),
                persist: persist.then_some(true),
                ..Default::default()
            },
        }
    }
}

/// The node name of a virtual device called `name`: `troubadour.` and the name in lower
/// case, every character other than an ASCII letter or digit as `_` ("Stream mix" is
/// `troubadour.stream_mix`).
pub fn virtual_node_name(name: &str) -> String {
    let tail: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("troubadour.{tail}")
}

impl Source {
    /// True for sources that a live backend feeds through the engine's inputs (device
    /// channels and virtual devices), in strip order.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Source::Device(_) | Source::Virtual(_) | Source::App(_)
        )
    }
}

/// One band of a parametric EQ.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EqBand {
    /// Filter type.
    pub kind: EqKind,
    /// Centre or corner frequency in Hz.
    pub freq: f64,
    /// Quality factor.
    #[serde(default = "default_q")]
    pub q: f64,
    /// Gain in dB (peak and shelves).
    #[serde(default)]
    pub gain_db: f64,
    /// Shelf slope S (shelves only; 1 is the steepest without overshoot). When given,
    /// it sets the shelf's steepness instead of `q`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slope: Option<f64>,
    /// Whether the band is active.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub on: bool,
}

fn default_q() -> f64 {
    std::f64::consts::FRAC_1_SQRT_2
}

/// The Audio EQ Cookbook filter types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EqKind {
    /// Peaking (bell).
    Peak,
    /// Low shelf.
    Lowshelf,
    /// High shelf.
    Highshelf,
    /// Low-pass.
    Lowpass,
    /// High-pass.
    Highpass,
    /// Band-pass (0 dB peak gain).
    Bandpass,
    /// Notch.
    Notch,
    /// All-pass.
    Allpass,
}

/// Compressor settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compressor {
    /// Level above which gain is reduced, dBFS.
    pub threshold_db: f32,
    /// Input dB above threshold per output dB above threshold (≥ 1).
    pub ratio: f32,
    /// Attack time constant in ms.
    #[serde(default = "default_attack")]
    pub attack_ms: f32,
    /// Release time constant in ms.
    #[serde(default = "default_release")]
    pub release_ms: f32,
    /// Soft-knee width in dB (0 = hard knee).
    #[serde(default)]
    pub knee_db: f32,
    /// Make-up gain in dB.
    #[serde(default)]
    pub makeup_db: f32,
    /// Also add half the gain reduction a 0 dBFS signal would get.
    #[serde(default, skip_serializing_if = "is_false")]
    pub auto_makeup: bool,
    /// What the detector measures: `rms` (over `rms_ms`) or `peak`.
    #[serde(default)]
    pub detector: DetectorKind,
    /// RMS window (time constant), ms.
    #[serde(default = "default_rms_ms")]
    pub rms_ms: f32,
    /// Another strip whose pre-fader signal drives the detector (ducking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidechain: Option<String>,
}

/// A compressor's detector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectorKind {
    /// Mean square over `rms_ms`.
    #[default]
    Rms,
    /// Sample peaks.
    Peak,
}

fn default_rms_ms() -> f32 {
    10.0
}

fn default_attack() -> f32 {
    10.0
}

fn default_release() -> f32 {
    100.0
}

/// Noise gate settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// Level at which the gate opens, dBFS.
    pub open_db: f32,
    /// Level below which it closes, dBFS (≤ `open_db`: hysteresis).
    pub close_db: f32,
    /// Opening time in ms.
    #[serde(default = "default_gate_attack")]
    pub attack_ms: f32,
    /// Time held open after the signal falls below `close_db`, ms.
    #[serde(default = "default_hold")]
    pub hold_ms: f32,
    /// Closing time in ms.
    #[serde(default = "default_release")]
    pub release_ms: f32,
    /// Attenuation when closed, dB (negative).
    #[serde(default = "default_range")]
    pub range_db: f32,
}

fn default_gate_attack() -> f32 {
    1.0
}

fn default_hold() -> f32 {
    50.0
}

fn default_range() -> f32 {
    -80.0
}

/// Limiter settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limiter {
    /// Highest sample peak allowed out, dBFS.
    pub ceiling_db: f32,
    /// Look-ahead in ms.
    #[serde(default = "default_lookahead")]
    pub lookahead_ms: f32,
    /// Release in ms.
    #[serde(default = "default_release")]
    pub release_ms: f32,
}

fn default_lookahead() -> f32 {
    1.5
}

impl Session {
    /// The built-in session `troubadour run` uses when given none: two stereo strips
    /// (a -18 dBFS 440 Hz sine and -30 dBFS RMS pink noise) into two stereo buses, `A1`
    /// (post-fader sends at 0 dB) and `B1` (pre-fader monitor sends at -6 dB).
    pub fn default_session() -> Self {
        let strip = |name: &str, kind, freq, level_db| Strip {
            name: name.into(),
            source: Source::Generator(GeneratorSource {
                kind,
                freq,
                level_db,
                seed: None,
                interval_ms: 1000.0,
            }),
            channels: 2,
            gain_db: 0.0,
            fader_db: 0.0,
            pan: 0.0,
            mute: false,
            solo: false,
            gate: None,
            eq: Vec::new(),
            compressor: None,
            sends: [
                ("A1".to_string(), BusSend::default()),
                (
                    "B1".to_string(),
                    BusSend {
                        level_db: -6.0,
                        pre_fader: true,
                        on: true,
                    },
                ),
            ]
            .into_iter()
            .collect(),
            recall_safe: false,
        };
        let bus = |name: &str| Bus {
            name: name.into(),
            channels: 2,
            fader_db: 0.0,
            mute: false,
            sink: None,
            eq: Vec::new(),
            compressor: None,
            limiter: None,
            recall_safe: false,
        };
        Session {
            version: SESSION_VERSION,
            sample_rate: 48_000,
            block_frames: 256,
            strips: vec![
                strip("Tone", GeneratorKind::Sine, 440.0, -18.0),
                strip("Noise", GeneratorKind::Pink, 1000.0, -30.0),
            ],
            buses: vec![bus("A1"), bus("B1")],
            scenes: Vec::new(),
            midi: Vec::new(),
            macros: Vec::new(),
            recorder: None,
        }
    }

    /// Index of the strip called `name`.
    pub fn strip_index(&self, name: &str) -> Option<usize> {
        self.strips.iter().position(|s| s.name == name)
    }

    /// Index of the bus called `name`.
    pub fn bus_index(&self, name: &str) -> Option<usize> {
        self.buses.iter().position(|b| b.name == name)
    }
}

impl Bus {
    /// The name of the file an offline render writes this bus to: its file sink's file
    /// name if it has one, else its name with anything but letters, digits, `-` and `_`
    /// replaced by `_`, and `.wav`. Two buses must not share one (validation checks).
    pub fn output_file_name(&self) -> std::ffi::OsString {
        if let Some(Sink::File(path)) = &self.sink
            && let Some(name) = path.file_name()
        {
            return name.to_os_string();
        }
        let clean: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{clean}.wav").into()
    }
}
