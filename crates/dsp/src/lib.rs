//! DSP blocks for Troubadour.
//!
//! Everything here is plain computation on caller-provided buffers: nothing allocates
//! after construction, nothing locks, so all of it may run on the audio thread.
//!
//! - [`gain`]: decibel conversion, the constant-power pan law and the balance law.
//! - [`kernels`]: the inner loops of mixing and metering, written to vectorise.
//! - [`biquad`] and [`eq`]: Audio EQ Cookbook filters and the parametric EQ.
//! - [`compressor`], [`gate`], [`limiter`]: dynamics.
//! - [`generator`]: test sources (sine, white and pink noise, impulse, silence).
//! - [`resample`]: sample-rate conversion, fixed and asynchronous.
//! - [`rng`]: the small deterministic random generator behind the noise sources.
//! - [`fastmath`]: fast log2/exp2 for per-sample dB conversions.

pub mod biquad;
pub mod compressor;
pub mod dynamics;
pub mod eq;
pub mod fastmath;
pub mod gain;
pub mod gate;
pub mod generator;
pub mod kernels;
pub mod limiter;
pub mod resample;
pub mod rng;
pub mod simd;
pub mod spectrum;
