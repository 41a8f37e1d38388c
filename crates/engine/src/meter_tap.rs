//! The running graph's meters, readable from any non-audio thread. The audio thread
//! writes them (atomics only); whoever reads takes the peaks held since the previous
//! reading. The tap follows graph swaps: after a structural change it keeps reading
//! the old graph's bank until the audio thread has swapped the new one in.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::meters::{ChannelMeter, MeterBank};
use crate::session::Session;
use crate::stats::EngineStats;

/// One channel's level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Highest sample magnitude since the last reading, dBFS.
    pub peak_db: f32,
    /// RMS over about 300 ms, dBFS.
    pub rms_db: f32,
}

/// A strip's levels.
#[derive(Debug, Clone, PartialEq)]
pub struct StripLevels {
    /// Strip name.
    pub name: String,
    /// Pre-fader, per channel.
    pub pre: Vec<Level>,
    /// Post-fader, per channel.
    pub post: Vec<Level>,
    /// Largest gate gain reduction since the last reading, dB (0 without a gate).
    pub gate_reduction_db: f32,
    /// Largest compressor gain reduction since the last reading, dB.
    pub compressor_reduction_db: f32,
    /// Frames of silence its file source played since the last reading because the
    /// file's reader was behind (0 for other sources).
    pub underrun_frames: u64,
}

/// A bus's levels.
#[derive(Debug, Clone, PartialEq)]
pub struct BusLevels {
    /// Bus name.
    pub name: String,
    /// Post-fader, per channel.
    pub post: Vec<Level>,
    /// Largest compressor gain reduction since the last reading, dB.
    pub compressor_reduction_db: f32,
    /// Largest limiter gain reduction since the last reading, dB.
    pub limiter_reduction_db: f32,
}

/// Every meter at one reading.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterSnapshot {
    /// In strip order.
    pub strips: Vec<StripLevels>,
    /// In bus order.
    pub buses: Vec<BusLevels>,
}

/// A meter bank and the strip and bus names it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct MeterView {
    bank: Arc<MeterBank>,
    strips: Vec<String>,
    buses: Vec<String>,
}

impl MeterView {
    pub(crate) fn new(bank: Arc<MeterBank>, session: &Session) -> Self {
        MeterView {
            bank,
            strips: session.strips.iter().map(|s| s.name.clone()).collect(),
            buses: session.buses.iter().map(|b| b.name.clone()).collect(),
        }
    }
}

/// The meters of whichever graph the engine runs. Cloning gives another handle to the
/// same meters (for a thread of its own); the controller keeps it current.
#[derive(Debug, Clone)]
pub struct MeterTap {
    views: Arc<Mutex<Views>>,
    stats: Arc<EngineStats>,
}

#[derive(Debug)]
struct Views {
    running: MeterView,
    /// The meters of a graph sent but not yet swapped in, with its generation.
    pending: Option<(u32, MeterView)>,
}

impl MeterTap {
    pub(crate) fn new(running: MeterView, stats: Arc<EngineStats>) -> Self {
        MeterTap {
            views: Arc::new(Mutex::new(Views {
                running,
                pending: None,
            })),
            stats,
        }
    }

