//! The parametric EQ: up to [`MAX_BANDS`] cookbook biquads in series over all channels
//! of a strip or bus, with parameter changes that glide instead of clicking.
//!
//! A single biquad's recursion is latency-bound: its next output waits on its last, so
//! filtering band after band, channel after channel leaves most of the CPU idle. The
//! bands run as a *wavefront* instead: the bands sit in the lanes of a vector, and
//! at step `t` lane `b` filters frame `t − b`, taking its input from lane `b − 1`'s
//! output of the step before. Every step is one vector biquad step over all bands and
//! their recursions overlap. Each
//! block starts and ends with a partial wavefront (lanes outside the block stand
//! still), so the EQ adds no delay. Up to four bands run in a 4-lane wavefront, five to
//! eight in an 8-lane one: the recursion's latency, not the lane count, sets the pace.
//!
//! A channel on its own (a mono EQ, the odd channel out) has only its bands to overlap
//! that way; on AVX2 CPUs it runs in *block form* instead (module `block`), eight
//! frames per step, while no band glides. The two kernels keep the same state, so they
//! take turns.
//!
//! Steps compute in f64 (see [`Biquad`](crate::biquad::Biquad) for why f32 arithmetic
//! is not accurate enough at low corner frequencies); the state is kept in f64 within a
//! block and stored in f32 between blocks. On x86-64 CPUs with AVX2 and FMA (detected at
//! run time) the same code is compiled with fused multiply-adds.

use crate::biquad::{Coefficients, FilterKind, FilterParams};

mod block;

/// Most bands one EQ has.
pub const MAX_BANDS: usize = 8;
/// Frames between coefficient updates while a band glides.
pub const GLIDE_STEP: usize = 16;
/// How long a parameter glide lasts, seconds.
pub const GLIDE_SECONDS: f64 = 0.010;

type Coefs = [[f64; 5]; MAX_BANDS];

/// The coefficients lane-major: `b0, b1, b2, −a1, −a2`, each for every band.
type LaneCoefs = [[f64; MAX_BANDS]; 5];

/// Multiply-add, plain or fused: the kernel is written once and compiled both ways.
trait MulAdd {
    fn mul_add(a: f64, b: f64, c: f64) -> f64;
}

/// `a × b + c` with two roundings: any CPU.
struct Plain;

impl MulAdd for Plain {
    #[inline(always)]
    fn mul_add(a: f64, b: f64, c: f64) -> f64 {
        a * b + c
    }
}

/// `a × b + c` with one rounding: only inside functions compiled for FMA.
#[cfg(target_arch = "x86_64")]
struct Fused;

#[cfg(target_arch = "x86_64")]
impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
}

/// The first `L` lanes of `k`, starting at band `first`.
#[inline(always)]
fn lanes<const L: usize>(k: &LaneCoefs, first: usize) -> [[f64; L]; 5] {
    k.map(|c| std::array::from_fn(|l| c[first + l]))
}

/// One channel's wavefront over `L` bands while a block runs: the states in f64 and each
/// lane's latest output (lane `b`'s is lane `b + 1`'s next input).
#[derive(Clone, Copy)]
struct Wave<const L: usize> {
    z1: [f64; L],
    z2: [f64; L],
    y: [f64; L],
}

impl<const L: usize> Wave<L> {
    #[inline(always)]
    fn load(s1: &[f32], s2: &[f32]) -> Self {
        Wave {
            z1: std::array::from_fn(|l| f64::from(s1[l])),
            z2: std::array::from_fn(|l| f64::from(s2[l])),
            y: [0.0; L],
        }
    }

    #[inline(always)]
    fn store(&self, s1: &mut [f32], s2: &mut [f32]) {
        for l in 0..L {
            s1[l] = self.z1[l] as f32;
            s2[l] = self.z2[l] as f32;
        }
    }

