//! Flush-to-zero for the audio thread.
//!
//! Denormal floats (magnitudes below ~1e-38) appear in decaying filter and envelope
//! states and cost up to a hundred times a normal operation on x86. Setting the FTZ
//! (flush results to zero) and DAZ (treat denormal inputs as zero) bits for the duration
//! of a callback removes them; the guard restores the caller's mode on drop, so a host
//! that shares the thread sees no change.

/// Sets flush-to-zero while alive, restores the previous mode on drop.
///
/// ```
/// use troubadour_rt::denormal::DenormalGuard;
///
/// let tiny = std::hint::black_box(1e-39f32); // a denormal
/// {
///     let _guard = DenormalGuard::new();
///     # #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
///     assert_eq!(std::hint::black_box(tiny * 0.5), 0.0);
/// }
/// assert!(std::hint::black_box(tiny * 0.5) > 0.0);
/// ```
#[derive(Debug)]
pub struct DenormalGuard {
    /// The mode belongs to this thread: restoring it on another would be wrong.
    _not_send: std::marker::PhantomData<*const ()>,
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64")),
        allow(dead_code)
    )]
    saved: u64,
}

impl DenormalGuard {
    /// Turns flush-to-zero on for this thread (a no-op on architectures not covered;
    /// there the DSP code's own guards against denormal build-up are the protection).
    #[inline]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let saved = read_mode();
        write_mode(saved | FLUSH_BITS);
        Self {
            _not_send: std::marker::PhantomData,
            saved,
        }
    }
}

impl Drop for DenormalGuard {
    #[inline]
    fn drop(&mut self) {
        write_mode(self.saved);
    }
}

#[cfg(target_arch = "x86_64")]
const FLUSH_BITS: u64 = 0x8040; // MXCSR: FTZ (bit 15) | DAZ (bit 6)
#[cfg(target_arch = "aarch64")]
const FLUSH_BITS: u64 = 1 << 24; // FPCR: FZ
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const FLUSH_BITS: u64 = 0;

#[cfg(target_arch = "x86_64")]
#[inline]
fn read_mode() -> u64 {
    let mut csr: u32 = 0;
    // SAFETY: `stmxcsr` stores the 32-bit SSE control register to the given address,
    // which points at a live, writable, aligned `u32`. SSE is baseline on x86_64.
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags)) };
    u64::from(csr)
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn write_mode(mode: u64) {
    let csr = mode as u32;
    // SAFETY: `ldmxcsr` loads the control register from a live, aligned `u32`; no
    // exception is unmasked, rounding is unchanged. A known, deliberate deviation: Rust
    // and LLVM assume the default floating-point environment, so with FTZ/DAZ set a
    // denormal intermediate may differ from what constant folding would give. For audio
    // that is the point (denormals are noise far below -700 dBFS) and it is what every
    // real-time audio host does; nothing here depends on denormal results.
    unsafe {
        std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly, preserves_flags))
    };
}

#[cfg(target_arch = "aarch64")]
#[inline]
fn read_mode() -> u64 {
    let fpcr: u64;
    // SAFETY: reading FPCR is allowed at EL0 and has no side effects.
    unsafe {
        std::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack, preserves_flags))
    };
    fpcr
}

#[cfg(target_arch = "aarch64")]
#[inline]
fn write_mode(mode: u64) {
    // SAFETY: writing FPCR is allowed at EL0; only the FZ bit differs from the value
    // read before. The same deliberate deviation from the default floating-point
    // environment as on x86_64 (see there).
    unsafe {
        std::arch::asm!("msr fpcr, {}", in(reg) mode, options(nomem, nostack, preserves_flags))
    };
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn read_mode() -> u64 {
    0
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn write_mode(_mode: u64) {}
