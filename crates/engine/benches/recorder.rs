//! What recording costs the audio thread: the standard workload (16 stereo strips with
//! gate, EQ and compressor into 4 stereo buses with EQ, compressor and limiter, 48 kHz,
//! 256-frame blocks) with no take running, and with takes of 16, 32 and 40 tracked
//! channels (8 or 16 stereo strips post-fader, then 16 strips and the 4 buses). Only
//! `Engine::process` is timed; the rings are drained between blocks, outside the
//! timing, as the writer thread would.
//!
//! Per tracked channel per block = (time with the take − time without) / channels.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use troubadour_engine::recorder::{TapPoint, TrackReader, TrackSpec};
use troubadour_engine::workload;

mod rig;
use rig::Rig;

const BLOCK: usize = 256;

fn tracks(strips: u32, buses: u32) -> Vec<TrackSpec> {
    let strip = (0..strips).map(|i| TrackSpec {
        tap: TapPoint::StripPost(i),
        channels: 2,
    });
    let bus = (0..buses).map(|i| TrackSpec {
        tap: TapPoint::Bus(i),
        channels: 2,
    });
    strip.chain(bus).collect()
}

fn recording(c: &mut Criterion) {
    let mut g = c.benchmark_group("recorder/standard-16x4");
    for (strips, buses) in [(0, 0), (8, 0), (16, 0), (16, 4)] {
        let channels = 2 * (strips + buses);
        let mut rig = Rig::with(
            workload::standard(16, 4, BLOCK as u32, workload::Inputs::Devices),
            BLOCK,
        );
        let specs = tracks(strips, buses);
        let mut readers: Vec<TrackReader> = if specs.is_empty() {
            Vec::new()
        } else {
            rig.controller.recorder().start(&specs, 48_000).unwrap().1
        };
        let mut scratch = Vec::with_capacity(BLOCK * 2);
        g.bench_function(BenchmarkId::new("tracked-channels", channels), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    rig.block();
                    total += t.elapsed();
                    for r in readers.iter_mut() {
                        scratch.clear();
                        r.drain(&mut scratch, BLOCK);
                    }
                }
                total
            })
        });
        assert!(
            readers.iter().all(|r| r.lost_frames() == 0),
            "the bench drains every block: nothing may be lost"
        );
    }
    g.finish();
}

criterion_group!(benches, recording);
criterion_main!(benches);
