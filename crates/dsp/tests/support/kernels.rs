//! The kernels a test covers, mapped from the environment: the tests read
//! `TROUBADOUR_NO_AVX512`, never the library. Shared by the unit tests (`simd::testing`)
//! and the integration tests (`support::kernels`).
#![allow(dead_code)]

use super::{KernelChoice, Kernels};

/// Whether `TROUBADOUR_NO_AVX512` (any value) is set: the test script's second run,
/// which keeps to the AVX2 kernels on a machine with AVX-512.
pub fn no_avx512() -> bool {
    std::env::var_os("TROUBADOUR_NO_AVX512").is_some()
}

/// The choice for a test that does not compare kernels: at most AVX2 under
/// `TROUBADOUR_NO_AVX512`, else the best the CPU has.
pub fn default_choice() -> KernelChoice {
    if no_avx512() {
        KernelChoice::Avx2
    } else {
        KernelChoice::Best
    }
}

/// Every choice with kernels of its own on this CPU (see
/// [`KernelChoice::available`]), less AVX-512 under `TROUBADOUR_NO_AVX512`.
pub fn choices() -> Vec<KernelChoice> {
    KernelChoice::available()
        .into_iter()
        .filter(|&c| !(no_avx512() && Kernels::new(c).avx512().is_some()))
        .collect()
}

/// Reports on stderr which kernels (`"portable"`, `"avx2"`, `"avx512"`) `test` ran, of
/// those it covers (`covers`). Under `CI=true` it fails when one of those that this CPU
/// supports, and the environment allows, did not run: a CI machine must not skip a
/// kernel silently.
pub fn report(test: &str, ran: &[&str], covers: &[&str]) {
    let expected: Vec<&str> = choices()
        .into_iter()
        .map(|c| Kernels::new(c).name())
        .filter(|name| covers.contains(name))
        .collect();
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|name| !ran.contains(name))
        .collect();
    eprintln!("{test}: ran kernels {ran:?}; this CPU, as allowed, has {expected:?}");
    if std::env::var("CI").as_deref() == Ok("true") {
        assert!(
            missing.is_empty(),
            "{test}: kernels {missing:?} did not run (CI=true: none may be skipped)"
        );
    }
}

/// [`report`] for a test that ran each of `choices` (all three kernels it covers).
pub fn report_choices(test: &str, choices: &[KernelChoice]) {
    let ran: Vec<&str> = choices.iter().map(|&c| Kernels::new(c).name()).collect();
    report(test, &ran, &["portable", "avx2", "avx512"]);
}
