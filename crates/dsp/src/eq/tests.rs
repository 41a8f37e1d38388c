use super::*;
use crate::rng::Rng;
use crate::simd::testing;

fn settings(bands: usize) -> Vec<FilterParams> {
    (0..bands)
        .map(|b| FilterParams {
            kind: FilterKind::ALL[b % FilterKind::ALL.len()],
            freq_hz: 40.0 * 2.3f64.powi(b as i32),
            q: 0.5 + 0.3 * b as f64,
            gain_db: 6.0 - 2.5 * b as f64,
            slope: None,
        })
        .collect()
}

/// The cascade computed the plain way, band after band, in f64 throughout.
fn reference(bands: &[FilterParams], x: &[f32]) -> Vec<f64> {
    let mut y: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    for p in bands {
        let [b0, b1, b2, a1, a2] = Coefficients::design(p, 48_000.0).to_array();
        let (mut s1, mut s2) = (0.0, 0.0);
        for v in y.iter_mut() {
            let out = b0 * *v + s1;
            s1 = b1 * *v - a1 * out + s2;
            s2 = b2 * *v - a2 * out;
            *v = out;
        }
    }
    y
}

/// The wavefront and the block form (every kernel the CPU has, any block split, 1 to 8
/// bands, channel counts that use groups of eight (AVX-512), four, pairs and single
/// channels) compute the same cascade as filtering band after band.
#[test]
fn wavefront_matches_the_band_by_band_cascade() {
    let choices = testing::choices();
    let frames = 2000;
    let mut rng = Rng::new(11);
    let input: Vec<Vec<f32>> = (0..11)
        .map(|_| (0..frames).map(|_| 0.5 * rng.next_bipolar()).collect())
        .collect();
    for bands in 1..=MAX_BANDS {
        let p = settings(bands);
        let want: Vec<Vec<f64>> = input.iter().map(|x| reference(&p, x)).collect();
        for channels in [1, 2, 3, 4, 7, 8, 11] {
            for &choice in &choices {
                for block in [1, 2, 3, 5, 64, 256, 2000] {
                    let mut eq = Equalizer::new(&p, channels, 48_000).with_kernels(choice);
                    let mut bufs: Vec<Box<[f32]>> =
                        input[..channels].iter().map(|x| x.clone().into()).collect();
                    let mut start = 0;
                    while start < frames {
                        let n = block.min(frames - start);
                        let mut part: Vec<Box<[f32]>> =
                            bufs.iter().map(|b| b[start..start + n].into()).collect();
                        eq.process(&mut part, n);
                        for (b, q) in bufs.iter_mut().zip(&part) {
                            b[start..start + n].copy_from_slice(q);
                        }
                        start += n;
                    }
                    for (got, want) in bufs.iter().zip(&want) {
                        let err = got
                            .iter()
                            .zip(want)
                            .map(|(&g, &w)| (f64::from(g) - w).abs())
                            .fold(0.0, f64::max);
                        assert!(
                            err < 2e-5,
                            "{bands} bands, {channels} ch, block {block}, {}: error {err}",
                            eq.kernels().name()
                        );
                    }
                }
            }
        }
    }
    testing::report_choices("wavefront_matches_the_band_by_band_cascade", &choices);
}

/// A single channel runs in block form while steady and on the wavefront while a band
/// glides, on the same state: through a glide, a change of filter type and a rebuild
/// (`continue_from`) it computes what the portable wavefront computes throughout.
#[test]
fn a_single_channel_follows_glides_and_changes_of_type() {
    let choices = testing::choices();
    for &choice in &choices {
        single_channel_follows(choice);
    }
    testing::report_choices(
        "a_single_channel_follows_glides_and_changes_of_type",
        &choices,
    );
}

