//! The rules a session must satisfy, checked all at once so the user sees every problem
//! in one go.

use std::path::Path;

use super::SESSION_VERSION;
use super::diagnostic::Severity;
use super::locate::Seg;
use super::model::{Bus, Compressor, EqBand, Gate, Limiter, Session, Source, Strip};
use crate::audio_file::AudioFileInfo;

/// Largest number of EQ bands on one strip or bus.
pub const MAX_EQ_BANDS: usize = 8;
/// Highest channel count of a strip or bus.
pub const MAX_CHANNELS: u16 = 8;
/// Fader and send range, dB.
pub const FADER_MAX_DB: f32 = 12.0;
/// Trim range, dB.
pub const TRIM_RANGE_DB: (f32, f32) = (-60.0, 24.0);
/// Supported engine sample rates, Hz.
pub const SAMPLE_RATE_RANGE: (u32, u32) = (8_000, 384_000);
/// Supported engine block sizes, frames.
pub const BLOCK_FRAMES_RANGE: (u32, u32) = (16, 8_192);

/// A problem before it is located in the text.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub path: Vec<Seg>,
    pub field: String,
    pub message: String,
    pub severity: Severity,
}

/// Whether a strip of `strip` channels can feed a bus of `bus` channels, and how:
/// equal counts map channel to channel, mono spreads onto any bus (panned onto the first
/// two channels), stereo folds down onto mono.
pub fn channels_compatible(strip: u16, bus: u16) -> bool {
    strip == bus || strip == 1 || (strip == 2 && bus == 1)
}

struct Checker<'a> {
    session: &'a Session,
    base_dir: &'a Path,
    /// For a live mixer: a file source that is not there (yet) is a warning, its strip
    /// silent until the file appears, not an error.
    live: bool,
    problems: Vec<Problem>,
}

/// A field under a strip or bus: its path in the document and its label for people.
#[derive(Clone)]
struct Field {
    path: Vec<Seg>,
    label: String,
}

impl Field {
    fn top(key: &str) -> Self {
        Field {
            path: vec![key.into()],
            label: key.to_string(),
        }
    }

    fn item(kind: &str, index: usize, name: &str) -> Self {
        let label = if name.is_empty() {
            format!("{kind} #{}", index + 1)
        } else {
            format!("{kind} {name:?}")
        };
        Field {
            path: vec![kind.into(), index.into()],
            label,
        }
    }

    fn key(&self, key: &str) -> Self {
        let mut path = self.path.clone();
        path.push(key.into());
        // Inside a strip or bus the label is `strip "Mic" sends.B1`: a space after the
        // item, dots between keys.
        let sep = if self.path.len() == 2 && matches!(self.path[1], Seg::Index(_)) {
            " "
        } else {
            "."
        };
        Field {
            path,
            label: format!("{}{sep}{key}", self.label),
        }
    }

    fn index(&self, i: usize) -> Self {
        let mut path = self.path.clone();
        path.push(i.into());
        Field {
            path,
            label: format!("{}[{i}]", self.label),
        }
    }
}

/// `name` as a TOML key: bare when it can be, quoted otherwise.
fn toml_key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

