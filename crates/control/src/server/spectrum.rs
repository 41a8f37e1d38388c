//! Spectrum frames for WebSocket clients. A connection that asks for a strip's or bus's
//! spectrum joins that target's feed, or starts it: the feed opens one of the engine's
//! spectrum taps ([`troubadour_engine::spectrum`]), and on every tick drains it, runs
//! the analyser ([`troubadour_dsp::spectrum`]) and sends one encoded frame to every
//! connection on the feed. When the last one leaves, the feed's task ends and its tap
//! closes, so the audio thread copies nothing for a spectrum nobody watches.
//!
//! Taps listen by index; the feed asks the control thread for the session every
//! [`RESOLVE_EVERY`] and follows its strip or bus when an edit moves it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::broadcast;
use tokio::task::AbortHandle;
use tokio::time::MissedTickBehavior;
use troubadour_dsp::spectrum::{Analyser, FLOOR_DB};
use troubadour_engine::spectrum::{SPECTRUM_SLOTS, SpectrumPoint, SpectrumReader};

use crate::api::{ApiError, ErrorCode, Reply, Request};
use crate::service::Handle;

/// Spectrum frames per second.
pub const SPECTRUM_RATE: f64 = 25.0;

/// How often a feed checks where its strip or bus went.
const RESOLVE_EVERY: Duration = Duration::from_secs(1);

/// Frames a client may fall behind before it skips to the newest.
const FRAMES_QUEUED: usize = 4;

/// The feeds that have clients, by canonical target (`strip/<name>`).
#[derive(Debug, Default)]
pub(crate) struct SpectrumHub {
    feeds: Mutex<HashMap<String, Weak<Feed>>>,
}

#[derive(Debug)]
struct Feed {
    frames: broadcast::Sender<Arc<str>>,
    centres: Arc<[f32]>,
    task: AbortHandle,
}

impl Drop for Feed {
    fn drop(&mut self) {
        // The task owns the tap's reader: ending it closes the tap.
        self.task.abort();
    }
}

/// A connection's place on one target's feed.
#[derive(Debug)]
pub(crate) struct SpectrumFeed {
    /// The canonical target, as frames name it.
    pub(crate) target: String,
    /// The target as the client named it (`strip/1`).
    pub(crate) asked: String,
    pub(crate) frames: broadcast::Receiver<Arc<str>>,
    feed: Arc<Feed>,
}

impl SpectrumFeed {
    /// The reply to a subscribe: the target and its bands' centre frequencies.
    pub(crate) fn reply(&self) -> Reply {
        Reply::Spectrum {
            target: self.target.clone(),
            bands_hz: self.feed.centres.iter().map(|&c| round(c, 1)).collect(),
            rate: SPECTRUM_RATE,
        }
    }
}

/// Where a target is now.
struct Resolved {
    canonical: String,
    point: SpectrumPoint,
    sample_rate: f32,
}

impl SpectrumHub {
    /// Joins the feed of `target` (`strip/<name or 1-based index>` or `bus/<…>`), or
    /// starts it. Must be called on the server's runtime.
    pub(crate) async fn subscribe(
        &self,
        handle: &Handle,
        target: &str,
    ) -> Result<SpectrumFeed, ApiError> {
        let resolved = resolve(handle, target).await?;
        let mut feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        feeds.retain(|_, feed| feed.strong_count() > 0);
        if let Some(feed) = feeds.get(&resolved.canonical).and_then(Weak::upgrade) {
            return Ok(SpectrumFeed {
                target: resolved.canonical,
                asked: target.to_string(),
                frames: feed.frames.subscribe(),
                feed,
            });
        }
        let Some(reader) = handle.spectrum().open(resolved.point) else {
            return Err(ApiError::new(
                ErrorCode::Busy,
                format!("{SPECTRUM_SLOTS} spectra are shown already, as many as the mixer taps"),
            ));
        };
        let analyser = Analyser::new(resolved.sample_rate);
        let centres: Arc<[f32]> = analyser.centres().into();
        let (frames, receiver) = broadcast::channel(FRAMES_QUEUED);
        let canonical = resolved.canonical.clone();
        let task = tokio::spawn(run(
            handle.clone(),
            reader,
            analyser,
            resolved,
            frames.clone(),
        ))
        .abort_handle();
        let feed = Arc::new(Feed {
            frames,
            centres,
            task,
        });
        feeds.insert(canonical.clone(), Arc::downgrade(&feed));
        Ok(SpectrumFeed {
            target: canonical,
            asked: target.to_string(),
            frames: receiver,
            feed,
        })
    }
}

