//! One channel's EQ in *block form*: eight frames per step instead of one.
//!
//! A biquad is linear, so the eight outputs of a block are a fixed linear function of
//! the block's eight inputs and the filter's state before it: a matrix, computed once
//! from the coefficients. The state handed from block to block is the last two inputs
//! and outputs (direct form I history), which the previous block already produced, so
//! the only loop-carried work per eight frames is broadcasting two outputs and two
//! multiply-adds: about 11 cycles, against 8 cycles *per frame* for the recursion run
//! frame by frame. The inputs' share of each block (most of the arithmetic) does not
//! depend on the previous block, so the CPU runs it ahead, in parallel.
//!
//! This is what lets a single channel use the machine: the wavefront
//! (`wavefront_avx` in `eq::x86`) overlaps the bands of one channel, but one channel of few
//! bands leaves most of its lanes and most of the FMA units idle.
//!
//! Between calls the state is kept in the EQ's usual form (transposed direct form II,
//! two values per band), so this kernel and the wavefront can take turns on the same
//! channel: a gliding band (coefficients changing every few frames) runs on the
//! wavefront, a steady one here.
//!
//! A non-finite input sample spoils its whole block here (the matrix multiplies it into
//! every output of the block, the earlier ones too), where the recursion would spoil
//! only the frames from it on; the filter's state is lost either way, and the bus output
//! stage counts and silences non-finite samples.

/// Frames per block: two AVX2 registers of f64.
const FRAMES: usize = 8;

/// One band's response over a block of [`FRAMES`] frames, column by column: what each
/// input or state value contributes to each of the block's outputs.
#[derive(Debug, Clone, Copy)]
pub(super) struct BlockForm {
    /// `x[j]`: the outputs' response to input frame `j` of the block.
    x: [[f64; FRAMES]; FRAMES],
    /// Responses to the previous block's last input (`x1`), the one before (`x2`), its
    /// last output (`y1`) and the one before (`y2`).
    x1: [f64; FRAMES],
    x2: [f64; FRAMES],
    y1: [f64; FRAMES],
    y2: [f64; FRAMES],
    /// Responses to the transposed-direct-form state at the start of a call.
    s1: [f64; FRAMES],
    s2: [f64; FRAMES],
    /// `b0, b1, b2, a1, a2`: for the frame-by-frame tail and to hand the state back.
    coef: [f64; 5],
}

impl BlockForm {
    /// The block form of the biquad `b0, b1, b2, a1, a2` (a0 = 1), computed in f64 by
    /// running the filter on unit inputs and unit states.
    pub(super) fn new(coef: [f64; 5]) -> Self {
        let [b0, b1, b2, a1, a2] = coef;
        // The response over one block to inputs `x` from the state (s1, s2).
        let run = |x: [f64; FRAMES], mut s1: f64, mut s2: f64| {
            let mut y = [0.0; FRAMES];
            for (y, &x) in y.iter_mut().zip(&x) {
                *y = b0 * x + s1;
                s1 = b1 * x - a1 * *y + s2;
                s2 = b2 * x - a2 * *y;
            }
            y
        };
        let zero = [0.0; FRAMES];
        let s1 = run(zero, 1.0, 0.0);
        let s2 = run(zero, 0.0, 1.0);
        let x = std::array::from_fn(|j| {
            let mut unit = zero;
            unit[j] = 1.0;
            run(unit, 0.0, 0.0)
        });
        // The state after a block, from its last inputs and outputs:
        // s1 = b1·x1 + b2·x2 − a1·y1 − a2·y2 and s2 = b2·x1 − a2·y1.
        let mix = |c1: f64, c2: f64| std::array::from_fn(|k| c1 * s1[k] + c2 * s2[k]);
        BlockForm {
            x,
            // The columns of `state_after`'s formula.
            x1: mix(b1, b2),
            x2: mix(b2, 0.0),
            y1: mix(-a1, -a2),
            y2: mix(-a2, 0.0),
            s1,
            s2,
            coef,
        }
    }
}

// The kernels that run the block form: x86-64 only (elsewhere every channel runs on the
// portable wavefront).
#[cfg(target_arch = "x86_64")]
mod x86;
#[cfg(target_arch = "x86_64")]
pub(super) use x86::filter_channel;
