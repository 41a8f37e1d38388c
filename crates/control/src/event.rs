//! What the control thread broadcasts: events already encoded as JSON text (encoded
//! once, sent to every subscriber), and raw meter samples that each subscriber folds
//! into frames of its own.

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

/// One reading of every meter (the peak since the previous reading), taken on the
/// control thread at [`METER_RATE_HZ`](crate::service::METER_RATE_HZ). Subscribers fold
/// readings into their own frames, so two clients never steal each other's peaks.
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

    /// Folds one reading in.
    pub fn fold(&mut self, sample: &MeterSample) {
        let same_shape = !self.empty
            && self.frame.strips.len() == sample.strips.len()
            && self.frame.buses.len() == sample.buses.len()
            && self
                .frame
                .strips
                .iter()
                .zip(&sample.strips)
                .all(|(a, b)| a.name == b.name && a.pre.len() == b.pre.len())
            && self
                .frame
                .buses
                .iter()
                .zip(&sample.buses)
                .all(|(a, b)| a.name == b.name && a.post.len() == b.post.len());
        if !same_shape {
            // First reading, or the structure changed: start over from this one.
            self.frame = sample.clone();
            self.empty = false;
            return;
        }
        let levels = |acc: &mut [(f32, f32)], new: &[(f32, f32)]| {
            for (a, n) in acc.iter_mut().zip(new) {
                a.0 = a.0.max(n.0);
                a.1 = n.1;
            }
        };
        for (a, n) in self.frame.strips.iter_mut().zip(&sample.strips) {
            levels(&mut a.pre, &n.pre);
            levels(&mut a.post, &n.post);
            a.gate_db = a.gate_db.max(n.gate_db);
            a.compressor_db = a.compressor_db.max(n.compressor_db);
        }
        for (a, n) in self.frame.buses.iter_mut().zip(&sample.buses) {
            levels(&mut a.post, &n.post);
            a.compressor_db = a.compressor_db.max(n.compressor_db);
            a.limiter_db = a.limiter_db.max(n.limiter_db);
        }
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
pub fn meters_json(frame: &MeterSample) -> String {
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
    .to_string()
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
}