    /// One wavefront step at time `t` over `chan`. `EDGE`: some lanes are outside the
    /// block (their frame `t − b` is before 0 or past the end) and must stand still.
    #[inline(always)]
    fn step<const EDGE: bool, M: MulAdd>(&mut self, t: usize, k: &[[f64; L]; 5], chan: &mut [f32]) {
        let n = chan.len();
        let [b0, b1, b2, na1, na2] = k;
        let input = if !EDGE || t < n {
            f64::from(chan[t])
        } else {
            0.0
        };
        let mut x = [input; L];
        x[1..].copy_from_slice(&self.y[..L - 1]);
        let mut out = [0.0; L];
        let mut n1 = [0.0; L];
        let mut n2 = [0.0; L];
        for l in 0..L {
            out[l] = M::mul_add(b0[l], x[l], self.z1[l]);
            n1[l] = M::mul_add(na1[l], out[l], M::mul_add(b1[l], x[l], self.z2[l]));
            n2[l] = M::mul_add(na2[l], out[l], b2[l] * x[l]);
        }
        if EDGE {
            for l in 0..L {
                if t >= l && t - l < n {
                    self.y[l] = out[l];
                    self.z1[l] = n1[l];
                    self.z2[l] = n2[l];
                }
            }
        } else {
            (self.y, self.z1, self.z2) = (out, n1, n2);
        }
        if t >= L - 1 && t - (L - 1) < n {
            chan[t - (L - 1)] = self.y[L - 1] as f32;
        }
    }

    /// The first steps, until every lane is inside the block.
    #[inline(always)]
    fn fill<M: MulAdd>(&mut self, k: &[[f64; L]; 5], chan: &mut [f32]) {
        for t in 0..L - 1 {
            self.step::<true, M>(t, k, chan);
        }
    }

    /// The last steps, until the last lane has left the block.
    #[inline(always)]
    fn drain<M: MulAdd>(&mut self, k: &[[f64; L]; 5], chan: &mut [f32]) {
        let n = chan.len();
        for t in n.max(L - 1)..n + L - 1 {
            self.step::<true, M>(t, k, chan);
        }
    }

    /// The whole block, scalar code (the compiler overlaps the lanes' recursions).
    #[inline(always)]
    fn run<M: MulAdd>(&mut self, k: &[[f64; L]; 5], chan: &mut [f32]) {
        self.fill::<M>(k, chan);
        for t in L - 1..chan.len() {
            self.step::<false, M>(t, k, chan);
        }
        self.drain::<M>(k, chan);
    }
}

/// Four bands of `C` channels (1, 2 or 4) as wavefronts in AVX2 registers, one 4-lane
/// vector per state, the channels' independent recursions interleaved step by step (each
/// with its own coefficients: the channels may belong to different EQs). One chain waits
/// on its recursion's latency; four in flight keep the FMA units busy.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn wavefront_avx<const C: usize>(
    ks: [&[[f64; 4]; 5]; C],
    waves: &mut [Wave<4>; C],
    chans: &mut [&mut [f32]; C],
) {
    use std::arch::x86_64::*;
    let n = chans[0].len();
    for ((w, chan), k) in waves.iter_mut().zip(chans.iter_mut()).zip(ks) {
        w.fill::<Fused>(k, chan);
    }
    if n > 3 {
        let v = |a: &[f64; 4]| _mm256_set_pd(a[3], a[2], a[1], a[0]);
        let coefs: [[__m256d; 5]; C] = std::array::from_fn(|c| ks[c].each_ref().map(v));
        let mut z1: [__m256d; C] = std::array::from_fn(|c| v(&waves[c].z1));
        let mut z2: [__m256d; C] = std::array::from_fn(|c| v(&waves[c].z2));
        let mut y: [__m256d; C] = std::array::from_fn(|c| v(&waves[c].y));
        for t in 3..n {
            for c in 0..C {
                // x = [input, y0, y1, y2]: the lanes move up one band.
                let [b0, b1, b2, na1, na2] = coefs[c];
                let input = _mm256_set1_pd(f64::from(chans[c][t]));
                let x = _mm256_blend_pd(_mm256_permute4x64_pd(y[c], 0b10_01_00_00), input, 0b0001);
                let out = _mm256_fmadd_pd(b0, x, z1[c]);
                z1[c] = _mm256_fmadd_pd(na1, out, _mm256_fmadd_pd(b1, x, z2[c]));
                z2[c] = _mm256_fmadd_pd(na2, out, _mm256_mul_pd(b2, x));
                y[c] = out;
                let high = _mm256_extractf128_pd(out, 1);
                chans[c][t - 3] = _mm_cvtsd_f64(_mm_unpackhi_pd(high, high)) as f32;
            }
        }
        let array = |r: __m256d| {
            let mut a = [0.0f64; 4];
            // SAFETY: `a` is 4 f64 (32 bytes), what an unaligned 256-bit store writes.
            unsafe { _mm256_storeu_pd(a.as_mut_ptr(), r) };
            a
        };
        for c in 0..C {
            waves[c] = Wave {
                z1: array(z1[c]),
                z2: array(z2[c]),
                y: array(y[c]),
            };
        }
    }
    for ((w, chan), k) in waves.iter_mut().zip(chans.iter_mut()).zip(ks) {
        w.drain::<Fused>(k, chan);
    }
}

