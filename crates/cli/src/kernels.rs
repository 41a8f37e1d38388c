//! The kernel choice of the binary's engines and resamplers, from the environment: the
//! libraries take an explicit [`KernelChoice`]; only the binary reads the variable.

use troubadour_dsp::simd::KernelChoice;

/// `TROUBADOUR_NO_AVX512` (any value) keeps the engines and resamplers to the AVX2
/// kernels on a CPU with AVX-512 (to measure or test those); without it they take the
/// best the CPU has.
pub fn from_env() -> KernelChoice {
    if std::env::var_os("TROUBADOUR_NO_AVX512").is_some() {
        KernelChoice::Avx2
    } else {
        KernelChoice::Best
    }
}