/// [`a_single_channel_follows_glides_and_changes_of_type`] on the kernels of `choice`.
fn single_channel_follows(choice: KernelChoice) {
    let frames = 4000;
    let mut rng = Rng::new(3);
    let input: Box<[f32]> = (0..frames).map(|_| 0.5 * rng.next_bipolar()).collect();
    let p = settings(3);
    let mut fast = Equalizer::new(&p, 1, 48_000).with_kernels(choice);
    let mut slow = Equalizer::new(&p, 1, 48_000).portable();
    let (mut a, mut b) = (input.clone(), input.clone());
    let block = 100;
    for (i, start) in (0..frames).step_by(block).enumerate() {
        match i {
            5 => {
                let mut moved = p[1];
                moved.freq_hz *= 2.0;
                fast.set_band(1, moved);
                slow.set_band(1, moved);
            }
            12 => {
                let mut other = p[2];
                other.kind = FilterKind::LowPass;
                fast.set_band(2, other);
                slow.set_band(2, other);
            }
            20 => {
                let mut q = p.clone();
                q[0].gain_db += 6.0;
                let mut new_fast = Equalizer::new(&q, 1, 48_000).with_kernels(choice);
                let mut new_slow = Equalizer::new(&q, 1, 48_000).portable();
                new_fast.continue_from(&fast);
                new_slow.continue_from(&slow);
                (fast, slow) = (new_fast, new_slow);
            }
            _ => {}
        }
        for (eq, buf) in [(&mut fast, &mut a), (&mut slow, &mut b)] {
            let mut part: Vec<Box<[f32]>> = vec![buf[start..start + block].into()];
            eq.process(&mut part, block);
            buf[start..start + block].copy_from_slice(&part[0]);
        }
    }
    let err = a
        .iter()
        .zip(b.iter())
        .map(|(&x, &y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(err < 1e-5, "{choice:?}: error {err}");
    let moved = a
        .iter()
        .zip(input.iter())
        .any(|(x, y)| (x - y).abs() > 0.01);
    assert!(moved, "{choice:?}: the EQ changed the signal");
}

/// EQs processed in pairs give exactly what each gives on its own, whether a pair
/// runs interleaved (stereo, steady, three or four bands) or falls back (more bands,
/// one or two in block form, a glide under way).
#[test]
fn paired_eqs_equal_each_on_its_own() {
    let choices = testing::choices();
    for &choice in &choices {
        pairs_equal_each_alone(choice);
    }
    testing::report_choices("paired_eqs_equal_each_on_its_own", &choices);
}

/// [`paired_eqs_equal_each_on_its_own`] on the kernels of `choice`.
fn pairs_equal_each_alone(choice: KernelChoice) {
    let frames = 1000;
    let mut rng = Rng::new(5);
    let inputs: [Vec<Box<[f32]>>; 4] = std::array::from_fn(|_| {
        (0..2)
            .map(|_| (0..frames).map(|_| 0.5 * rng.next_bipolar()).collect())
            .collect()
    });
    for (bands, glide) in [
        ([4, 3, 4, 4], false),
        ([4, 3, 4, 4], true),
        ([2, 4, 3, 4], false),
        ([6, 4, 4, 1], false),
    ] {
        let make = || -> [Equalizer; 4] {
            let mut eqs =
                bands.map(|b| Equalizer::new(&settings(b), 2, 48_000).with_kernels(choice));
            if glide {
                let mut moved = settings(bands[3])[0];
                moved.freq_hz *= 1.5;
                eqs[3].set_band(0, moved);
            }
            eqs
        };
        let (mut alone, mut pairs) = (make(), make());
        let mut outs = [inputs.clone(), inputs.clone()];
        for start in (0..frames).step_by(250) {
            let part = |bufs: &[Vec<Box<[f32]>>; 4]| -> [Vec<Box<[f32]>>; 4] {
                bufs.each_ref()
                    .map(|b| b.iter().map(|c| c[start..start + 250].into()).collect())
            };
            let mut parts = outs.each_ref().map(part);
            for (eq, bufs) in alone.iter_mut().zip(parts[0].iter_mut()) {
                eq.process(bufs, 250);
            }
            let [pa, pb, pc, pd] = &mut parts[1];
            let [ea, eb, ec, ed] = &mut pairs;
            Equalizer::process_pair(ea, pa, eb, pb, 250);
            Equalizer::process_pair(ec, pc, ed, pd, 250);
            for (out, part) in outs.iter_mut().zip(&parts) {
                for (o, p) in out.iter_mut().zip(part) {
                    for (t, s) in o.iter_mut().zip(p) {
                        t[start..start + 250].copy_from_slice(s);
                    }
                }
            }
        }
        assert!(
            outs[0] == outs[1],
            "{choice:?}, {bands:?} bands, glide {glide}: a pair differs"
        );
    }
}