/// Steps of [`wavefront_avx512`] between its vector passes over the input and output.
const STEPS: usize = 64;

/// `2R` channels' wavefronts (four bands each) in `R` AVX-512 registers, two channels
/// per register (lanes 0..4 and 4..8): the same multiply-adds lane for lane as
/// [`wavefront_avx`], so the same output bit for bit, with half the instructions. The
/// per-step shuffles that fed the AVX2 kernel (input broadcast, output extraction) leave
/// the loop: the input is widened to f64 pairs and the last band's outputs narrowed in
/// vector-friendly passes of [`STEPS`] frames, leaving one permute per register and step
/// (which moves the lanes up one band and brings in both inputs). Each register is one
/// loop-carried chain: two leave the FMA units half idle, four (eight channels) fill
/// them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn wavefront_avx512<const R: usize>(
    ks: &[&[[f64; 4]; 5]],
    waves: &mut [Wave<4>],
    chans: &mut [&mut [f32]],
) {
    use std::arch::x86_64::*;
    assert!(
        ks.len() == 2 * R && waves.len() == 2 * R && chans.len() == 2 * R,
        "two channels per register"
    );
    let n = chans[0].len();
    assert!(chans.iter().all(|c| c.len() == n), "channels of one length");
    for ((w, chan), k) in waves.iter_mut().zip(chans.iter_mut()).zip(ks) {
        w.fill::<Fused>(k, chan);
    }
    if n > 3 {
        let v = |a: &[f64; 4], b: &[f64; 4]| {
            _mm512_setr_pd(a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3])
        };
        let coefs: [[__m512d; 5]; R] =
            std::array::from_fn(|p| std::array::from_fn(|i| v(&ks[2 * p][i], &ks[2 * p + 1][i])));
        let mut z1: [__m512d; R] =
            std::array::from_fn(|p| v(&waves[2 * p].z1, &waves[2 * p + 1].z1));
        let mut z2: [__m512d; R] =
            std::array::from_fn(|p| v(&waves[2 * p].z2, &waves[2 * p + 1].z2));
        let mut y: [__m512d; R] = std::array::from_fn(|p| v(&waves[2 * p].y, &waves[2 * p + 1].y));
        // x = (input, y0, y1, y2 | input', y4, y5, y6): indices 8 and 9 take the second
        // operand's lanes 0 and 1, the two channels' inputs.
        let shift = _mm512_setr_epi64(8, 0, 1, 2, 9, 4, 5, 6);
        // Scratch written before it is read, step by step: left uninitialised, since
        // zeroing these 10 KB on every call cost more than the EQ's own work on short
        // blocks (a memset at 3.7 % of the standard workload's profile).
        use std::mem::MaybeUninit;
        let mut ins = [[MaybeUninit::<[f64; 2]>::uninit(); STEPS]; R];
        let mut outs = [[MaybeUninit::<[f64; 8]>::uninit(); STEPS]; R];
        let mut t = 3;
        while t < n {
            let m = (n - t).min(STEPS);
            for (p, pair) in ins.iter_mut().enumerate() {
                let (a, b) = (&chans[2 * p][t..t + m], &chans[2 * p + 1][t..t + m]);
                for ((slot, &x0), &x1) in pair.iter_mut().zip(a).zip(b) {
                    slot.write([f64::from(x0), f64::from(x1)]);
                }
            }
            for j in 0..m {
                for p in 0..R {
                    let [b0, b1, b2, na1, na2] = coefs[p];
                    // SAFETY: `ins[p][j]` (j < m) was written above; it is two f64 (16
                    // bytes), what the load reads.
                    let input = unsafe {
                        _mm512_castpd128_pd512(_mm_loadu_pd(ins[p][j].assume_init_ref().as_ptr()))
                    };
                    let x = _mm512_permutex2var_pd(y[p], shift, input);
                    let out = _mm512_fmadd_pd(b0, x, z1[p]);
                    z1[p] = _mm512_fmadd_pd(na1, out, _mm512_fmadd_pd(b1, x, z2[p]));
                    z2[p] = _mm512_fmadd_pd(na2, out, _mm512_mul_pd(b2, x));
                    y[p] = out;
                    // SAFETY: `outs[p][j]` is room for eight f64 (64 bytes), what the store
                    // writes.
                    unsafe { _mm512_storeu_pd(outs[p][j].as_mut_ptr().cast::<f64>(), out) };
                }
            }
            // The last band's outputs (lanes 3 and 7) are frames three steps back.
            for (p, pair) in outs.iter().enumerate() {
                let [a, b] = &mut chans[2 * p..2 * p + 2] else {
                    unreachable!("two channels per register")
                };
                let (a, b) = (&mut a[t - 3..t - 3 + m], &mut b[t - 3..t - 3 + m]);
                for ((o, ya), yb) in pair[..m].iter().zip(a.iter_mut()).zip(b.iter_mut()) {
                    // SAFETY: steps j < m stored their outputs above.
                    let o = unsafe { o.assume_init_ref() };
                    *ya = o[3] as f32;
                    *yb = o[7] as f32;
                }
            }
            t += m;
        }
        let array = |r: __m512d| {
            let mut a = [0.0f64; 8];
            // SAFETY: `a` is 8 f64 (64 bytes), what an unaligned 512-bit store writes.
            unsafe { _mm512_storeu_pd(a.as_mut_ptr(), r) };
            a
        };
        for p in 0..R {
            let (a1, a2, ay) = (array(z1[p]), array(z2[p]), array(y[p]));
            for (h, w) in waves[2 * p..2 * p + 2].iter_mut().enumerate() {
                let half = |a: &[f64; 8]| std::array::from_fn(|l| a[4 * h + l]);
                *w = Wave {
                    z1: half(&a1),
                    z2: half(&a2),
                    y: half(&ay),
                };
            }
        }
    }
    for ((w, chan), k) in waves.iter_mut().zip(chans.iter_mut()).zip(ks) {
        w.drain::<Fused>(k, chan);
    }
}

