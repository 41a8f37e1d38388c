//! Run-time choice of instruction set.
//!
//! The crate is compiled for the baseline x86-64 (SSE2), so one binary runs anywhere.
//! The hot loops are written once, as plain Rust the compiler vectorises, and compiled a
//! second time with AVX2 and FMA enabled (`#[target_feature]`); a few have hand-written
//! AVX2 or AVX-512 kernels. Plain `a * b + c` is never fused by the compiler, so the
//! baseline and AVX2 builds of a generic loop give bit-identical results; only code that
//! asks for a fused multiply-add (the EQ's and the resampler's kernels) differs in the
//! last bits.
//!
//! Which kernels run is the caller's choice ([`KernelChoice`], by default the best the
//! CPU has), made when a processor is built. The arch-specific code is only reachable
//! through a token ([`Avx2Fma`], [`Avx512`]) that can only be had where the CPU has the
//! instructions: a processor holds the tokens its choice resolved to ([`Kernels`]) and
//! passes them to the kernels, so no safe call can run an instruction the CPU lacks.
//!
//! ```
//! use troubadour_dsp::simd::{KernelChoice, Kernels};
//!
//! let portable = Kernels::new(KernelChoice::Portable);
//! assert!(portable.avx2().is_none() && portable.avx512().is_none());
//! // What `Best` gives depends on the CPU; AVX-512 comes with AVX2.
//! let best = Kernels::new(KernelChoice::Best);
//! assert!(best.avx512().is_none() || best.avx2().is_some());
//! ```

/// Which kernels a processor may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum KernelChoice {
    /// The best the CPU has (detected at run time).
    #[default]
    Best,
    /// At most AVX2 and FMA: the AVX-512 kernels stay unused even where the CPU has
    /// them (to test or measure the AVX2 kernels on such a machine).
    Avx2,
    /// Baseline code only, whatever the CPU.
    Portable,
}

impl KernelChoice {
    /// The name used on command lines and in reports.
    pub fn name(self) -> &'static str {
        match self {
            KernelChoice::Best => "best",
            KernelChoice::Avx2 => "avx2",
            KernelChoice::Portable => "portable",
        }
    }

    /// Every choice that runs kernels of its own on this CPU, narrowest first:
    /// `Portable`, then `Avx2` where it has AVX2 and FMA, then `Best` where it has
    /// AVX-512 too. For tests and benchmarks that compare the kernels.
    pub fn available() -> Vec<KernelChoice> {
        let mut choices = vec![KernelChoice::Portable];
        if Avx2Fma::detect().is_some() {
            choices.push(KernelChoice::Avx2);
        }
        if Avx512::detect().is_some() {
            choices.push(KernelChoice::Best);
        }
        choices
    }
}

/// Proof that this CPU has AVX2 and FMA: the only way into the AVX2 kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Avx2Fma(());

impl Avx2Fma {
    /// The token, where this CPU has AVX2 and FMA. The standard library caches the answer
    /// after the first call, which executes `cpuid` (a trap to the hypervisor in a VM):
    /// ask when a processor is built, off the audio thread.
    pub fn detect() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Some(Avx2Fma(()));
        }
        None
    }

    /// The token without the check.
    ///
    /// # Safety
    ///
    /// The CPU the program runs on must have AVX2 and FMA.
    pub unsafe fn new_unchecked() -> Self {
        Avx2Fma(())
    }
}

/// Proof that this CPU has AVX-512F, AVX2 and FMA: the only way into the AVX-512 kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Avx512(());

impl Avx512 {
    /// The token, where this CPU has AVX-512F, AVX2 and FMA. Ask off the audio thread,
    /// like [`Avx2Fma::detect`].
    pub fn detect() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        if Avx2Fma::detect().is_some() && std::arch::is_x86_feature_detected!("avx512f") {
            return Some(Avx512(()));
        }
        None
    }

    /// The token without the check.
    ///
    /// # Safety
    ///
    /// The CPU the program runs on must have AVX-512F, AVX2 and FMA.
    pub unsafe fn new_unchecked() -> Self {
        Avx512(())
    }

    /// AVX-512 comes with AVX2 and FMA here ([`detect`](Self::detect) checks all three).
    pub fn avx2(self) -> Avx2Fma {
        Avx2Fma(())
    }
}

