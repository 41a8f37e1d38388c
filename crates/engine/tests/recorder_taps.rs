//! The recorder's taps: what each track carries, that every track starts on the same
//! frame and grows by the same frames, and that frames a full ring lost come back as
//! silence in the right place.

mod common;

use troubadour_engine::recorder::{TapPoint, TrackReader, TrackSpec};

const SESSION: &str = r#"
version = 1
block_frames = 64
[[strip]]
name = "Host"
channels = 1
source = { generator = "sine", freq = 750.0, level_db = -6.0 }
fader_db = -6.0
sends = { A1 = {} }
[[strip]]
name = "Guest"
channels = 1
source = { generator = "sine", freq = 750.0, level_db = -6.0 }
fader_db = -12.0
sends = { A1 = {} }
[[bus]]
name = "A1"
channels = 2
"#;

fn drain_all(r: &mut TrackReader) -> Vec<f32> {
    let mut out = Vec::new();
    while r.drain(&mut out, 1000).frames > 0 {}
    out
}

fn db(x: f32) -> f32 {
    20.0 * x.log10()
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

#[test]
fn tracks_carry_their_taps_start_together_and_stay_equally_long() {
    let (mut c, mut e) = common::mixer(SESSION);
    // Some audio before the take: the tracks must not contain it.
    let _ = common::run(&mut e, &[], 1000, 100);
    let tracks = [
        TrackSpec {
            tap: TapPoint::StripPost(0),
            channels: 1,
        },
        TrackSpec {
            tap: TapPoint::StripPre(1),
            channels: 1,
        },
        TrackSpec {
            tap: TapPoint::StripPost(1),
            channels: 1,
        },
        TrackSpec {
            tap: TapPoint::Bus(0),
            channels: 2,
        },
    ];
    let (counters, mut readers) = c.recorder().start(&tracks, 48_000).unwrap();
    let out = common::run(&mut e, &[], 4800, 100);
    c.recorder().stop().unwrap();
    let _ = common::run(&mut e, &[], 500, 100);
    assert!(!c.recorder().collect());
    assert_eq!(
        counters.frames.load(std::sync::atomic::Ordering::Relaxed),
        4800
    );

    let got: Vec<Vec<f32>> = readers.iter_mut().map(drain_all).collect();
    assert_eq!(got[0].len(), 4800);
    assert_eq!(got[1].len(), 4800);
    assert_eq!(got[2].len(), 4800);
    assert_eq!(got[3].len(), 2 * 4800);
    // The bus track is exactly what the bus played, frame for frame.
    for (f, pair) in got[3].chunks(2).enumerate() {
        assert_eq!(pair[0], out[0][f], "bus left, frame {f}");
        assert_eq!(pair[1], out[1][f], "bus right, frame {f}");
    }
    // Levels: the sine is at -6 dBFS; Host post-fader -12, Guest pre -6, post -18.
    for (track, want) in [(0, -12.0), (1, -6.0), (2, -18.0)] {
        let p = db(peak(&got[track]));
        assert!((p - want).abs() < 0.1, "track {track}: {p} dB, want {want}");
    }
    // Same generator, same start: Guest pre-fader is Host post-fader scaled by 2 (6 dB),
    // sample for sample (lag 0).
    for (f, (a, b)) in got[0].iter().zip(&got[1]).enumerate() {
        let b = b * 0.501_187;
        assert!((a - b).abs() < 1e-4, "frame {f}: {a} vs {b}");
    }
    // And the take began on the frame after the pre-roll: the 750 Hz sine's phase
    // at frame 1000 (both generators started together).
    let expected0 = 0.501_187 * (2.0 * std::f64::consts::PI * 750.0 * 1000.0 / 48_000.0).sin();
    assert!(
        (f64::from(got[1][0]) - expected0).abs() < 1e-3,
        "{} vs {expected0}",
        got[1][0]
    );
}

#[test]
fn a_full_ring_loses_blocks_and_the_reader_puts_silence_in_their_place() {
    let (mut c, mut e) = common::mixer(SESSION);
    let tracks = [
        // A ring of 256 frames that is not drained for a while, beside a large one.
        TrackSpec {
            tap: TapPoint::StripPre(0),
            channels: 1,
        },
        TrackSpec {
            tap: TapPoint::StripPre(1),
            channels: 1,
        },
    ];
    let (_, mut small) = c.recorder().start(&tracks[..1], 256).unwrap();
    let mut small = small.remove(0);
    // Only one take at a time: a second is refused.
    assert!(c.recorder().start(&tracks[1..], 256).is_err());
    let mut out = Vec::new();
    // 4 blocks of 64 fill the ring; the next 6 are lost.
    let _ = common::run(&mut e, &[], 640, 64);
    assert_eq!(small.lost_frames(), 384);
    assert_eq!(small.drain(&mut out, 10_000).frames, 256);
    // Now there is room again: 2 blocks arrive after the gap.
    let _ = common::run(&mut e, &[], 128, 64);
    let d = small.drain(&mut out, 10_000);
    assert_eq!((d.frames, d.silence), (384 + 128, 384));
    // Then the take ends while the ring is full again: the lost tail comes at the end.
    let _ = common::run(&mut e, &[], 64 * 6, 64);
    c.recorder().stop().unwrap();
    let _ = common::run(&mut e, &[], 64, 64);
    assert!(!c.recorder().collect());
    let mut total = out.len();
    loop {
        let d = small.drain(&mut out, 10_000);
        total += d.frames;
        if d.finished {
            break;
        }
        assert!(d.frames > 0, "the reader must finish");
    }
    assert_eq!(
        total,
        640 + 128 + 384,
        "every frame the engine ran is accounted for"
    );
    assert_eq!(small.lost_frames(), 384 + 128);
    // The gap is silent and what follows it is the sine, in its place: frame 640 of
    // a free-running generator.
    assert!(out[256..640].iter().all(|&x| x == 0.0));
    let at =
        |f: usize| 0.501_187 * (2.0 * std::f64::consts::PI * 750.0 * f as f64 / 48_000.0).sin();
    for f in [0usize, 100, 255, 640, 700, 767] {
        assert!(
            (f64::from(out[f]) - at(f)).abs() < 1e-3,
            "frame {f}: {} vs {}",
            out[f],
            at(f)
        );
    }
}