/// The state of every band of one channel, stored in f32 between blocks.
#[derive(Debug, Clone, Copy, Default)]
struct Channel {
    s1: [f32; MAX_BANDS],
    s2: [f32; MAX_BANDS],
}

impl Channel {
    /// Copies band `band`'s state from `old`.
    fn continue_band_from(&mut self, old: &Channel, band: usize) {
        self.s1[band] = old.s1[band];
        self.s2[band] = old.s2[band];
    }
}

/// Filters every channel of `bufs` (frames `start..start + n`) through the first `bands`
/// bands, on the portable kernel: each channel on its own, all bands in one wavefront.
fn process_portable(
    k: &LaneCoefs,
    bands: usize,
    states: &mut [Channel],
    bufs: &mut [Box<[f32]>],
    start: usize,
    n: usize,
) {
    for (st, buf) in states.iter_mut().zip(bufs.iter_mut()) {
        let chan = &mut buf[start..start + n];
        if bands <= 4 {
            let mut w = Wave::<4>::load(&st.s1, &st.s2);
            w.run::<Plain>(&lanes(k, 0), chan);
            w.store(&mut st.s1, &mut st.s2);
        } else {
            let mut w = Wave::<8>::load(&st.s1, &st.s2);
            w.run::<Plain>(&lanes(k, 0), chan);
            w.store(&mut st.s1, &mut st.s2);
        }
    }
}

