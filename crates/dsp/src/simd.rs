//! Run-time choice of instruction set.
//!
//! The crate is compiled for the baseline x86-64 (SSE2), so one binary runs anywhere.
//! The hot loops are written once, as plain Rust the compiler vectorises, and compiled a
//! second time with AVX2 and FMA enabled (`#[target_feature]`); processors pick a
//! version when they are built. Plain `a * b + c` is never fused by the compiler, so
//! both versions give bit-identical results; only code that asks for a fused
//! multiply-add (the EQ's kernel) differs in the last bits.

/// Whether this CPU has AVX2 and FMA. The standard library caches the answer after the
/// first call, which executes `cpuid` (a trap to the hypervisor in a VM): processors
/// ask in their constructors, off the audio thread, and keep the answer.
pub fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