/// The kernels a [`KernelChoice`] resolved to on this CPU: the tokens a processor
/// passes to its kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernels {
    avx2: Option<Avx2Fma>,
    avx512: Option<Avx512>,
}

impl Kernels {
    /// Resolves `choice` on this CPU. Executes `cpuid` at the first call: off the audio
    /// thread.
    pub fn new(choice: KernelChoice) -> Self {
        let (avx2, avx512) = match choice {
            KernelChoice::Best => (Avx2Fma::detect(), Avx512::detect()),
            KernelChoice::Avx2 => (Avx2Fma::detect(), None),
            KernelChoice::Portable => (None, None),
        };
        Kernels { avx2, avx512 }
    }

    /// Baseline code only; no detection.
    pub const PORTABLE: Kernels = Kernels {
        avx2: None,
        avx512: None,
    };

    /// The AVX2 + FMA token, if this choice uses those kernels.
    pub fn avx2(self) -> Option<Avx2Fma> {
        self.avx2
    }

    /// The AVX-512 token, if this choice uses those kernels.
    pub fn avx512(self) -> Option<Avx512> {
        self.avx512
    }

    /// The widest kernels in use: `"avx512"`, `"avx2"` or `"portable"` (for reports).
    pub fn name(self) -> &'static str {
        match (self.avx512, self.avx2) {
            (Some(_), _) => "avx512",
            (None, Some(_)) => "avx2",
            (None, None) => "portable",
        }
    }
}

impl Default for Kernels {
    /// The best the CPU has.
    fn default() -> Self {
        Kernels::new(KernelChoice::Best)
    }
}

impl From<KernelChoice> for Kernels {
    fn from(choice: KernelChoice) -> Self {
        Kernels::new(choice)
    }
}

#[cfg(test)]
#[path = "../tests/support/kernels.rs"]
pub(crate) mod testing;

/// A build of a generic loop, as a type so that the loop is monomorphised for it: the
/// baseline ([`Baseline`]) or the AVX2 + FMA one ([`Avx2Fma`], which is also the token
/// that lets it run). Crate-private: only the crate's loops are compiled per build.
pub(crate) trait Build: Copy {
    /// The token, in the AVX2 + FMA build.
    fn avx2(self) -> Option<Avx2Fma>;
}

/// The baseline build.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Baseline;

impl Build for Baseline {
    #[inline(always)]
    fn avx2(self) -> Option<Avx2Fma> {
        None
    }
}

impl Build for Avx2Fma {
    #[inline(always)]
    fn avx2(self) -> Option<Avx2Fma> {
        Some(self)
    }
}

/// Inside an `impl` of a processor with a `kernels: Kernels` field: defines `pub fn
/// $name`, which runs the `#[inline(always)]` loop `$any` compiled for AVX2 + FMA where
/// the processor holds that token and as baseline code otherwise; `pub fn with_kernels`,
/// which sets the choice; and `pub fn portable`, its shorthand for the baseline build.
macro_rules! dispatch {
    (
        $(#[$doc:meta])*
        pub fn $name:ident(&mut self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
        avx2: $avx2:ident, any: $any:ident
    ) => {
        $(#[$doc])*
        pub fn $name(&mut self $(, $arg: $ty)*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if let Some(token) = self.kernels.avx2() {
                // SAFETY: `$avx2` needs AVX2 and FMA, which the token proves this CPU has.
                return unsafe { self.$avx2(token $(, $arg)*) };
            }
            self.$any($($arg),*)
        }

        /// The same processor on the kernels `choice` resolves to on this CPU (the
        /// default is [`KernelChoice::Best`](crate::simd::KernelChoice::Best)). Detects
        /// the CPU's features: call off the audio thread.
        pub fn with_kernels(mut self, choice: crate::simd::KernelChoice) -> Self {
            self.kernels = crate::simd::Kernels::new(choice);
            self
        }

        /// The same processor on the baseline build of its loop, whatever the CPU: for
        /// checking that both builds agree.
        pub fn portable(self) -> Self {
            self.with_kernels(crate::simd::KernelChoice::Portable)
        }

        /// The kernels this processor runs.
        pub fn kernels(&self) -> crate::simd::Kernels {
            self.kernels
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn $avx2(&mut self, _: crate::simd::Avx2Fma $(, $arg: $ty)*) -> $ret {
            self.$any($($arg),*)
        }
    };
}

pub(crate) use dispatch;