/// The same on AVX2 + FMA: four bands per pass, channels four at a time, then in a
/// pair, then alone. When `forms` (the bands' block forms, present while no band glides)
/// is given, a channel left alone runs in block form, and so does a pair where
/// [`pair_in_blocks`] says that is faster.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn process_avx(
    k: &LaneCoefs,
    bands: usize,
    forms: Option<&[block::BlockForm]>,
    states: &mut [Channel],
    bufs: &mut [Box<[f32]>],
    start: usize,
    n: usize,
    avx512: bool,
) {
    // Eight channels at a time only on AVX-512 (four chains in flight; on AVX2 the
    // registers run out).
    let octets = if avx512 { states.len() / 8 * 8 } else { 0 };
    let quads = octets + (states.len() - octets) / 4 * 4;
    let pairs = quads + (states.len() - quads) / 2 * 2;
    let run = start..start + n;
    // Channels from `alone` on run in block form, the rest on the wavefront.
    let alone = match forms {
        Some(_) if pair_in_blocks(bands, avx512) => quads,
        Some(_) => pairs,
        None => states.len(),
    };
    let pairs = pairs.min(alone);
    if let Some(forms) = forms {
        for (st, buf) in states[alone..].iter_mut().zip(bufs[alone..].iter_mut()) {
            block::filter_channel(forms, &mut st.s1, &mut st.s2, &mut buf[run.clone()], avx512);
        }
    }
    for pass in 0..bands.div_ceil(4) {
        let first = 4 * pass;
        let k4 = lanes::<4>(k, first);
        let run = run.clone();
        groups::<8>(
            &k4,
            &mut states[..octets],
            &mut bufs[..octets],
            first,
            run.clone(),
            avx512,
        );
        groups::<4>(
            &k4,
            &mut states[octets..quads],
            &mut bufs[octets..quads],
            first,
            run.clone(),
            avx512,
        );
        groups::<2>(
            &k4,
            &mut states[quads..pairs],
            &mut bufs[quads..pairs],
            first,
            run.clone(),
            avx512,
        );
        groups::<1>(
            &k4,
            &mut states[pairs..alone],
            &mut bufs[pairs..alone],
            first,
            run,
            avx512,
        );
    }
}

/// Whether the two channels of a pair run faster one after the other in block form than
/// as a two-channel wavefront (measured: `cargo bench -p troubadour-dsp --bench
/// processors -- nomatch`): with one or two bands, whose wavefront leaves most lanes
/// empty, and on AVX-512 with five bands or more (two chains per channel in flight).
fn pair_in_blocks(bands: usize, avx512: bool) -> bool {
    bands <= 2 || (avx512 && bands >= 5)
}

/// Bands `first..first + 4` of `states.len()` channels (a multiple of `C`), `C` at a
/// time, over frames `run` of `bufs`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn groups<const C: usize>(
    k4: &[[f64; 4]; 5],
    states: &mut [Channel],
    bufs: &mut [Box<[f32]>],
    first: usize,
    run: std::ops::Range<usize>,
    avx512: bool,
) {
    for (st, buf) in states.chunks_exact_mut(C).zip(bufs.chunks_exact_mut(C)) {
        let (Ok(st), Ok(buf)) = (
            <&mut [Channel; C]>::try_from(st),
            <&mut [Box<[f32]>; C]>::try_from(buf),
        ) else {
            unreachable!("chunks of C")
        };
        let chans = buf.each_mut().map(|b| &mut b[run.clone()]);
        group([k4; C], st.each_mut(), chans, first, avx512);
    }
}

/// One wavefront over `C` channels, each with its own coefficients: states loaded from
/// band `first` on, run, stored back.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn group<const C: usize>(
    ks: [&[[f64; 4]; 5]; C],
    states: [&mut Channel; C],
    mut chans: [&mut [f32]; C],
    first: usize,
    avx512: bool,
) {
    let mut waves = states
        .each_ref()
        .map(|s| Wave::load(&s.s1[first..], &s.s2[first..]));
    match (avx512, C) {
        // SAFETY: `avx512` is only true where `simd::avx512` found AVX-512F (with AVX2
        // and FMA) on this CPU.
        (true, 4) => unsafe { wavefront_avx512::<2>(&ks, &mut waves, &mut chans) },
        // SAFETY: as above.
        (true, 8) => unsafe { wavefront_avx512::<4>(&ks, &mut waves, &mut chans) },
        _ => wavefront_avx::<C>(ks, &mut waves, &mut chans),
    }
    for (wave, s) in waves.iter().zip(states) {
        wave.store(&mut s.s1[first..], &mut s.s2[first..]);
    }
}

