//! The mixing and metering kernels on one 256-frame block, each beside its plain
//! scalar form (a loop the compiler cannot vectorise: one accumulator, `f32::max`), so
//! the gain from writing them to vectorise stays measured.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use troubadour_dsp::kernels::{mix_scaled, output_stage, peak_and_energy};

const N: usize = 256;

fn block(seed: u64) -> Vec<f32> {
    let mut rng = troubadour_dsp::rng::Rng::new(seed);
    (0..N).map(|_| rng.next_bipolar()).collect()
}

fn scalar_peak_energy(x: &[f32]) -> (f32, f32) {
    let (mut p, mut e) = (0.0f32, 0.0f32);
    for &v in x {
        p = p.max(v.abs());
        e += v * v;
    }
    (p, e)
}

fn kernels(c: &mut Criterion) {
    let src = block(1);
    let mut dst = block(2);
    let mut g = c.benchmark_group("kernels");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("mix_scaled", |b| {
        b.iter(|| mix_scaled(black_box(&mut dst), black_box(&src), 0.5))
    });
    g.bench_function("peak_and_energy", |b| {
        b.iter(|| peak_and_energy(black_box(&src), 1.0))
    });
    g.bench_function("peak_and_energy/scalar", |b| {
        b.iter(|| scalar_peak_energy(black_box(&src)))
    });
    g.bench_function("output_stage/const", |b| {
        b.iter(|| {
            dst.copy_from_slice(&src);
            output_stage(black_box(&mut dst), |_| 0.7)
        })
    });
    let ramp: Vec<f32> = (0..N).map(|i| i as f32 / N as f32).collect();
    g.bench_function("output_stage/ramp", |b| {
        b.iter(|| {
            dst.copy_from_slice(&src);
            output_stage(black_box(&mut dst), |i| ramp[i])
        })
    });
    g.bench_function("copy", |b| b.iter(|| dst.copy_from_slice(black_box(&src))));
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