/// A computed limit for people: at most four significant digits (a minimum of
/// 1000 / 48000 ms reads 0.02083, not 0.020833333333333332).
fn rounded(x: f64) -> String {
    if x == 0.0 || !x.is_finite() || x.abs() >= 1000.0 {
        return format!("{x}");
    }
    let decimals = (3 - x.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `+12` rather than `12`, so a range reads as dB.
fn signed(x: f32) -> String {
    if x == f32::NEG_INFINITY {
        "-inf".into()
    } else {
        format!("{x:+}")
    }
}

impl Checker<'_> {
    fn report(&mut self, field: &Field, severity: Severity, message: String) {
        self.problems.push(Problem {
            path: field.path.clone(),
            field: field.label.clone(),
            message,
            severity,
        });
    }

    fn error(&mut self, field: &Field, message: impl Into<String>) {
        self.report(field, Severity::Error, message.into());
    }

    fn warn(&mut self, field: &Field, message: impl Into<String>) {
        self.report(field, Severity::Warning, message.into());
    }

    /// A value in `min..=max` with a unit (`"dB"`, `"ms"`, ...). NaN is always wrong.
    fn range(&mut self, field: &Field, value: f64, min: f64, max: f64, unit: &str) {
        let unit_sep = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        let fmt = |x: f64| {
            if unit == "dB" {
                signed(x as f32)
            } else {
                rounded(x)
            }
        };
        // Most fields are f32, checked here in f64: the f32 nearest a bound the user
        // wrote (0.01 ms is 0.0099999998) is that bound, not beyond it.
        let below = value < min && (value as f32) < (min as f32);
        let above = value > max && (value as f32) > (max as f32);
        if value.is_nan() {
            self.error(field, "NaN is not a number this field accepts");
        } else if below {
            self.error(
                field,
                format!("{value} is below the minimum of {}{unit_sep}", fmt(min)),
            );
        } else if above {
            self.error(
                field,
                format!("{value} is above the maximum of {}{unit_sep}", fmt(max)),
            );
        }
    }

    fn fader(&mut self, field: &Field, db: f32) {
        self.range(
            field,
            f64::from(db),
            f64::NEG_INFINITY,
            f64::from(FADER_MAX_DB),
            "dB",
        );
    }

    fn nyquist(&self) -> f64 {
        f64::from(self.session.sample_rate) / 2.0
    }

    fn frequency(&mut self, field: &Field, hz: f64) {
        let nyquist = self.nyquist();
        if hz.is_nan() || hz <= 0.0 {
            self.error(field, format!("{hz} Hz is not a frequency above 0 Hz"));
        } else if hz >= nyquist {
            self.error(
                field,
                format!(
                    "{hz} Hz is at or above the Nyquist frequency ({nyquist} Hz at the session's {} Hz)",
                    self.session.sample_rate
                ),
            );
        }
    }

    fn names<'n>(&mut self, kind: &str, names: impl Iterator<Item = &'n str>) {
        let mut seen: Vec<&str> = Vec::new();
        for (i, name) in names.enumerate() {
            let field = Field::item(kind, i, name).key("name");
            if name.trim().is_empty() {
                self.error(&field, format!("a {kind} needs a name"));
            } else if let Some(c) = name.chars().find(|c| c.is_control()) {
                self.error(
                    &field,
                    format!(
                        "a {kind} name cannot contain control characters (U+{:04X} in {name:?})",
                        u32::from(c)
                    ),
                );
            } else if name.chars().all(|c| c.is_ascii_digit()) {
                // The control API addresses strips and buses by name or by 1-based
                // index: a name of digits would be both.
                self.error(
                    &field,
                    format!(
                        "a {kind} name cannot be only digits ({name:?}): remote control takes digits as a {kind}'s position"
                    ),
                );
            } else if name.contains('/') {
                self.error(
                    &field,
                    format!(
                        "a {kind} name cannot contain '/' ({name:?}): it separates the parts of a control path like strip/Mic/fader_db"
                    ),
                );
            } else if let Some(first) = seen.iter().position(|n| *n == name) {
                self.error(
                    &field,
                    format!(
                        "duplicate {kind} name {name:?} ({kind} #{} has it already)",
                        first + 1
                    ),
                );
            }
            seen.push(name);
        }
    }

    fn check(&mut self) {
        let s = self.session;
        if s.version != SESSION_VERSION {
            self.error(
                &Field::top("version"),
                format!(
                    "version {} is not supported; this build reads version {SESSION_VERSION}",
                    s.version
                ),
            );
        }
        let (lo, hi) = SAMPLE_RATE_RANGE;
        if !(lo..=hi).contains(&s.sample_rate) {
            self.error(
                &Field::top("sample_rate"),
                format!(
                    "{} Hz is outside the supported range {lo}..={hi} Hz",
                    s.sample_rate
                ),
            );
        }
        let (lo, hi) = BLOCK_FRAMES_RANGE;
        if !(lo..=hi).contains(&s.block_frames) {
            self.error(
                &Field::top("block_frames"),
                format!(
                    "{} frames is outside the supported range {lo}..={hi}",
                    s.block_frames
                ),
            );
        }
        if s.buses.is_empty() {
            self.warn(
                &Field::top("bus"),
                "the session has no buses: nothing will be heard or written",
            );
        }
        self.names("strip", s.strips.iter().map(|x| x.name.as_str()));
        self.names("bus", s.buses.iter().map(|x| x.name.as_str()));
        for (i, strip) in s.strips.iter().enumerate() {
            self.strip(&Field::item("strip", i, &strip.name), strip);
        }
        self.sidechain_cycles();
        self.virtual_devices(s);
        let mut files: Vec<std::ffi::OsString> = Vec::new();
        for (i, bus) in s.buses.iter().enumerate() {
            let field = Field::item("bus", i, &bus.name);
            self.bus(&field, bus);
            // A render writes every bus to a file; two of one name would overwrite.
            let file = bus.output_file_name();
            if let Some(j) = files.iter().position(|f| *f == file) {
                let at = match &bus.sink {
                    Some(super::Sink::File(_)) => field.key("sink").key("file"),
                    _ => field.key("name"),
                };
                self.error(
                    &at,
                    format!(
                        "would be written to {} like bus {:?} (bus names become file names with anything but letters, digits, - and _ replaced by _): rename one or give it a file sink",
                        file.to_string_lossy(),
                        s.buses[j].name
                    ),
                );
            }
            files.push(file);
        }
    }

    /// Virtual devices: a non-empty name each, and no two with the same node name (the
    /// server would refuse the second, or apps could not tell them apart); an `app`
    /// strip's device is named after the strip. At most one default output and one
    /// default input.
    fn virtual_devices(&mut self, s: &Session) {
        let strips = s
            .strips
            .iter()
            .enumerate()
            .filter_map(|(i, x)| {
                let f = Field::item("strip", i, &x.name).key("source");
                match &x.source {
                    super::Source::Virtual(v) => Some((
                        f.key("virtual"),
                        &v.name,
                        v.default.then(|| f.key("default")),
                    )),
                    super::Source::App(pattern) => {
                        let f = f.key("app");
                        if let Err(e) = app_pattern(pattern) {
                            self.error(&f, format!("{pattern:?} is not a regular expression: {e}"));
                        }
                        Some((f, &x.name, None))
                    }
                    _ => None,
                }
            })
            .collect::<Vec<_>>();
        let buses = s
            .buses
            .iter()
            .enumerate()
            .filter_map(|(i, x)| match &x.sink {
                Some(super::Sink::Virtual { name, default, .. }) => {
                    let f = Field::item("bus", i, &x.name).key("sink");
                    Some((f.key("virtual"), name, default.then(|| f.key("default"))))
                }
                _ => None,
            })
            .collect::<Vec<_>>();
        let mut seen: Vec<(String, &str)> = Vec::new();
        for (field, name, _) in strips.iter().chain(&buses) {
            if name.trim().is_empty() {
                self.error(field, "a virtual device needs a name");
                continue;
            }
            let node = super::virtual_node_name(name);
            if let Some((_, other)) = seen.iter().find(|(n, _)| *n == node) {
                self.error(
                    field,
                    format!(
                        "the virtual device {name:?} would be node {node:?}, like the virtual device {other:?}: virtual device names must be unique"
                    ),
                );
            }
            seen.push((node, name.as_str()));
        }
        for (list, what) in [(&strips, "output"), (&buses, "input")] {
            let defaults: Vec<_> = list
                .iter()
                .filter_map(|(_, name, d)| d.as_ref().map(|d| (d, name)))
                .collect();
            if let [(_, first), rest @ ..] = defaults.as_slice() {
                for (field, name) in rest {
                    self.error(
                        field,
                        format!(
                            "the virtual device {name:?} and {first:?} both ask to be the default {what}: only one can be"
                        ),
                    );
                }
            }
        }
    }

    fn channels(&mut self, field: &Field, channels: u16) -> bool {
        if (1..=MAX_CHANNELS).contains(&channels) {
            true
        } else {
            self.error(
                field,
                format!("{channels} channels is outside the supported range 1..={MAX_CHANNELS}"),
            );
            false
        }
    }

    fn strip(&mut self, f: &Field, strip: &Strip) {
        let channels_ok = self.channels(&f.key("channels"), strip.channels);
        let (lo, hi) = TRIM_RANGE_DB;
        self.range(
            &f.key("gain_db"),
            f64::from(strip.gain_db),
            f64::from(lo),
            f64::from(hi),
            "dB",
        );
        self.fader(&f.key("fader_db"), strip.fader_db);
        self.range(&f.key("pan"), f64::from(strip.pan), -1.0, 1.0, "");
        self.source(&f.key("source"), strip, channels_ok);
        if let Some(gate) = &strip.gate {
            self.gate(&f.key("gate"), gate);
        }
        self.eq(&f.key("eq"), &strip.eq);
        if let Some(c) = &strip.compressor {
            self.compressor(&f.key("compressor"), c, Some(&strip.name));
        }
        if strip.sends.is_empty() && !self.session.buses.is_empty() {
            self.warn(
                &f.key("name"),
                format!(
                    "no sends: this strip is heard on no bus (add e.g. sends = {{ {} = {{}} }})",
                    toml_key(&self.session.buses[0].name)
                ),
            );
        }
        for (bus_name, send) in &strip.sends {
            let field = f.key("sends").key(bus_name);
            match self.session.buses.iter().find(|b| &b.name == bus_name) {
                None => {
                    let known: Vec<&str> =
                        self.session.buses.iter().map(|b| b.name.as_str()).collect();
                    let known = if known.is_empty() {
                        "there are none".to_string()
                    } else {
                        known.join(", ")
                    };
                    self.error(
                        &field,
                        format!("send to unknown bus {bus_name:?} (buses: {known})"),
                    );
                }
                Some(bus) if channels_ok && !channels_compatible(strip.channels, bus.channels) => {
                    self.error(
                        &field,
                        format!(
                            "a {}-channel strip cannot feed the {}-channel bus {bus_name:?} (allowed: equal counts, mono to any, stereo to mono)",
                            strip.channels, bus.channels
                        ),
                    );
                }
                Some(_) => {}
            }
            self.fader(&field.key("level_db"), send.level_db);
        }
    }

    fn source(&mut self, f: &Field, strip: &Strip, channels_ok: bool) {
        match &strip.source {
            // Checked with the buses' in `virtual_devices`.
            Source::Virtual(_) | Source::App(_) => {}
            Source::Device(name) => {
                if name.trim().is_empty() {
                    self.error(
                        &f.key("device"),
                        "a device source needs a port or channel name",
                    );
                }
            }
            Source::Generator(g) => {
                if g.kind == super::GeneratorKind::Sine {
                    self.frequency(&f.key("freq"), g.freq);
                }
                self.range(&f.key("level_db"), f64::from(g.level_db), -120.0, 0.0, "dB");
                if g.kind == super::GeneratorKind::Impulse {
                    let min_ms = 1000.0 / f64::from(self.session.sample_rate.max(1));
                    self.range(
                        &f.key("interval_ms"),
                        g.interval_ms,
                        min_ms,
                        3_600_000.0,
                        "ms",
                    );
                }
            }
            Source::File { path, .. } => {
                let field = f.key("file");
                let full = self.base_dir.join(path);
                match AudioFileInfo::read(&full) {
                    Err(crate::audio_file::AudioFileError::Open { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        let missing = format!(
                            "file {} not found (looked for {})",
                            path.display(),
                            full.display()
                        );
                        if self.live {
                            self.warn(
                                &field,
                                format!("{missing}: the strip is silent until the file appears"),
                            )
                        } else {
                            self.error(&field, missing)
                        }
                    }
                    Err(e) => self.error(&field, e.to_string()),
                    Ok(info) => {
                        let (lo, hi) = (
                            info.sample_rate.min(self.session.sample_rate),
                            info.sample_rate.max(self.session.sample_rate),
                        );
                        if hi > lo.saturating_mul(troubadour_dsp::resample::MAX_RATIO) {
                            self.error(
                                &field,
                                format!(
                                    "{} is at {} Hz, more than {}x away from the session's {} Hz (too far to resample)",
                                    path.display(),
                                    info.sample_rate,
                                    troubadour_dsp::resample::MAX_RATIO,
                                    self.session.sample_rate
                                ),
                            );
                        }
                        if channels_ok && info.channels != strip.channels && info.channels != 1 {
                            self.error(
                                &field,
                                format!(
                                    "{} has {} channels but the strip has {} (a file must match the strip, or be mono)",
                                    path.display(),
                                    info.channels,
                                    strip.channels
                                ),
                            );
                        }
                    }
                }
            }
        }
    }

    fn eq(&mut self, f: &Field, bands: &[EqBand]) {
        if bands.len() > MAX_EQ_BANDS {
            self.error(
                &f.index(MAX_EQ_BANDS),
                format!(
                    "{} EQ bands; at most {MAX_EQ_BANDS} are supported",
                    bands.len()
                ),
            );
        }
        for (i, band) in bands.iter().enumerate() {
            let b = f.index(i);
            self.frequency(&b.key("freq"), band.freq);
            if band.q.is_nan() || band.q <= 0.0 || band.q > 100.0 {
                self.error(
                    &b.key("q"),
                    format!("a Q of {} is outside the range (0, 100]", band.q),
                );
            }
            self.range(&b.key("gain_db"), band.gain_db, -24.0, 24.0, "dB");
            if let Some(slope) = band.slope {
                if !matches!(
                    band.kind,
                    super::EqKind::Lowshelf | super::EqKind::Highshelf
                ) {
                    self.error(
                        &b.key("slope"),
                        "only shelves (lowshelf, highshelf) take a slope",
                    );
                } else if slope.is_nan() || slope <= 0.0 || slope > 4.0 {
                    self.error(
                        &b.key("slope"),
                        format!("a slope of {slope} is outside the range (0, 4]"),
                    );
                }
            }
        }
    }

    fn compressor(&mut self, f: &Field, c: &Compressor, own: Option<&str>) {
        self.range(
            &f.key("threshold_db"),
            f64::from(c.threshold_db),
            -80.0,
            0.0,
            "dB",
        );
        if c.ratio.is_nan() || c.ratio < 1.0 || c.ratio > 100.0 {
            self.error(
                &f.key("ratio"),
                format!(
                    "a ratio of {} is outside 1..=100 (1 means no compression)",
                    c.ratio
                ),
            );
        }
        self.range(
            &f.key("attack_ms"),
            f64::from(c.attack_ms),
            0.01,
            1000.0,
            "ms",
        );
        self.range(
            &f.key("release_ms"),
            f64::from(c.release_ms),
            1.0,
            5000.0,
            "ms",
        );
        self.range(&f.key("knee_db"), f64::from(c.knee_db), 0.0, 24.0, "dB");
        self.range(
            &f.key("makeup_db"),
            f64::from(c.makeup_db),
            -24.0,
            24.0,
            "dB",
        );
        self.range(&f.key("rms_ms"), f64::from(c.rms_ms), 0.1, 1000.0, "ms");
        if let Some(side) = &c.sidechain {
            let field = f.key("sidechain");
            if own.is_none() {
                self.error(&field, "a bus compressor cannot take a strip sidechain");
            } else if Some(side.as_str()) == own {
                self.error(&field, "a strip cannot be its own sidechain");
            } else if self.session.strip_index(side).is_none() {
                self.error(&field, format!("sidechain names unknown strip {side:?}"));
            }
        }
    }

    /// A strip is processed after the strips its compressor listens to; a ring of
    /// sidechains (A listens to B, B to A) has no such order.
    fn sidechain_cycles(&mut self) {
        let s = self.session;
        let next = |i: usize| -> Option<usize> {
            s.strips[i]
                .compressor
                .as_ref()?
                .sidechain
                .as_ref()
                .and_then(|n| s.strip_index(n))
        };
        for start in 0..s.strips.len() {
            let mut at = start;
            for _ in 0..s.strips.len() {
                match next(at) {
                    Some(n) if n == start => {
                        let field = Field::item("strip", start, &s.strips[start].name)
                            .key("compressor")
                            .key("sidechain");
                        self.error(
                            &field,
                            "sidechains form a loop: each strip in it would have to be processed before the other",
                        );
                        break;
                    }
                    Some(n) => at = n,
                    None => break,
                }
            }
        }
    }

    fn gate(&mut self, f: &Field, g: &Gate) {
        self.range(&f.key("open_db"), f64::from(g.open_db), -100.0, 0.0, "dB");
        self.range(
            &f.key("close_db"),
            f64::from(g.close_db),
            -100.0,
            f64::from(g.open_db),
            "dB",
        );
        self.range(
            &f.key("attack_ms"),
            f64::from(g.attack_ms),
            0.01,
            1000.0,
            "ms",
        );
        self.range(&f.key("hold_ms"), f64::from(g.hold_ms), 0.0, 5000.0, "ms");
        self.range(
            &f.key("release_ms"),
            f64::from(g.release_ms),
            1.0,
            5000.0,
            "ms",
        );
        self.range(&f.key("range_db"), f64::from(g.range_db), -120.0, 0.0, "dB");
    }

    fn limiter(&mut self, f: &Field, l: &Limiter) {
        self.range(
            &f.key("ceiling_db"),
            f64::from(l.ceiling_db),
            -60.0,
            0.0,
            "dB",
        );
        self.range(
            &f.key("lookahead_ms"),
            f64::from(l.lookahead_ms),
            0.0,
            20.0,
            "ms",
        );
        self.range(
            &f.key("release_ms"),
            f64::from(l.release_ms),
            1.0,
            5000.0,
            "ms",
        );
    }

    fn bus(&mut self, f: &Field, bus: &Bus) {
        self.channels(&f.key("channels"), bus.channels);
        self.fader(&f.key("fader_db"), bus.fader_db);
        match &bus.sink {
            Some(super::Sink::Device(d)) if d.trim().is_empty() => {
                self.error(
                    &f.key("sink").key("device"),
                    "a device sink needs a port or channel name",
                );
            }
            Some(super::Sink::File(p)) if p.as_os_str().is_empty() => {
                self.error(&f.key("sink").key("file"), "a file sink needs a file name");
            }
            _ => {}
        }
        self.eq(&f.key("eq"), &bus.eq);
        if let Some(c) = &bus.compressor {
            self.compressor(&f.key("compressor"), c, None);
        }
        if let Some(l) = &bus.limiter {
            self.limiter(&f.key("limiter"), l);
        }
    }
}

/// Every problem of `session`; files are resolved against `base_dir`.
pub(crate) fn validate(session: &Session, base_dir: &Path, live: bool) -> Vec<Problem> {
    let mut checker = Checker {
        session,
        base_dir,
        live,
        problems: Vec::new(),
    };
    checker.check();
    checker.problems.extend(super::midi::check(session));
    checker.problems.extend(super::recorder::check(session));
    checker.problems
}

/// The regular expression an `app` source's pattern stands for: case-insensitive and
/// unanchored (a search), as the PipeWire backend matches it.
pub fn app_pattern(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .build()
}
