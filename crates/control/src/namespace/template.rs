//! The parameter templates: one per kind of parameter, with its type, unit, range,
//! default and taper. The ranges are the session validator's, so a value the namespace
//! accepts is one the session file accepts.

use super::Kind;

/// What JSON a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A number (and `"-inf"` for the gains whose template says `neg_inf`).
    Number,
    /// `true` or `false`.
    Bool,
    /// A string (names).
    Text,
    /// One of these strings.
    Enum(&'static [&'static str]),
}

/// How the `/norm` form (0..1) maps onto the parameter's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taper {
    /// A console fader: -inf at 0, -60 dB at 0.0625, -30 at 0.25, -10 at 0.5, 0 dB at
    /// 0.75, +12 at 1, linear in dB between.
    Fader,
    /// Linear over `min..=max`.
    Linear,
    /// Logarithmic over `min..=max` (on `x - min + 1` when `min` is not above 0).
    Log,
    /// `false` is 0, `true` is 1; a norm of 0.5 or more is `true`.
    Toggle,
    /// The values' indices spread evenly over 0..1.
    Enum,
    /// No `/norm` form.
    None,
}

/// A parameter's default, as a fresh processor or strip has it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    /// A number in the parameter's units.
    Number(f64),
    /// A switch.
    Bool(bool),
    /// A string or enum value.
    Text(&'static str),
    /// None: the parameter is absent until set (a shelf's slope) or has no default (a name).
    None,
}

/// Which values a number takes in units, besides `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    /// `min..=max`.
    Closed,
    /// `0 < x <= max`: the validator's rule; `min` is only where the taper starts.
    AboveZero,
    /// `0 < x < sample_rate / 2`: `min..=max` is only the taper's span.
    BelowNyquist,
}

/// The session field a template reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Trim,
    Fader,
    Pan,
    Mute,
    Solo,
    RecallSafe,
    Name,
    Send(SendField),
    Gate(GateField),
    Compressor(CompressorField),
    Limiter(LimiterField),
    Eq(EqField),
    Player(PlayerField),
}

/// A file player's transport (`strip/<id>/player/…`): `loop` is the session's
/// `source.loop`; the others are the running player's state, not the session's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlayerField {
    Playing,
    Loop,
    Position,
    Length,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendField {
    Level,
    On,
    PreFader,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GateField {
    Open,
    Close,
    Attack,
    Hold,
    Release,
    Range,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompressorField {
    Threshold,
    Ratio,
    Attack,
    Release,
    Knee,
    Makeup,
    AutoMakeup,
    Detector,
    RmsMs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimiterField {
    Ceiling,
    Release,
    Lookahead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EqField {
    Kind,
    Freq,
    Q,
    Gain,
    Slope,
    On,
}

/// One kind of parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The path with placeholders: `strip/{strip}/eq/{band}/freq`.
    pub path: &'static str,
    /// Its JSON type.
    pub kind: ValueKind,
    /// `dB`, `Hz`, `ms`, `ratio` or empty.
    pub unit: &'static str,
    /// The lowest value (`-inf` for faders); for frequencies, Q and slopes the taper's
    /// start (any value above 0 is accepted in units).
    pub min: f64,
    /// The highest value; for frequencies the taper's end (a frequency must be below
    /// half the session's sample rate).
    pub max: f64,
    /// What a fresh strip, bus or processor has.
    pub default: DefaultValue,
    /// How `/norm` maps onto units.
    pub taper: Taper,
    /// Accepts and returns `"-inf"` (a fader or send that is off).
    pub neg_inf: bool,
    /// Changing it rebuilds the graph (a limiter's look-ahead) rather than gliding.
    pub structural: bool,
    pub(crate) field: Field,
    pub(crate) range: Range,
}

impl Template {
    /// Whether a scene crossfade interpolates it (numbers that change in place); the
    /// others switch at the start of the fade.
    pub fn glides(&self) -> bool {
        self.kind == ValueKind::Number && !self.structural && !self.transport()
    }

    /// Whether it is a running file player's transport state (`playing`, `position_s`,
    /// `length_s`): read from and set on the player, never saved, in no scene or undo.
    pub fn transport(&self) -> bool {
        matches!(self.field, Field::Player(f) if f != PlayerField::Loop)
    }

    /// Whether it can only be read (`length_s`).
    pub fn read_only(&self) -> bool {
        self.field == Field::Player(PlayerField::Length)
    }

    /// Whether it has a `/norm` form.
    pub fn has_norm(&self) -> bool {
        self.taper != Taper::None
    }

    /// Strip or bus.
    pub fn target(&self) -> Kind {
        if self.path.starts_with("strip/") {
            Kind::Strip
        } else {
            Kind::Bus
        }
    }
}
