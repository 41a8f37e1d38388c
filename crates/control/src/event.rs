//! What the control thread broadcasts: events already encoded as JSON text (encoded
//! once, sent to every subscriber), and meter samples that each subscriber (an OSC
//! lease, a WebSocket meter feed of one rate) folds into frames of its own.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::api::Topic;

/// One event, encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Which subscribers get it.
    pub topic: Topic,
    /// Its sequence number, for changes.
    pub seq: Option<u64>,
    /// The JSON object, as text.
    pub json: Arc<str>,
}

impl Outgoing {
    /// `{"event":"changed","seq":N,"path":…,"value":…,"origin":…}`.
    pub fn changed(seq: u64, path: &str, value: &Value, origin: &str) -> Self {
        Self::change(
            seq,
            json!({"event": "changed", "seq": seq, "path": path, "value": value, "origin": origin}),
        )
    }

    /// Another kind of change (`structure_changed`, `scene_saved`, …) with its fields.
    pub fn change(seq: u64, object: Value) -> Self {
        Outgoing {
            topic: Topic::Changes,
            seq: Some(seq),
            json: object.to_string().into(),
        }
    }

    /// A status event: `{"event": kind, "message": …, …fields}`.
    pub fn status(object: Value) -> Self {
        Outgoing {
            topic: Topic::Status,
            seq: None,
            json: object.to_string().into(),
        }
    }
}

/// Every meter's level: one reading (the peak since the previous one), or a frame of
/// several folded together (the highest peaks, the latest RMS). The control thread
/// broadcasts one at each of its readings, at up to
/// [`METER_RATE_HZ`](crate::service::METER_RATE_HZ), holding what other readers took
/// since; subscribers fold them into frames of their own.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MeterSample {
    /// Strips in mixer order.
    pub strips: Vec<StripSample>,
    /// Buses in mixer order.
    pub buses: Vec<BusSample>,
}

/// One strip's reading. Levels in dBFS (`-inf` for silence).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StripSample {
    /// Strip name.
    pub name: String,
    /// Pre-fader (peak, rms) per channel.
    pub pre: Vec<(f32, f32)>,
    /// Post-fader (peak, rms) per channel.
    pub post: Vec<(f32, f32)>,
    /// Gate gain reduction, dB (≥ 0).
    pub gate_db: f32,
    /// Compressor gain reduction, dB (≥ 0).
    pub compressor_db: f32,
}

/// One bus's reading.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BusSample {
    /// Bus name.
    pub name: String,
    /// Post-fader (peak, rms) per channel.
    pub post: Vec<(f32, f32)>,
    /// Compressor gain reduction, dB.
    pub compressor_db: f32,
    /// Limiter gain reduction, dB.
    pub limiter_db: f32,
}

/// A subscriber's frame in the making: the highest peaks and reductions since its last
/// frame, and the latest RMS.
#[derive(Debug, Clone, Default)]
pub struct MeterAccumulator {
    frame: MeterSample,
    empty: bool,
}

impl MeterAccumulator {
    /// Nothing folded yet.
    pub fn new() -> Self {
        MeterAccumulator {
            frame: MeterSample::default(),
            empty: true,
        }
    }

    /// Folds one reading in. The first reading after a take overwrites the frame in
    /// place (its names and buffers are kept while the structure stays).
    pub fn fold(&mut self, sample: &MeterSample) {
        if !self.same_shape(sample) {
            // First reading, or the structure changed: start over from this one.
            self.frame = sample.clone();
            self.empty = false;
            return;
        }
        let fresh = std::mem::replace(&mut self.empty, false);
        let most = |a: f32, n: f32| if fresh { n } else { a.max(n) };
        let levels = |acc: &mut [(f32, f32)], new: &[(f32, f32)]| {
            for (a, n) in acc.iter_mut().zip(new) {
                a.0 = most(a.0, n.0);
                a.1 = n.1;
            }
        };
        for (a, n) in self.frame.strips.iter_mut().zip(&sample.strips) {
            levels(&mut a.pre, &n.pre);
            levels(&mut a.post, &n.post);
            a.gate_db = most(a.gate_db, n.gate_db);
            a.compressor_db = most(a.compressor_db, n.compressor_db);
        }
        for (a, n) in self.frame.buses.iter_mut().zip(&sample.buses) {
            levels(&mut a.post, &n.post);
            a.compressor_db = most(a.compressor_db, n.compressor_db);
            a.limiter_db = most(a.limiter_db, n.limiter_db);
        }
    }