/// Finds `target` in the session the control thread has now.
async fn resolve(handle: &Handle, target: &str) -> Result<Resolved, ApiError> {
    let (kind, id) = target.split_once('/').ok_or_else(|| bad_target(target))?;
    let key = match kind {
        "strip" => "strip",
        "bus" => "bus",
        _ => return Err(bad_target(target)),
    };
    let state = match super::ask(handle, Request::State, "spectrum").await? {
        Reply::State { state, .. } => state,
        _ => return Err(ApiError::new(ErrorCode::Unavailable, "no state")),
    };
    let names: Vec<&str> = state
        .get(key)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|x| x.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let index = names.iter().position(|&n| n == id).or_else(|| {
        let i: usize = id.parse().ok()?;
        (1..=names.len()).contains(&i).then(|| i - 1)
    });
    let Some(index) = index else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("spectrum target {target:?}: no {kind} {id:?}"),
        ));
    };
    let sample_rate = state
        .get("sample_rate")
        .and_then(Value::as_f64)
        .unwrap_or(48_000.0) as f32;
    let point = if key == "strip" {
        SpectrumPoint::Strip(index as u32)
    } else {
        SpectrumPoint::Bus(index as u32)
    };
    Ok(Resolved {
        canonical: format!("{kind}/{}", names[index]),
        point,
        sample_rate,
    })
}

fn bad_target(target: &str) -> ApiError {
    ApiError::new(
        ErrorCode::BadRequest,
        format!("spectrum target {target:?}: expected strip/<name or index> or bus/<…>"),
    )
}

/// A feed's task: a frame per tick while any client holds the feed.
async fn run(
    handle: Handle,
    reader: SpectrumReader,
    mut analyser: Analyser,
    mut at: Resolved,
    frames: broadcast::Sender<Arc<str>>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / SPECTRUM_RATE));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut samples = Vec::with_capacity(troubadour_engine::spectrum::SPECTRUM_RING);
    let mut last = Instant::now();
    let mut next_resolve = last + RESOLVE_EVERY;
    let target = at.canonical.clone();
    loop {
        tick.tick().await;
        let now = Instant::now();
        if now >= next_resolve {
            next_resolve = now + RESOLVE_EVERY;
            // Same name, maybe a new index; a strip renamed or removed keeps its old
            // index until the page asks again (it sees the change in its events).
            if let Ok(found) = resolve(&handle, &target).await
                && found.point != at.point
            {
                reader.retarget(found.point);
                at = found;
            }
        }
        samples.clear();
        reader.read(&mut samples);
        analyser.push(&samples);
        analyser.analyse((now - last).as_secs_f32());
        last = now;
        // No receiver only between the last client leaving and the abort.
        let _ = frames.send(encode(&target, &analyser).into());
    }
}

/// `{"event":"spectrum","target":…,"bands":[dB…],"peaks":[dB…]}`, levels to 0.1 dB
/// (the floor as itself).
fn encode(target: &str, analyser: &Analyser) -> String {
    let mut out = String::with_capacity(64 + 12 * analyser.levels().len());
    let _ = write!(
        out,
        "{{\"event\":\"spectrum\",\"target\":{},\"bands\":[",
        Value::from(target)
    );
    list(&mut out, analyser.levels());
    out.push_str("],\"peaks\":[");
    list(&mut out, analyser.peaks());
    out.push_str("]}");
    out
}

fn list(out: &mut String, levels: &[f32]) {
    for (i, &l) in levels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}", round(l.max(FLOOR_DB), 1));
    }
}

fn round(x: f32, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (f64::from(x) * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_compact_json_with_a_level_and_a_peak_per_band() {
        let mut a = Analyser::new(48_000.0);
        let tone: Vec<f32> = (0..8192)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 48_000.0).sin())
            .collect();
        a.push(&tone);
        a.analyse(0.04);
        let text = encode("strip/Tone", &a);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["event"], "spectrum");
        assert_eq!(v["target"], "strip/Tone");
        let bands = v["bands"].as_array().unwrap();
        assert_eq!(bands.len(), a.centres().len());
        assert_eq!(v["peaks"].as_array().unwrap().len(), bands.len());
        let at_1k = bands[34].as_f64().unwrap();
        assert!((at_1k + 6.0).abs() < 0.5, "{at_1k}");
        let top = bands[bands.len() - 1].as_f64().unwrap();
        assert!(top < -60.0, "20 kHz reads {top}");
        assert!(text.len() < 1000, "{} bytes", text.len());
    }
}
