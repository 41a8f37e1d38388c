//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub use troubadour_dsp::simd::{KernelChoice, Kernels};

pub mod kernels;