/// Two stereo EQs of up to four bands (see [`Equalizer::process_pair`]): one 4-chain
/// wavefront over both.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn process_pair_avx(
    ks: [&LaneCoefs; 2],
    states: [&mut [Channel]; 2],
    bufs: [&mut [Box<[f32]>]; 2],
    n: usize,
    avx512: bool,
) {
    let [kx, ky] = ks.map(|k| lanes::<4>(k, 0));
    let [sx, sy] = states;
    let [bx, by] = bufs;
    let (([a, b], [c, d]), ([w, x], [y, z])) = ((sx, sy), (bx, by)) else {
        unreachable!("stereo")
    };
    group(
        [&kx, &kx, &ky, &ky],
        [a, b, c, d],
        [&mut w[..n], &mut x[..n], &mut y[..n], &mut z[..n]],
        0,
        avx512,
    );
}

/// The lane-major coefficients of `coef` (unused bands are identities).
fn lane_coefs(coef: &Coefs) -> LaneCoefs {
    [
        std::array::from_fn(|b| coef[b][0]),
        std::array::from_fn(|b| coef[b][1]),
        std::array::from_fn(|b| coef[b][2]),
        std::array::from_fn(|b| -coef[b][3]),
        std::array::from_fn(|b| -coef[b][4]),
    ]
}

#[derive(Debug, Clone, Copy)]
struct Band {
    target: FilterParams,
    current: FilterParams,
    /// Glide steps left; 0 when steady.
    steps_left: u32,
}

/// A parametric EQ over a fixed number of channels.
///
/// ```
/// use troubadour_dsp::biquad::{FilterKind, FilterParams};
/// use troubadour_dsp::eq::Equalizer;
///
/// let band = FilterParams { kind: FilterKind::HighPass, freq_hz: 80.0, q: 0.707, gain_db: 0.0, slope: None };
/// let mut eq = Equalizer::new(&[band], 2, 48_000);
/// let mut bufs: Vec<Box<[f32]>> = vec![vec![1.0; 256].into(), vec![1.0; 256].into()];
/// eq.process(&mut bufs, 256);
/// assert!(bufs[0][255].abs() < 0.9); // DC is being removed
/// ```
#[derive(Debug, Clone)]
pub struct Equalizer {
    bands: Vec<Band>,
    coef: Coefs,
    channels: Vec<Channel>,
    sample_rate: f64,
    glide_steps: u32,
    /// Each band's block form (see [`block`]), for single channels while no band glides.
    forms: Vec<block::BlockForm>,
    /// Some band's coefficients changed since `forms` was computed.
    forms_stale: bool,
    /// Run the fused (AVX2 + FMA) kernel.
    fma: bool,
    /// Run groups of four channels on AVX-512 ([`wavefront_avx512`]).
    avx512: bool,
}

impl Equalizer {
    /// An EQ with `bands` (at most [`MAX_BANDS`] are used) at its settings from the start.
    /// Allocates: call off the audio thread.
    pub fn new(bands: &[FilterParams], channels: usize, sample_rate: u32) -> Self {
        let sample_rate = f64::from(sample_rate);
        let bands: Vec<Band> = bands
            .iter()
            .take(MAX_BANDS)
            .map(|p| Band {
                target: *p,
                current: *p,
                steps_left: 0,
            })
            .collect();
        let mut coef = [Coefficients::IDENTITY.to_array(); MAX_BANDS];
        for (c, b) in coef.iter_mut().zip(&bands) {
            *c = Coefficients::design(&b.current, sample_rate).to_array();
        }
        let forms = coef[..bands.len()]
            .iter()
            .map(|&c| block::BlockForm::new(c))
            .collect();
        let glide_steps = ((GLIDE_SECONDS * sample_rate) / GLIDE_STEP as f64)
            .ceil()
            .max(1.0) as u32;
        Equalizer {
            bands,
            coef,
            channels: vec![Channel::default(); channels],
            sample_rate,
            glide_steps,
            forms,
            forms_stale: false,
            fma: crate::simd::avx2_fma(),
            avx512: crate::simd::avx512(),
        }
    }

    /// The same EQ on the portable kernel (plain multiply-adds), whatever the CPU: for
    /// comparing the two kernels.
    pub fn portable(mut self) -> Self {
        self.fma = false;
        self.avx512 = false;
        self
    }

    /// Number of bands.
    pub fn bands(&self) -> usize {
        self.bands.len()
    }

