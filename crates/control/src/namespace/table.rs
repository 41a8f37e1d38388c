//! The table of templates, with the validator's ranges.

use super::template::{
    CompressorField, DefaultValue, EqField, Field, GateField, LimiterField, PlayerField, Range,
    SendField, Taper, Template, ValueKind,
};

const fn number(
    path: &'static str,
    field: Field,
    unit: &'static str,
    span: (f64, f64),
    default: f64,
    taper: Taper,
) -> Template {
    Template {
        path,
        kind: ValueKind::Number,
        unit,
        min: span.0,
        max: span.1,
        default: DefaultValue::Number(default),
        taper,
        neg_inf: false,
        structural: false,
        field,
        range: Range::Closed,
    }
}

const fn fader(path: &'static str, field: Field) -> Template {
    Template {
        neg_inf: true,
        ..number(
            path,
            field,
            "dB",
            (f64::NEG_INFINITY, FADER_MAX),
            0.0,
            Taper::Fader,
        )
    }
}

const fn toggle(path: &'static str, field: Field, default: bool) -> Template {
    Template {
        kind: ValueKind::Bool,
        default: DefaultValue::Bool(default),
        ..number(path, field, "", (0.0, 1.0), 0.0, Taper::Toggle)
    }
}

const fn choice(path: &'static str, field: Field, values: &'static [&'static str]) -> Template {
    Template {
        kind: ValueKind::Enum(values),
        default: DefaultValue::Text(values[0]),
        ..number(path, field, "", (0.0, 1.0), 0.0, Taper::Enum)
    }
}

const fn name(path: &'static str) -> Template {
    Template {
        kind: ValueKind::Text,
        default: DefaultValue::None,
        ..number(path, Field::Name, "", (0.0, 0.0), 0.0, Taper::None)
    }
}

const FADER_MAX: f64 = troubadour_engine::session::FADER_MAX_DB as f64;
const TRIM: (f64, f64) = (
    troubadour_engine::session::TRIM_RANGE_DB.0 as f64,
    troubadour_engine::session::TRIM_RANGE_DB.1 as f64,
);

/// EQ kinds as the session file spells them, in `EqKind`'s order.
pub(crate) const EQ_KINDS: &[&str] = &[
    "peak",
    "lowshelf",
    "highshelf",
    "lowpass",
    "highpass",
    "bandpass",
    "notch",
    "allpass",
];
/// Detector kinds as the session file spells them, `DetectorKind::Rms` first.
pub(crate) const DETECTORS: &[&str] = &["rms", "peak"];

use CompressorField as C;
use EqField as E;
use GateField as G;
use LimiterField as L;
use SendField as S;
use Taper::{Linear, Log};

/// The same processors sit on strips and buses under different prefixes.
macro_rules! eq_templates {
    ($p:literal) => {
        [
            choice(concat!($p, "/eq/{band}/kind"), Field::Eq(E::Kind), EQ_KINDS),
            Template {
                range: Range::BelowNyquist,
                ..number(
                    concat!($p, "/eq/{band}/freq"),
                    Field::Eq(E::Freq),
                    "Hz",
                    (10.0, 24_000.0),
                    1000.0,
                    Log,
                )
            },
            Template {
                range: Range::AboveZero,
                ..number(
                    concat!($p, "/eq/{band}/q"),
                    Field::Eq(E::Q),
                    "",
                    (0.1, 100.0),
                    std::f64::consts::FRAC_1_SQRT_2,
                    Log,
                )
            },
            number(
                concat!($p, "/eq/{band}/gain_db"),
                Field::Eq(E::Gain),
                "dB",
                (-24.0, 24.0),
                0.0,
                Linear,
            ),
            Template {
                range: Range::AboveZero,
                default: DefaultValue::None,
                ..number(
                    concat!($p, "/eq/{band}/slope"),
                    Field::Eq(E::Slope),
                    "",
                    (0.1, 4.0),
                    1.0,
                    Log,
                )
            },
            toggle(concat!($p, "/eq/{band}/on"), Field::Eq(E::On), true),
        ]
    };
}

macro_rules! compressor_templates {
    ($p:literal) => {
        [
            number(
                concat!($p, "/compressor/threshold_db"),
                Field::Compressor(C::Threshold),
                "dB",
                (-80.0, 0.0),
                -20.0,
                Linear,
            ),
            number(
                concat!($p, "/compressor/ratio"),
                Field::Compressor(C::Ratio),
                "ratio",
                (1.0, 100.0),
                4.0,
                Log,
            ),
            number(
                concat!($p, "/compressor/attack_ms"),
                Field::Compressor(C::Attack),
                "ms",
                (0.01, 1000.0),
                10.0,
                Log,
            ),
            number(
                concat!($p, "/compressor/release_ms"),
                Field::Compressor(C::Release),
                "ms",
                (1.0, 5000.0),
                100.0,
                Log,
            ),
            number(
                concat!($p, "/compressor/knee_db"),
                Field::Compressor(C::Knee),
                "dB",
                (0.0, 24.0),
                0.0,
                Linear,
            ),
            number(
                concat!($p, "/compressor/makeup_db"),
                Field::Compressor(C::Makeup),
                "dB",
                (-24.0, 24.0),
                0.0,
                Linear,
            ),
            toggle(
                concat!($p, "/compressor/auto_makeup"),
                Field::Compressor(C::AutoMakeup),
                false,
            ),
            choice(
                concat!($p, "/compressor/detector"),
                Field::Compressor(C::Detector),
                DETECTORS,
            ),
            number(
                concat!($p, "/compressor/rms_ms"),
                Field::Compressor(C::RmsMs),
                "ms",
                (0.1, 1000.0),
                10.0,
                Log,
            ),
        ]
    };
}

pub(crate) static STRIP_TOP: [Template; 7] = [
    number(
        "strip/{strip}/trim_db",
        Field::Trim,
        "dB",
        TRIM,
        0.0,
        Linear,
    ),
    fader("strip/{strip}/fader_db", Field::Fader),
    number(
        "strip/{strip}/pan",
        Field::Pan,
        "",
        (-1.0, 1.0),
        0.0,
        Linear,
    ),
    toggle("strip/{strip}/mute", Field::Mute, false),
    toggle("strip/{strip}/solo", Field::Solo, false),
    toggle("strip/{strip}/recall_safe", Field::RecallSafe, false),
    name("strip/{strip}/name"),
];

/// The longest position a seek takes, seconds (a day); a seek is clamped to the
/// file's length anyway.
const POSITION_MAX: f64 = 86_400.0;

/// A file player's transport: only strips whose source is a file have it.
pub(crate) static STRIP_PLAYER: [Template; 4] = [
    toggle(
        "strip/{strip}/player/playing",
        Field::Player(PlayerField::Playing),
        true,
    ),
    toggle(
        "strip/{strip}/player/loop",
        Field::Player(PlayerField::Loop),
        false,
    ),
    number(
        "strip/{strip}/player/position_s",
        Field::Player(PlayerField::Position),
        "s",
        (0.0, POSITION_MAX),
        0.0,
        Taper::None,
    ),
    number(
        "strip/{strip}/player/length_s",
        Field::Player(PlayerField::Length),
        "s",
        (0.0, POSITION_MAX),
        0.0,
        Taper::None,
    ),
];

pub(crate) static STRIP_GATE: [Template; 6] = [
    number(
        "strip/{strip}/gate/open_db",
        Field::Gate(G::Open),
        "dB",
        (-100.0, 0.0),
        -40.0,
        Linear,
    ),
    number(
        "strip/{strip}/gate/close_db",
        Field::Gate(G::Close),
        "dB",
        (-100.0, 0.0),
        -50.0,
        Linear,
    ),
    number(
        "strip/{strip}/gate/attack_ms",
        Field::Gate(G::Attack),
        "ms",
        (0.01, 1000.0),
        1.0,
        Log,
    ),
    number(
        "strip/{strip}/gate/hold_ms",
        Field::Gate(G::Hold),
        "ms",
        (0.0, 5000.0),
        50.0,
        Log,
    ),
    number(
        "strip/{strip}/gate/release_ms",
        Field::Gate(G::Release),
        "ms",
        (1.0, 5000.0),
        100.0,
        Log,
    ),
    number(
        "strip/{strip}/gate/range_db",
        Field::Gate(G::Range),
        "dB",
        (-120.0, 0.0),
        -80.0,
        Linear,
    ),
];

pub(crate) static STRIP_EQ: [Template; 6] = eq_templates!("strip/{strip}");
pub(crate) static STRIP_COMPRESSOR: [Template; 9] = compressor_templates!("strip/{strip}");

pub(crate) static STRIP_SEND: [Template; 3] = [
    fader("strip/{strip}/send/{bus}/level_db", Field::Send(S::Level)),
    toggle("strip/{strip}/send/{bus}/on", Field::Send(S::On), true),
    toggle(
        "strip/{strip}/send/{bus}/pre_fader",
        Field::Send(S::PreFader),
        false,
    ),
];

pub(crate) static BUS_TOP: [Template; 4] = [
    fader("bus/{bus}/fader_db", Field::Fader),
    toggle("bus/{bus}/mute", Field::Mute, false),
    toggle("bus/{bus}/recall_safe", Field::RecallSafe, false),
    name("bus/{bus}/name"),
];

pub(crate) static BUS_EQ: [Template; 6] = eq_templates!("bus/{bus}");
pub(crate) static BUS_COMPRESSOR: [Template; 9] = compressor_templates!("bus/{bus}");

pub(crate) static BUS_LIMITER: [Template; 3] = [
    number(
        "bus/{bus}/limiter/ceiling_db",
        Field::Limiter(L::Ceiling),
        "dB",
        (-60.0, 0.0),
        -1.0,
        Linear,
    ),
    number(
        "bus/{bus}/limiter/release_ms",
        Field::Limiter(L::Release),
        "ms",
        (1.0, 5000.0),
        100.0,
        Log,
    ),
    Template {
        structural: true,
        ..number(
            "bus/{bus}/limiter/lookahead_ms",
            Field::Limiter(L::Lookahead),
            "ms",
            (0.0, 20.0),
            1.5,
            Log,
        )
    },
];

/// Every template, strips' first, in the order [`flatten`](super::flatten) lists them.
pub fn templates() -> impl Iterator<Item = &'static Template> {
    [
        &STRIP_TOP[..],
        &STRIP_PLAYER,
        &STRIP_GATE,
        &STRIP_EQ,
        &STRIP_COMPRESSOR,
        &STRIP_SEND,
        &BUS_TOP,
        &BUS_EQ,
        &BUS_COMPRESSOR,
        &BUS_LIMITER,
    ]
    .into_iter()
    .flatten()
}

/// The template whose path (with placeholders) is `path`.
pub(crate) fn find(path: &str) -> Option<&'static Template> {
    templates().find(|t| t.path == path)
}
