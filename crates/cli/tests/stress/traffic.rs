//! Shared by the stress tests: the session (the standard workload plus a reference
//! tone into its own bus), random control traffic with structural swaps, and the
//! resident-memory reading.
#![allow(dead_code)] // each stress binary uses part of it

use std::time::{Duration, Instant};

use troubadour_dsp::rng::Rng;
use troubadour_engine::session::{
    Bus, BusSend, EqBand, EqKind, GeneratorKind, GeneratorSource, LoadedSession, Session, Source,
    Strip,
};
use troubadour_engine::workload::{self, Inputs};
use troubadour_engine::{ControlError, Controller};

/// Resident set size of this process, bytes (from /proc/self/statm).
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { sysconf(30) }; // _SC_PAGESIZE on Linux
    pages * page as u64
}

unsafe extern "C" {
    fn sysconf(name: i32) -> i64;
}

/// The standard workload (8 stereo strips of pink noise → 4 buses, full processing)
/// plus the reference: a -12 dBFS 1 kHz sine on a mono strip into a mono bus.
pub fn session() -> LoadedSession {
    let mut loaded = workload::standard(8, 4, 256, Inputs::Noise);
    let s = &mut loaded.session;
    s.buses.push(Bus {
        name: "Check".into(),
        channels: 1,
        fader_db: 0.0,
        mute: false,
        sink: None,
        eq: vec![],
        compressor: None,
        limiter: None,
        recall_safe: false,
    });
    s.strips.push(Strip {
        name: "Tone".into(),
        source: Source::Generator(GeneratorSource {
            kind: GeneratorKind::Sine,
            freq: 1000.0,
            level_db: -12.0,
            seed: None,
            interval_ms: 500.0,
        }),
        channels: 1,
        gain_db: 0.0,
        fader_db: 0.0,
        pan: 0.0,
        mute: false,
        solo: false,
        gate: None,
        eq: vec![],
        compressor: None,
        sends: [("Check".to_string(), BusSend::default())].into(),
        recall_safe: false,
    });
    loaded
}

/// A structural variant of `base`: an extra strip comes or goes, an EQ band is added
/// or removed, a send appears or disappears.
fn restructure(base: &Session, rng: &mut Rng, k: u64) -> Session {
    let mut s = base.clone();
    let strip = (rng.next_u32() % 8) as usize;
    match k % 3 {
        0 => {
            let mut extra = s.strips[strip].clone();
            extra.name = format!("Extra{k}");
            s.strips.insert(0, extra);
        }
        1 => {
            s.strips[strip].eq.push(EqBand {
                kind: EqKind::Peak,
                freq: 500.0 + 100.0 * (k % 50) as f64,
                q: 2.0,
                gain_db: 4.0,
                slope: None,
                on: true,
            });
        }
        _ => {
            s.strips[strip].sends.remove("B3");
        }
    }
    s
}

/// Counts of what the traffic did.
#[derive(Debug, Default)]
pub struct Traffic {
    pub changes: u64,
    pub refused: u64,
    pub swaps: u64,
    /// Meter looks judged (audio was processed since the previous look).
    pub looks: u64,
    /// Meter looks after no audio at all (the clock thread was stalled).
    pub idle_looks: u64,
}

/// Drives `controller` with 1000 random changes a second for `seconds`; every 100 ms
/// checks the reference meter, every 500 ms applies a structural change. Calls
/// `warmed_up` once, after the first tenth of the run (at least 2 s).
pub fn traffic(controller: &mut Controller, seconds: f64, mut warmed_up: impl FnMut()) -> Traffic {
    let base = controller.session().clone();
    let mut rng = Rng::new(2024);
    let mut t = Traffic::default();
    let start = Instant::now();
    let warm = Duration::from_secs_f64((seconds / 10.0).max(2.0).min(seconds / 2.0));
    let mut warmed = false;
    let mut k = 0u64;
    let mut frames_at_last_look = 0;
    while start.elapsed().as_secs_f64() < seconds {
        let due = start + Duration::from_millis(k);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if !warmed && start.elapsed() >= warm {
            warmed = true;
            warmed_up();
        }
        let strip = format!("S{}", rng.next_u32() % 8);
        let bus = format!("B{}", rng.next_u32() % 4);
        let x = (rng.next_u32() % 1000) as f32 / 1000.0;
        let result = match rng.next_u32() % 5 {
            0 => controller.set_strip_fader(&strip, -30.0 + 36.0 * x),
            1 => controller.set_strip_pan(&strip, 2.0 * x - 1.0),
            2 => controller.set_strip_mute(&strip, x < 0.2),
            3 => controller.set_bus_fader(&bus, -20.0 + 20.0 * x),
            _ => controller.set_send(
                &strip,
                &bus,
                BusSend {
                    level_db: -24.0 * x,
                    ..BusSend::default()
                },
            ),
        };
        match result {
            Ok(()) => t.changes += 1,
            // A send removed by the current structural variant, or a full queue: both
            // are the controller saying no, cleanly.
            Err(ControlError::UnknownSend { .. } | ControlError::QueueFull(_)) => t.refused += 1,
            Err(e) => panic!("change {k} refused: {e}"),
        }
        if k % 500 == 250 {
            let next = if (k / 500).is_multiple_of(2) {
                restructure(&base, &mut rng, k / 500)
            } else {
                base.clone()
            };
            match controller.apply_session(next) {
                Ok(_) => t.swaps += 1,
                Err(ControlError::GraphPending) => t.refused += 1,
                Err(e) => panic!("structural change {k} refused: {e}"),
            }
        }
        if k % 100 == 99 {
            // The meter's peak covers the audio since the last look. A look after no
            // audio at all (the clock thread did not run for 100 ms: this VM's host
            // stalls it now and then) has no signal to agree with; it is counted, not
            // judged. Any audio since (a sine period or more) must read -12 dBFS.
            let frames = controller.stats().frames;
            let meters = controller.read_meters();
            if frames - frames_at_last_look >= 48 {
                let check = meters
                    .buses
                    .iter()
                    .find(|b| b.name == "Check")
                    .expect("the Check bus");
                let peak = check.post[0].peak_db;
                assert!(
                    (peak + 12.0).abs() < 0.1,
                    "at {:.1} s the reference bus read {peak} dBFS peak, not -12",
                    start.elapsed().as_secs_f64()
                );
                t.looks += 1;
            } else {
                t.idle_looks += 1;
            }
            frames_at_last_look = frames;
        }
        controller.collect_garbage();
        k += 1;
    }
    t
}

pub fn seconds() -> f64 {
    std::env::var("TROUBADOUR_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60.0)
}
