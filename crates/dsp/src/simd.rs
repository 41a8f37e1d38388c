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

/// Whether this CPU has AVX-512F (with AVX2 and FMA): 16-lane registers and masked
/// loads. Asked once, like [`avx2_fma`].
///
/// The environment variable `TROUBADOUR_NO_AVX512` (any value) makes it false, so that
/// the AVX2 kernels can be tested and measured on a machine with AVX-512 (the test
/// script runs the DSP tests both ways). It is read once, at the first call.
pub fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static DISABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let disabled = *DISABLED.get_or_init(|| std::env::var_os("TROUBADOUR_NO_AVX512").is_some());
        !disabled && avx2_fma() && std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Inside an `impl` of a processor with an `avx2: bool` field (set from [`avx2_fma`]
/// when it is built): defines `pub fn $name`, which runs the `#[inline(always)]` loop
/// `$any` compiled for AVX2 + FMA when `avx2` is set and as baseline code otherwise,
/// and `pub fn portable`, which makes a processor use the baseline build (to check that
/// both builds agree).
macro_rules! dispatch {
    (
        $(#[$doc:meta])*
        pub fn $name:ident(&mut self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
        avx2: $avx2:ident, any: $any:ident
    ) => {
        $(#[$doc])*
        pub fn $name(&mut self $(, $arg: $ty)*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if self.avx2 {
                // SAFETY: `avx2` is only set when `simd::avx2_fma` found AVX2 and FMA on
                // this CPU.
                return unsafe { self.$avx2($($arg),*) };
            }
            self.$any($($arg),*)
        }

        /// The same processor on the baseline build of its loop, whatever the CPU: for
        /// checking that both builds agree.
        pub fn portable(mut self) -> Self {
            self.avx2 = false;
            self
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn $avx2(&mut self $(, $arg: $ty)*) -> $ret {
            self.$any($($arg),*)
        }
    };
}

pub(crate) use dispatch;
