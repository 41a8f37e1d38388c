//! The standard workload (docs/PERFORMANCE.md), for the benchmarks and `troubadour bench`: stereo
//! strips with gate + 4-band EQ + compressor, every one sending to every stereo bus,
//! and buses with 4-band EQ + compressor + limiter.

use crate::session::{
    Bus, BusSend, Compressor, DetectorKind, EqBand, EqKind, Gate, GeneratorKind, GeneratorSource,
    Limiter, LoadedSession, Session, Source, Strip,
};

/// What feeds the strips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inputs {
    /// Device channels `in_0`, `in_1`, ... (a host fills them; silent offline).
    Devices,
    /// Seeded pink noise at -18 dBFS RMS per strip: the processors have signal to work
    /// on without any device.
    Noise,
}

fn eq4() -> Vec<EqBand> {
    let band = |kind, freq, gain_db| EqBand {
        kind,
        freq,
        q: 1.0,
        gain_db,
        slope: None,
        on: true,
    };
    vec![
        band(EqKind::Highpass, 80.0, 0.0),
        band(EqKind::Lowshelf, 200.0, 2.0),
        band(EqKind::Peak, 3000.0, -3.0),
        band(EqKind::Highshelf, 10_000.0, 1.5),
    ]
}

fn compressor() -> Compressor {
    Compressor {
        threshold_db: -24.0,
        ratio: 3.0,
        attack_ms: 5.0,
        release_ms: 120.0,
        knee_db: 6.0,
        makeup_db: 0.0,
        auto_makeup: false,
        detector: DetectorKind::Rms,
        rms_ms: 10.0,
        sidechain: None,
    }
}

/// The workload's routing with no processing at all: `strips` stereo strips (fader
/// -6 dB, balance 0.1), each sending post-fader to every one of `buses` stereo buses (at
/// 0, -1, -2, ... dB; buses at -3 dB). The mixer benchmark's case.
pub fn plain(strips: usize, buses: usize, block_frames: u32, inputs: Inputs) -> LoadedSession {
    let buses: Vec<Bus> = (0..buses)
        .map(|b| Bus {
            name: format!("B{b}"),
            channels: 2,
            fader_db: -3.0,
            mute: false,
            sink: None,
            eq: vec![],
            compressor: None,
            limiter: None,
            recall_safe: false,
        })
        .collect();
    let strips = (0..strips)
        .map(|s| Strip {
            name: format!("S{s}"),
            source: match inputs {
                Inputs::Devices => Source::Device(format!("in_{s}")),
                Inputs::Noise => Source::Generator(GeneratorSource {
                    kind: GeneratorKind::Pink,
                    freq: 1000.0,
                    level_db: -18.0,
                    seed: Some(s as u64 + 1),
                    interval_ms: 500.0,
                }),
            },
            channels: 2,
            gain_db: 0.0,
            fader_db: -6.0,
            pan: 0.1,
            mute: false,
            solo: false,
            gate: None,
            eq: vec![],
            compressor: None,
            sends: buses
                .iter()
                .enumerate()
                .map(|(b, bus)| {
                    (
                        bus.name.clone(),
                        BusSend {
                            level_db: -(b as f32),
                            ..BusSend::default()
                        },
                    )
                })
                .collect(),
            recall_safe: false,
        })
        .collect();
    LoadedSession {
        session: Session {
            version: 1,
            sample_rate: 48_000,
            block_frames,
            strips,
            buses,
            scenes: Vec::new(),
            midi: Vec::new(),
            macros: Vec::new(),
            recorder: None,
        },
        path: "standard-workload.toml".into(),
        base_dir: ".".into(),
        warnings: vec![],
    }
}

/// The workload with `strips` stereo strips and `buses` stereo buses at 48 kHz and
/// `block_frames`-frame blocks (8 × 4 at 256 is the headline configuration): the
/// [`plain`] routing with the full processing on every strip and bus.
pub fn standard(strips: usize, buses: usize, block_frames: u32, inputs: Inputs) -> LoadedSession {
    let mut loaded = plain(strips, buses, block_frames, inputs);
    for bus in &mut loaded.session.buses {
        bus.eq = eq4();
        bus.compressor = Some(compressor());
        bus.limiter = Some(Limiter {
            ceiling_db: -1.0,
            lookahead_ms: 1.5,
            release_ms: 80.0,
        });
    }
    for strip in &mut loaded.session.strips {
        strip.gate = Some(Gate {
            open_db: -50.0,
            close_db: -60.0,
            attack_ms: 1.0,
            hold_ms: 50.0,
            release_ms: 100.0,
            range_db: -60.0,
        });
        strip.eq = eq4();
        strip.compressor = Some(compressor());
    }
    loaded
}
