//! DSP blocks for Troubadour.
//!
//! Everything here is plain computation on caller-provided buffers: nothing allocates
//! after construction, nothing locks, so all of it may run on the audio thread.
//!
//! - [`gain`]: decibel conversion, the constant-power pan law and the balance law.
//! - [`kernels`]: the inner loops of mixing and metering, written to vectorise.
//! - [`generator`]: test sources (sine, white and pink noise, impulse, silence).
//! - [`rng`]: the small deterministic random generator behind the noise sources.

pub mod gain;
pub mod generator;
pub mod kernels;
pub mod rng;