    /// The settings band `index` is heading to.
    pub fn band(&self, index: usize) -> Option<&FilterParams> {
        self.bands.get(index).map(|b| &b.target)
    }

    /// Audio thread: sets band `index` to `params`. Frequency, Q, gain and slope glide
    /// over [`GLIDE_SECONDS`]; a change of filter type takes effect at once.
    pub fn set_band(&mut self, index: usize, params: FilterParams) {
        let Some(band) = self.bands.get_mut(index) else {
            return;
        };
        if params == band.target {
            return;
        }
        band.target = params;
        if params.kind != band.current.kind {
            band.current = params;
            band.steps_left = 0;
            self.coef[index] = Coefficients::design(&params, self.sample_rate).to_array();
            self.forms_stale = true;
        } else {
            band.steps_left = self.glide_steps;
        }
    }

    /// Audio thread: filters `frames` frames of every channel of `bufs` in place.
    pub fn process(&mut self, bufs: &mut [Box<[f32]>], frames: usize) {
        let bands = self.bands.len();
        let mut coefs = lane_coefs(&self.coef);
        let mut start = 0;
        while start < frames {
            let gliding = self.bands.iter().any(|b| b.steps_left > 0);
            let n = if gliding {
                for (band, coef) in self.bands.iter_mut().zip(self.coef.iter_mut()) {
                    if band.steps_left > 0 {
                        *coef = glide(band, self.sample_rate);
                    }
                }
                coefs = lane_coefs(&self.coef);
                self.forms_stale = true;
                GLIDE_STEP.min(frames - start)
            } else {
                if self.forms_stale {
                    // A few hundred multiply-adds per band, no allocation: fine here.
                    for (form, &c) in self.forms.iter_mut().zip(&self.coef) {
                        *form = block::BlockForm::new(c);
                    }
                    self.forms_stale = false;
                }
                frames - start
            };
            #[cfg(target_arch = "x86_64")]
            if self.fma {
                // SAFETY: `fma` is only true when `simd::avx2_fma` found AVX2 and FMA on
                // this CPU (see `Equalizer::new`).
                unsafe {
                    process_avx(
                        &coefs,
                        bands,
                        (!gliding).then_some(&self.forms[..]),
                        &mut self.channels,
                        bufs,
                        start,
                        n,
                        self.avx512,
                    )
                };
                start += n;
                continue;
            }
            process_portable(&coefs, bands, &mut self.channels, bufs, start, n);
            start += n;
        }
    }

    /// Filters `x_bufs` through `x` and `y_bufs` through `y`, interleaved where that is
    /// faster: two stereo EQs of up to four bands, neither gliding, on the AVX2 kernel
    /// run their four channels' recursions side by side (about 1.5× the throughput of
    /// one after the other; a single stereo EQ leaves the FMA units waiting). Anything
    /// else runs one EQ after the other. Same results either way.
    pub fn process_pair(
        x: &mut Equalizer,
        x_bufs: &mut [Box<[f32]>],
        y: &mut Equalizer,
        y_bufs: &mut [Box<[f32]>],
        frames: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        if x.fma && y.fma && x.pairable() && y.pairable() {
            let (kx, ky) = (lane_coefs(&x.coef), lane_coefs(&y.coef));
            // SAFETY: `fma` is only true when `simd::avx2_fma` found AVX2 and FMA on this
            // CPU (see `Equalizer::new`).
            unsafe {
                process_pair_avx(
                    [&kx, &ky],
                    [&mut x.channels, &mut y.channels],
                    [x_bufs, y_bufs],
                    frames,
                    x.avx512 && y.avx512,
                )
            };
            return;
        }
        x.process(x_bufs, frames);
        y.process(y_bufs, frames);
    }

    /// Stereo, up to four bands and not running in block form on its own (so that the
    /// pair computes what each computes alone), none gliding.
    fn pairable(&self) -> bool {
        self.channels.len() == 2
            && self.bands.len() <= 4
            && !pair_in_blocks(self.bands.len(), self.avx512)
            && self.bands.iter().all(|b| b.steps_left == 0)
    }