    /// The views, with a pending graph's taken as the running ones once the audio
    /// thread runs it. Only non-audio threads take the lock, each briefly; a reader that
    /// panicked holding it left the views whole (they are swapped in one assignment).
    fn views(&self) -> MutexGuard<'_, Views> {
        let mut views = self.views.lock().unwrap_or_else(|p| p.into_inner());
        let running = self.stats.generation.load(Ordering::Relaxed);
        if matches!(&views.pending, Some((generation, _)) if *generation == running)
            && let Some((_, view)) = views.pending.take()
        {
            views.running = view;
        }
        views
    }

    /// A new engine runs `view` from its first callback.
    pub(crate) fn replace(&self, view: MeterView) {
        let mut views = self.views();
        views.running = view;
        views.pending = None;
    }

    /// A graph of `generation` was sent: its meters count once the engine runs it.
    pub(crate) fn pend(&self, generation: u32, view: MeterView) {
        self.views().pending = Some((generation, view));
    }

    /// No engine will take the pending graph (it was parked).
    pub(crate) fn unpend(&self) {
        self.views().pending = None;
    }

    /// Takes a pending graph's meters as the running ones if the engine runs it.
    pub(crate) fn settle(&self) {
        drop(self.views());
    }

    /// Reads every meter of the running graph; peaks reset to start a new hold period.
    pub fn read(&self) -> MeterSnapshot {
        let mut reading = MeterSnapshot {
            strips: Vec::new(),
            buses: Vec::new(),
        };
        self.read_into(&mut reading);
        reading
    }

    /// [`read`](Self::read) into `reading`, reusing its buffers: a reader that reads
    /// dozens of times a second allocates only when the structure changed.
    pub fn read_into(&self, reading: &mut MeterSnapshot) {
        let views = self.views();
        let view = &views.running;
        let levels = |into: &mut Vec<Level>, meters: &[ChannelMeter]| {
            into.clear();
            into.extend(meters.iter().map(|m| Level {
                peak_db: m.take_peak_db(),
                rms_db: m.rms_db(),
            }));
        };
        reading
            .strips
            .truncate(view.strips.len().min(view.bank.strips.len()));
        reading
            .buses
            .truncate(view.buses.len().min(view.bank.buses.len()));
        for (i, (name, m)) in view.strips.iter().zip(view.bank.strips.iter()).enumerate() {
            if i == reading.strips.len() {
                reading.strips.push(StripLevels {
                    name: String::new(),
                    pre: Vec::new(),
                    post: Vec::new(),
                    gate_reduction_db: 0.0,
                    compressor_reduction_db: 0.0,
                    underrun_frames: 0,
                });
            }
            let s = &mut reading.strips[i];
            s.name.clone_from(name);
            levels(&mut s.pre, &m.pre);
            levels(&mut s.post, &m.post);
            s.gate_reduction_db = m.gate_reduction.take();
            s.compressor_reduction_db = m.compressor_reduction.take();
            s.underrun_frames = m.underrun_frames.swap(0, Ordering::Relaxed);
        }
        for (i, (name, m)) in view.buses.iter().zip(view.bank.buses.iter()).enumerate() {
            if i == reading.buses.len() {
                reading.buses.push(BusLevels {
                    name: String::new(),
                    post: Vec::new(),
                    compressor_reduction_db: 0.0,
                    limiter_reduction_db: 0.0,
                });
            }
            let b = &mut reading.buses[i];
            b.name.clone_from(name);
            levels(&mut b.post, &m.post);
            b.compressor_reduction_db = m.compressor_reduction.take();
            b.limiter_reduction_db = m.limiter_reduction.take();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{EngineOptions, create, session};

    /// A reading into buffers of another structure comes out as a fresh one.
    #[test]
    fn a_reading_into_old_buffers_is_a_fresh_reading() {
        let text = "version = 1\n[[strip]]\nname = \"A\"\nchannels = 2\nsource = { generator = \"sine\" }\nsends = { M = {} }\n[[strip]]\nname = \"B\"\nchannels = 1\nsource = { generator = \"sine\" }\nsends = { M = {} }\n[[bus]]\nname = \"M\"\n";
        let loaded = session::parse(text, "t.toml".as_ref()).unwrap();
        let (control, _engine) = create(&loaded, &EngineOptions::default()).unwrap();
        let tap = control.meter_tap();
        let fresh = tap.read();
        let mut old = fresh.clone();
        let extra = old.strips[1].clone();
        old.strips.extend([extra.clone(), extra.clone(), extra]);
        old.strips[0].name = "stale and long".into();
        let level = old.strips[0].pre[0];
        old.strips[0].pre.push(level);
        old.buses.clear();
        tap.read_into(&mut old);
        assert_eq!(old, fresh);
        assert_eq!(
            (
                fresh.strips.len(),
                fresh.strips[0].pre.len(),
                fresh.buses.len()
            ),
            (2, 2, 1)
        );
    }
}