    /// Whether `sample` has the frame's strips and buses, with their channels.
    fn same_shape(&self, sample: &MeterSample) -> bool {
        let f = &self.frame;
        f.strips.len() == sample.strips.len()
            && f.buses.len() == sample.buses.len()
            && f.strips.iter().zip(&sample.strips).all(|(a, b)| {
                a.name == b.name && a.pre.len() == b.pre.len() && a.post.len() == b.post.len()
            })
            && f.buses
                .iter()
                .zip(&sample.buses)
                .all(|(a, b)| a.name == b.name && a.post.len() == b.post.len())
    }

    /// `f` of the frame since the last take or look (None if nothing was folded since),
    /// and a fresh start that keeps the frame's buffers.
    pub fn look<R>(&mut self, f: impl FnOnce(&MeterSample) -> R) -> Option<R> {
        if self.empty {
            return None;
        }
        self.empty = true;
        Some(f(&self.frame))
    }

    /// The frame since the last take (None if nothing was folded), and a fresh start.
    pub fn take(&mut self) -> Option<MeterSample> {
        if self.empty {
            return None;
        }
        self.empty = true;
        Some(std::mem::take(&mut self.frame))
    }
}

/// A level for JSON: a number, or `"-inf"` for silence (the API's one convention for
/// −∞), rounded to 0.01 dB.
pub fn db_json(x: f32) -> Value {
    if x.is_finite() {
        json!((f64::from(x) * 100.0).round() / 100.0)
    } else if x < 0.0 {
        json!("-inf")
    } else {
        json!("inf")
    }
}