    /// Takes over the filter states of `old` (same channel layout) for the bands whose
    /// type is unchanged, gliding from `old`'s settings to this EQ's, so a rebuilt graph
    /// continues without a transient.
    pub fn continue_from(&mut self, old: &Equalizer) {
        for (b, (new, old_band)) in self.bands.iter_mut().zip(&old.bands).enumerate() {
            if new.target.kind != old_band.current.kind {
                continue;
            }
            for (c, o) in self.channels.iter_mut().zip(&old.channels) {
                c.continue_band_from(o, b);
            }
            new.current = old_band.current;
            self.coef[b] = old.coef[b];
            self.forms_stale = true;
            new.steps_left = if new.target != new.current {
                self.glide_steps
            } else {
                0
            };
        }
    }
}

/// One glide step: each parameter moves a `1 / steps_left` share of the way to its
/// target (frequency and Q geometrically, gain and slope linearly); returns the
/// redesigned coefficients.
fn glide(band: &mut Band, sample_rate: f64) -> [f64; 5] {
    let k = 1.0 / f64::from(band.steps_left);
    let (c, t) = (&mut band.current, &band.target);
    c.freq_hz *= (t.freq_hz / c.freq_hz).powf(k);
    c.q *= (t.q / c.q).powf(k);
    c.gain_db += (t.gain_db - c.gain_db) * k;
    c.slope = match (c.slope, t.slope) {
        (Some(a), Some(b)) => Some(a + (b - a) * k),
        (_, b) => b,
    };
    band.steps_left -= 1;
    if band.steps_left == 0 {
        *c = *t;
    }
    Coefficients::design(c, sample_rate).to_array()
}

impl FilterKind {
    /// Every type, for tests and tools.
    pub const ALL: [FilterKind; 8] = [
        FilterKind::Peak,
        FilterKind::LowShelf,
        FilterKind::HighShelf,
        FilterKind::LowPass,
        FilterKind::HighPass,
        FilterKind::BandPass,
        FilterKind::Notch,
        FilterKind::AllPass,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

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

    /// The wavefront and the block form (both builds, any block split, 1 to 8 bands,
    /// channel counts that use groups of eight (AVX-512), four, pairs and single
    /// channels) compute the same cascade as filtering band after band.
    #[test]
    fn wavefront_matches_the_band_by_band_cascade() {
        let frames = 2000;
        let mut rng = Rng::new(11);
        let input: Vec<Vec<f32>> = (0..11)
            .map(|_| (0..frames).map(|_| 0.5 * rng.next_bipolar()).collect())
            .collect();
        for bands in 1..=MAX_BANDS {
            let p = settings(bands);
            let want: Vec<Vec<f64>> = input.iter().map(|x| reference(&p, x)).collect();
            for channels in [1, 2, 3, 4, 7, 8, 11] {
                for portable in [false, true] {
                    for block in [1, 2, 3, 5, 64, 256, 2000] {
                        let mut eq = Equalizer::new(&p, channels, 48_000);
                        if portable {
                            eq = eq.portable();
                        }
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
                                "{bands} bands, {channels} ch, block {block}, portable {portable}: error {err}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// A single channel runs in block form while steady and on the wavefront while a band
    /// glides, on the same state: through a glide, a change of filter type and a rebuild
    /// (`continue_from`) it computes what the portable wavefront computes throughout.
    #[test]
    fn a_single_channel_follows_glides_and_changes_of_type() {
        let frames = 4000;
        let mut rng = Rng::new(3);
        let input: Box<[f32]> = (0..frames).map(|_| 0.5 * rng.next_bipolar()).collect();
        let p = settings(3);
        let mut fast = Equalizer::new(&p, 1, 48_000);
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
                    let mut new_fast = Equalizer::new(&q, 1, 48_000);
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
        assert!(err < 1e-5, "error {err}");
        let moved = a
            .iter()
            .zip(input.iter())
            .any(|(x, y)| (x - y).abs() > 0.01);
        assert!(moved, "the EQ changed the signal");
    }

    /// EQs processed in pairs give exactly what each gives on its own, whether a pair
    /// runs interleaved (stereo, steady, three or four bands) or falls back (more bands,
    /// one or two in block form, a glide under way).
    #[test]
    fn paired_eqs_equal_each_on_its_own() {
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
                let mut eqs = bands.map(|b| Equalizer::new(&settings(b), 2, 48_000));
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
                "{bands:?} bands, glide {glide}: a pair differs"
            );
        }
    }
}