/// `{"event":"meters","strips":[{"name":…,"pre":[[peak,rms],…],"post":…,"gate_db":…,
/// "compressor_db":…}],"buses":[{"name":…,"post":…,"compressor_db":…,"limiter_db":…}]}`
///
/// Written straight into one string (levels as [`db_json`] gives them): a frame goes
/// out at up to 120 Hz, and building a `serde_json::Value` tree for it first cost
/// several times the writing.
pub fn meters_json(frame: &MeterSample) -> String {
    let channels: usize = frame.strips.iter().map(|s| s.pre.len() * 2).sum::<usize>()
        + frame.buses.iter().map(|b| b.post.len()).sum::<usize>();
    let mut out =
        String::with_capacity(64 + 64 * (frame.strips.len() + frame.buses.len()) + 24 * channels);
    out.push_str(r#"{"event":"meters","strips":["#);
    for (i, s) in frame.strips.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"name":"#);
        push_string(&mut out, &s.name);
        out.push_str(r#","pre":"#);
        push_levels(&mut out, &s.pre);
        out.push_str(r#","post":"#);
        push_levels(&mut out, &s.post);
        out.push_str(r#","gate_db":"#);
        push_db(&mut out, s.gate_db);
        out.push_str(r#","compressor_db":"#);
        push_db(&mut out, s.compressor_db);
        out.push('}');
    }
    out.push_str(r#"],"buses":["#);
    for (i, b) in frame.buses.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"name":"#);
        push_string(&mut out, &b.name);
        out.push_str(r#","post":"#);
        push_levels(&mut out, &b.post);
        out.push_str(r#","compressor_db":"#);
        push_db(&mut out, b.compressor_db);
        out.push_str(r#","limiter_db":"#);
        push_db(&mut out, b.limiter_db);
        out.push('}');
    }
    out.push_str("]}");
    out
}

/// `[[peak,rms],…]`.
fn push_levels(out: &mut String, levels: &[(f32, f32)]) {
    out.push('[');
    for (i, &(peak, rms)) in levels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        push_db(out, peak);
        out.push(',');
        push_db(out, rms);
        out.push(']');
    }
    out.push(']');
}

/// `n` in decimal. By hand: `core::fmt`'s machinery was most of what writing a level
/// cost, and a frame has hundreds of them.
fn push_digits(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// What [`db_json`] gives, as text. The hundredths are written as integers: the float
/// formatter's shortest-digits search was the largest part of encoding a frame.
fn push_db(out: &mut String, x: f32) {
    use std::fmt::Write;
    if x.is_finite() {
        let hundredths = (f64::from(x) * 100.0).round();
        // Writing to a String cannot fail. Past 1e15 the plain form spells out digits
        // a reader parses less exactly than the exponent form.
        if hundredths.abs() < 1e17 {
            // Exact: an integer below 2^63 (and |x| < 1e15).
            let h = hundredths as i64;
            let (whole, cents) = (h.unsigned_abs() / 100, h.unsigned_abs() % 100);
            if h < 0 {
                out.push('-');
            }
            push_digits(out, whole);
            if cents != 0 {
                out.push('.');
                out.push(char::from(b'0' + (cents / 10) as u8));
                if cents % 10 != 0 {
                    out.push(char::from(b'0' + (cents % 10) as u8));
                }
            }
        } else {
            let _ = write!(out, "{:e}", hundredths / 100.0);
        }
    } else if x < 0.0 {
        out.push_str(r#""-inf""#);
    } else {
        out.push_str(r#""inf""#);
    }
}

/// A JSON string literal, escaped.
fn push_string(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(peak: f32, rms: f32) -> MeterSample {
        MeterSample {
            strips: vec![],
            buses: vec![BusSample {
                name: "A1".into(),
                post: vec![(peak, rms)],
                compressor_db: 0.0,
                limiter_db: 0.0,
            }],
        }
    }

    #[test]
    fn two_accumulators_keep_their_own_peaks() {
        let (mut a, mut b) = (MeterAccumulator::new(), MeterAccumulator::new());
        for s in [sample(-6.0, -9.0), sample(-20.0, -23.0)] {
            a.fold(&s);
            b.fold(&s);
        }
        // `a` takes a frame; `b` has not yet, and must still see the -6 peak.
        assert_eq!(a.take().unwrap().buses[0].post[0], (-6.0, -23.0));
        a.fold(&sample(-30.0, -33.0));
        b.fold(&sample(-30.0, -33.0));
        assert_eq!(a.take().unwrap().buses[0].post[0], (-30.0, -33.0));
        assert_eq!(b.take().unwrap().buses[0].post[0], (-6.0, -33.0));
        assert!(b.take().is_none());
    }

    #[test]
    fn silence_is_minus_inf_in_json() {
        let text = meters_json(&sample(f32::NEG_INFINITY, -12.345));
        assert!(text.contains(r#"["-inf",-12.35]"#), "{text}");
    }

    /// The tree the writer must match: the same frame built as a `serde_json::Value`.
    fn as_value(frame: &MeterSample) -> Value {
        let pairs = |v: &[(f32, f32)]| -> Value {
            v.iter()
                .map(|&(p, r)| json!([db_json(p), db_json(r)]))
                .collect()
        };
        json!({
            "event": "meters",
            "strips": frame.strips.iter().map(|s| json!({
                "name": s.name,
                "pre": pairs(&s.pre),
                "post": pairs(&s.post),
                "gate_db": db_json(s.gate_db),
                "compressor_db": db_json(s.compressor_db),
            })).collect::<Vec<_>>(),
            "buses": frame.buses.iter().map(|b| json!({
                "name": b.name,
                "post": pairs(&b.post),
                "compressor_db": db_json(b.compressor_db),
                "limiter_db": db_json(b.limiter_db),
            })).collect::<Vec<_>>(),
        })
    }

    /// Every number as a float: `0` and `0.0` are the same level.
    fn floats(v: Value) -> Value {
        match v {
            Value::Number(n) => json!(n.as_f64()),
            Value::Array(a) => Value::Array(a.into_iter().map(floats).collect()),
            Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, floats(v))).collect()),
            other => other,
        }
    }

    /// Every hundredth from -300 to +300 dB, and values between them, written as
    /// [`db_json`] gives them.
    #[test]
    fn every_level_is_written_as_db_json_gives_it() {
        for k in -30_000..=30_000 {
            for x in [
                k as f32 / 100.0,
                k as f32 / 100.0 + 0.004_9,
                k as f32 * 0.013,
            ] {
                let mut text = String::new();
                push_db(&mut text, x);
                let parsed: Value =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
                let want = db_json(x).as_f64();
                assert!(want.is_some() && parsed.as_f64() == want, "{x}: {text}");
            }
        }
    }

    #[test]
    fn the_written_frame_is_the_json_tree() {
        let levels = [
            0.0,
            -0.0,
            -6.0206,
            -123.456_79,
            12.005,
            f32::NEG_INFINITY,
            f32::INFINITY,
            -1e-30,
            1e16,
            -0.07,
            -23.5,
            -0.004,
            99.995,
            -1.25e14,
        ];
        let pairs = |k: usize| -> Vec<(f32, f32)> {
            (0..k)
                .map(|i| (levels[i % levels.len()], levels[(i * 7 + 3) % levels.len()]))
                .collect()
        };
        let frame = MeterSample {
            strips: vec![
                StripSample {
                    name: "Mic \"1\"\\ \u{1}\n\té".into(),
                    pre: pairs(2),
                    post: pairs(9),
                    gate_db: 3.333,
                    compressor_db: f32::NEG_INFINITY,
                },
                StripSample {
                    name: "Empty".into(),
                    ..Default::default()
                },
            ],
            buses: vec![BusSample {
                name: "A1".into(),
                post: pairs(8),
                compressor_db: 0.004,
                limiter_db: 1.5,
            }],
        };
        for frame in [frame, MeterSample::default()] {
            let text = meters_json(&frame);
            let parsed: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(floats(parsed), floats(as_value(&frame)), "{text}");
        }
    }
}
